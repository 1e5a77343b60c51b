-- The fast path (DESIGN "fast path") probes the manifest, its layer and the
-- signature's manifest without downloading them; it needs to know the last
-- two digests from the verification that established them.
ALTER TABLE bundle_verifications ADD COLUMN layer_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE bundle_verifications ADD COLUMN referrer_digest TEXT NOT NULL DEFAULT '';
