-- 0010_run_seals: anchored run heads (SPEC §6, §10).
--
-- The result chain (0001) covers result rows only, and whoever can write the
-- file can recompute it. From this version on, every run is sealed when it
-- finishes: its seal is a SHA-256 chained over the previous run's seal and a
-- digest of everything the run added to the tables a report is rendered from
-- (internal/ledger/seal.go lists them). The seal is the run's ledger head;
-- internal/anchor writes it outside the database, signed, and `ledger verify`
-- compares the two.

-- The ledger's identity: the origin line of its anchors, so that an anchor
-- of one ledger is never taken for another's. Made once, here.
CREATE TABLE ledger_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO ledger_meta (key, value) VALUES ('id', lower(hex(randomblob(16))));

-- One row per sealed run, in sealing order (seq 1, 2, 3, ...).
--   covers     canonical text of the components the seal covers, one line
--              each: "<name> <mark> <rows> sha256:<hex>" (seal.go)
--   prev_seal  the previous row's seal (32 zero bytes for the first)
--   seal       SHA-256(raw(prev_seal) || encoding enc of run_id and covers)
-- Runs finished before this migration are sealed by it (sealed_at is the
-- migration's time): their seals vouch for the ledger as it was then.
CREATE TABLE run_seals (
	seq       INTEGER PRIMARY KEY,
	run_id    INTEGER NOT NULL UNIQUE REFERENCES runs (id),
	enc       INTEGER NOT NULL,
	covers    TEXT    NOT NULL,
	prev_seal TEXT    NOT NULL,
	seal      TEXT    NOT NULL,
	sealed_at TEXT    NOT NULL
);
CREATE TRIGGER run_seals_no_update BEFORE UPDATE ON run_seals
BEGIN
	SELECT RAISE(ABORT, 'run seals are append-only');
END;
CREATE TRIGGER run_seals_no_delete BEFORE DELETE ON run_seals
BEGIN
	SELECT RAISE(ABORT, 'run seals are append-only');
END;

-- The anchor written for a sealed run (internal/anchor), kept here as well
-- as in files beside the ledger:
--   note       the checkpoint as a C2SP signed note (unsigned: the body alone)
--   bundle     a Sigstore bundle over the note body (keyless signing or a
--              transparency-log entry); empty when there is none
--   log_url    the transparency log the anchor was submitted to ('' = none)
--   log_index  its index there (-1 = not logged)
CREATE TABLE anchors (
	run_id     INTEGER PRIMARY KEY REFERENCES runs (id),
	note       TEXT    NOT NULL,
	bundle     BLOB    NOT NULL,
	log_url    TEXT    NOT NULL,
	log_index  INTEGER NOT NULL,
	created_at TEXT    NOT NULL
);
CREATE TRIGGER anchors_no_update BEFORE UPDATE ON anchors
BEGIN
	SELECT RAISE(ABORT, 'anchors are append-only');
END;
CREATE TRIGGER anchors_no_delete BEFORE DELETE ON anchors
BEGIN
	SELECT RAISE(ABORT, 'anchors are append-only');
END;
