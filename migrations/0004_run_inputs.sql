-- What a run read besides the pointers, so a report rendered from the ledger
-- alone describes pointers as the run saw them: the evidence directory (for
-- layouts and placement) and the allowlist at the walked head (for signer
-- classes).
CREATE TABLE run_inputs (
	run_id       INTEGER PRIMARY KEY REFERENCES runs (id),
	evidence_dir TEXT NOT NULL,
	allowlist    BLOB NOT NULL -- empty when the repository had none
);
