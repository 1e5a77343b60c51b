-- A pointer file over the size limit is recorded without its content; the
-- flag keeps that reason, so that `run` and reports say "too large" as
-- `list` does, rather than "empty pointer".
ALTER TABLE pointer_versions ADD COLUMN too_large INTEGER NOT NULL DEFAULT 0 CHECK (too_large IN (0, 1));
