-- The archive (SPEC §9): the auditor's own digest-preserving copies of the
-- bundles it verified healthy. One row per bundle and archive store, written
-- only after the store wrote and checked every object and made the copy
-- visible (write, verify, then record), so a row always names a complete
-- copy. Rows are never updated or deleted; a store that is replaced (a new
-- archive.dir or archive.url) gets rows of its own.
--   store            the store's name: oci-layout:<dir> or oci:<repository>
--   signature_kind   sigstore-bundle | cosign-legacy
--   referrer_digest  the manifest carrying the archived signature
--   objects          JSON array of {digest, mediaType, size, manifest}, the
--                    summary's manifest, config and layer, then the
--                    signature's manifest, config and layers
--   bytes            their total size, each digest counted once
--   run_id           the run that archived it; NULL for `archive backfill`
CREATE TABLE archived_bundles (
	id              INTEGER PRIMARY KEY,
	digest          TEXT    NOT NULL,
	store           TEXT    NOT NULL,
	signature_kind  TEXT    NOT NULL,
	referrer_digest TEXT    NOT NULL,
	objects         TEXT    NOT NULL,
	bytes           INTEGER NOT NULL,
	archived_at     TEXT    NOT NULL,
	run_id          INTEGER REFERENCES runs (id),
	UNIQUE (digest, store)
);
CREATE TRIGGER archived_bundles_no_update BEFORE UPDATE ON archived_bundles
BEGIN
	SELECT RAISE(ABORT, 'archived_bundles are append-only');
END;
CREATE TRIGGER archived_bundles_no_delete BEFORE DELETE ON archived_bundles
BEGIN
	SELECT RAISE(ABORT, 'archived_bundles are append-only');
END;

-- The archive store a run used ('' when the archive was disabled, and for
-- runs recorded before this migration), so that a report can tell a healthy
-- bundle waiting to be archived (pending) from one that never will be.
ALTER TABLE run_inputs ADD COLUMN archive TEXT NOT NULL DEFAULT '';
