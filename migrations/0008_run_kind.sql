-- A what-if run (`run --as-of`) asks what an audit at another time would
-- conclude: it is recorded, but it is never the latest run, never the
-- baseline of a report's changes, never resumed by a plain run, and its
-- issue plan is never sent (SPEC §4).
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'audit' CHECK (kind IN ('audit', 'what-if'));
