-- The fast path probes a pointer's bundle without re-reading the pointer
-- file (its bytes never change for a given path and merge commit); it needs
-- the OCI locator the verification fetched from.
ALTER TABLE bundle_verifications ADD COLUMN oci TEXT NOT NULL DEFAULT '';
