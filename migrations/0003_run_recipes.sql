-- Each run's per-recipe re-certification status (SPEC §3), derived from its
-- results and the inventory it walked, kept so that a report months later
-- shows the run as it was. Derived data: not part of the hash chain, which
-- covers the results it is computed from.
CREATE TABLE run_recipes (
	run_id               INTEGER NOT NULL REFERENCES runs (id),
	recipe               TEXT    NOT NULL,
	needs_recert         INTEGER NOT NULL,
	reason               TEXT    NOT NULL,
	undetermined         INTEGER NOT NULL,
	freshest_path        TEXT    NOT NULL,
	freshest_commit      TEXT    NOT NULL,
	freshest_attested_at TEXT    NOT NULL,
	freshest_age         TEXT    NOT NULL,
	live_pointers        INTEGER NOT NULL,
	lost                 TEXT    NOT NULL, -- JSON list of {path, addedCommit}
	PRIMARY KEY (run_id, recipe)
);
