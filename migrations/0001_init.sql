-- 0001_init: the first ledger schema (SPEC §6, DESIGN step 4).
--
-- Times are TEXT in UTC with a fixed-width layout
-- (2006-01-02T15:04:05.000000000Z) so that they sort as strings; '' means
-- unknown. Booleans are INTEGER 0/1.

-- Inventory: the last walked commit per repository and ref.
CREATE TABLE walks (
	repo_key    TEXT    NOT NULL,
	ref         TEXT    NOT NULL,
	head_commit TEXT    NOT NULL,
	full_walk   INTEGER NOT NULL CHECK (full_walk IN (0, 1)),
	walked_at   TEXT    NOT NULL,
	PRIMARY KEY (repo_key, ref)
);

-- Every pointer version ever merged on a walked ref. Rows are never deleted:
-- results name them, so a version dropped by a rewritten history is only
-- marked unreachable.
CREATE TABLE pointer_versions (
	id             INTEGER PRIMARY KEY,
	repo_key       TEXT    NOT NULL,
	ref            TEXT    NOT NULL,
	path           TEXT    NOT NULL,
	added_commit   TEXT    NOT NULL,
	blob           TEXT    NOT NULL,
	content        BLOB    NOT NULL,
	added_at       TEXT    NOT NULL,
	removed_commit TEXT    NOT NULL DEFAULT '',
	removed_at     TEXT    NOT NULL DEFAULT '',
	unreachable    INTEGER NOT NULL DEFAULT 0 CHECK (unreachable IN (0, 1)),
	UNIQUE (repo_key, ref, path, added_commit)
);
CREATE INDEX pointer_versions_order ON pointer_versions (repo_key, ref, added_at, path);

-- Audit runs. finished_at = '' while the run is in progress (or was killed).
-- start_seq/start_head: the result chain head when the run began;
-- head_seq/ledger_head: the head when it finished, so that `ledger verify`
-- can detect a truncated tail.
CREATE TABLE runs (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	repo             TEXT    NOT NULL,
	ref              TEXT    NOT NULL,
	commit_id        TEXT    NOT NULL,
	as_of            TEXT    NOT NULL,
	trust_root       TEXT    NOT NULL,
	verifier_version TEXT    NOT NULL,
	deep             INTEGER NOT NULL CHECK (deep IN (0, 1)),
	options          TEXT    NOT NULL,
	started_at       TEXT    NOT NULL,
	start_seq        INTEGER NOT NULL,
	start_head       TEXT    NOT NULL,
	finished_at      TEXT    NOT NULL DEFAULT '',
	complete         INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
	head_seq         INTEGER NOT NULL DEFAULT 0,
	ledger_head      TEXT    NOT NULL DEFAULT ''
);

-- Results: append-only and hash-chained over seq (1, 2, 3, ...).
-- hash = SHA-256(raw(prev_hash) || canonical encoding `enc` of the row);
-- see internal/ledger/chain.go. phases and checks hold the JSON exactly as
-- hashed ('' for none).
CREATE TABLE results (
	seq                INTEGER PRIMARY KEY,
	run_id             INTEGER NOT NULL REFERENCES runs (id),
	path               TEXT    NOT NULL,
	added_commit       TEXT    NOT NULL,
	recipe             TEXT    NOT NULL,
	verdict            TEXT    NOT NULL,
	class              TEXT    NOT NULL,
	detail             TEXT    NOT NULL,
	hint               TEXT    NOT NULL,
	via                TEXT    NOT NULL,
	bundle_digest      TEXT    NOT NULL,
	rekor_log_index    INTEGER NOT NULL,
	attested_at        TEXT    NOT NULL,
	attested_at_source TEXT    NOT NULL,
	age                TEXT    NOT NULL,
	phases             TEXT    NOT NULL,
	checks             TEXT    NOT NULL,
	deep               INTEGER NOT NULL CHECK (deep IN (0, 1)),
	checked_at         TEXT    NOT NULL,
	enc                INTEGER NOT NULL,
	prev_hash          TEXT    NOT NULL,
	hash               TEXT    NOT NULL,
	UNIQUE (run_id, path, added_commit)
);
CREATE INDEX results_key ON results (path, added_commit, seq);

-- Defence in depth: the program never updates or deletes results. Dropping
-- these triggers is possible for anyone with write access to the file; the
-- hash chain is what detects that.
CREATE TRIGGER results_no_update BEFORE UPDATE ON results
BEGIN
	SELECT RAISE(ABORT, 'results are append-only');
END;
CREATE TRIGGER results_no_delete BEFORE DELETE ON results
BEGIN
	SELECT RAISE(ABORT, 'results are append-only');
END;

-- Bundle cache (SPEC §6): the first copy of every Sigstore bundle and
-- statement ever verified, keyed by the OCI manifest digest. Never replaced.
CREATE TABLE bundles (
	digest           TEXT PRIMARY KEY,
	sigstore_bundle  BLOB    NOT NULL,
	statement        BLOB    NOT NULL,
	bundle_sha256    TEXT    NOT NULL,
	statement_sha256 TEXT    NOT NULL,
	created_at       TEXT    NOT NULL
);

-- Every verification of a cached bundle, append-only. The newest row is what
-- the fast path compares (trust root, verifier version, verified_at).
CREATE TABLE bundle_verifications (
	id               INTEGER PRIMARY KEY,
	digest           TEXT    NOT NULL REFERENCES bundles (digest),
	trust_root       TEXT    NOT NULL,
	verifier_version TEXT    NOT NULL,
	verified_at      TEXT    NOT NULL,
	log_index        INTEGER NOT NULL,
	integrated_time  TEXT    NOT NULL,
	bundle_sha256    TEXT    NOT NULL
);
CREATE INDEX bundle_verifications_digest ON bundle_verifications (digest, id);

-- Transparency-log checkpoints seen, so a log that rewinds or forks between
-- audits is caught. Two rows with the same size and different roots are a fork.
CREATE TABLE checkpoints (
	id        INTEGER PRIMARY KEY,
	log_id    TEXT    NOT NULL,
	tree_size INTEGER NOT NULL,
	root_hash BLOB    NOT NULL,
	raw       TEXT    NOT NULL,
	seen_at   TEXT    NOT NULL,
	run_id    INTEGER REFERENCES runs (id),
	UNIQUE (log_id, tree_size, root_hash)
);
CREATE INDEX checkpoints_latest ON checkpoints (log_id, tree_size, seen_at);

-- Issue map (SPEC §7): one issue per (recipe, kind).
CREATE TABLE issues (
	recipe      TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	number      INTEGER NOT NULL,
	url         TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL,
	updated_at  TEXT    NOT NULL,
	PRIMARY KEY (recipe, kind)
);

-- Journal of issue operations, written before an operation is sent so that
-- one that could not be sent is retried next run (SPEC §7).
CREATE TABLE issue_ops (
	id         INTEGER PRIMARY KEY,
	op_id      TEXT    NOT NULL UNIQUE,
	run_id     INTEGER REFERENCES runs (id),
	recipe     TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	state      TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
	error      TEXT    NOT NULL DEFAULT '',
	created_at TEXT    NOT NULL,
	updated_at TEXT    NOT NULL
);
CREATE INDEX issue_ops_state ON issue_ops (state, id);

-- Cross-process run lock (SPEC §8), used by the daemon.
CREATE TABLE lease (
	name        TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	acquired_at TEXT NOT NULL,
	expires_at  TEXT NOT NULL
);
