package ledger

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
)

// Export writes the whole ledger to w as JSON Lines, from one consistent
// snapshot: one object per record, each with a "type" field, in this order
// — run (by id), walk, pointerVersion (by repo, ref, added time, path),
// result (by seq), bundle (by digest, with its verifications), checkpoint
// (by id), issue (by recipe, kind), issueOp (by id), seal (by sealing
// order), anchor (by run), archived (by id). Times are the stored
// UTC strings ("" for unknown); byte fields that are not necessarily JSON
// (pointer content, bundles, statements, checkpoint roots) are base64.
// Result rows carry enc, prevHash and hash, so the chain can be recomputed
// from an export alone (phases and checks are the hashed JSON text).
func (d *DB) Export(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err := d.read(ctx, func(tx *sql.Tx) error {
		for _, step := range []func(context.Context, *sql.Tx, *json.Encoder) error{
			exportRunsTx, exportWalksTx, exportPointerVersionsTx, exportResultsTx,
			exportRunInputsTx, exportRunRecipesTx,
			exportBundlesTx, exportCheckpointsTx, exportIssuesTx, exportIssueOpsTx,
			exportSealsTx, exportAnchorsTx, exportArchivedTx,
		} {
			if err := step(ctx, tx, enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export ledger: %w", err)
	}
	return nil
}

// each runs q and calls fn for every row.
func each(ctx context.Context, tx *sql.Tx, q string, fn func(scanner) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

type exportRun struct {
	Type            string `json:"type"`
	ID              int64  `json:"id"`
	Repo            string `json:"repo"`
	Ref             string `json:"ref"`
	Commit          string `json:"commit"`
	AsOf            string `json:"asOf"`
	TrustRoot       string `json:"trustRoot"`
	VerifierVersion string `json:"verifierVersion"`
	Deep            bool   `json:"deep"`
	Options         string `json:"options"`
	StartedAt       string `json:"startedAt"`
	StartSeq        int64  `json:"startSeq"`
	StartHead       string `json:"startHead"`
	FinishedAt      string `json:"finishedAt"`
	Complete        bool   `json:"complete"`
	HeadSeq         int64  `json:"headSeq"`
	LedgerHead      string `json:"ledgerHead"`
	Kind            string `json:"kind"`
}

func exportRunsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT `+runColumns+` FROM runs ORDER BY id`, func(s scanner) error {
		r := exportRun{Type: "run"}
		var deep, complete int
		if err := s.Scan(&r.ID, &r.Repo, &r.Ref, &r.Commit, &r.AsOf, &r.TrustRoot, &r.VerifierVersion, &deep, &r.Options,
			&r.StartedAt, &r.StartSeq, &r.StartHead, &r.FinishedAt, &complete, &r.HeadSeq, &r.LedgerHead, &r.Kind); err != nil {
			return err
		}
		r.Deep, r.Complete = deep == 1, complete == 1
		return enc.Encode(r)
	})
}

type exportWalk struct {
	Type     string `json:"type"`
	RepoKey  string `json:"repoKey"`
	Ref      string `json:"ref"`
	Head     string `json:"head"`
	Full     bool   `json:"full"`
	WalkedAt string `json:"walkedAt"`
}

func exportWalksTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT repo_key, ref, head_commit, full_walk, walked_at FROM walks ORDER BY repo_key, ref`,
		func(s scanner) error {
			w := exportWalk{Type: "walk"}
			var full int
			if err := s.Scan(&w.RepoKey, &w.Ref, &w.Head, &full, &w.WalkedAt); err != nil {
				return err
			}
			w.Full = full == 1
			return enc.Encode(w)
		})
}

type exportPointerVersion struct {
	Type          string `json:"type"`
	RepoKey       string `json:"repoKey"`
	Ref           string `json:"ref"`
	Path          string `json:"path"`
	AddedCommit   string `json:"addedCommit"`
	AddedAt       string `json:"addedAt"`
	RemovedCommit string `json:"removedCommit"`
	RemovedAt     string `json:"removedAt"`
	Unreachable   bool   `json:"unreachable"`
	Blob          string `json:"blob"`
	Content       []byte `json:"content"`
	TooLarge      bool   `json:"tooLarge"`
}

func exportPointerVersionsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT repo_key, ref, path, added_commit, added_at, removed_commit, removed_at, unreachable, blob, content, too_large
		FROM pointer_versions ORDER BY repo_key, ref, added_at, path, id`, func(s scanner) error {
		p := exportPointerVersion{Type: "pointerVersion"}
		var unreachable int
		if err := s.Scan(&p.RepoKey, &p.Ref, &p.Path, &p.AddedCommit, &p.AddedAt, &p.RemovedCommit, &p.RemovedAt,
			&unreachable, &p.Blob, &p.Content, &p.TooLarge); err != nil {
			return err
		}
		p.Unreachable = unreachable == 1
		return enc.Encode(p)
	})
}

type exportResult struct {
	Type             string          `json:"type"`
	Seq              int64           `json:"seq"`
	RunID            int64           `json:"runId"`
	Path             string          `json:"path"`
	AddedCommit      string          `json:"addedCommit"`
	Recipe           string          `json:"recipe"`
	Verdict          string          `json:"verdict"`
	Class            string          `json:"class"`
	Detail           string          `json:"detail"`
	Hint             string          `json:"hint"`
	VerifiedVia      string          `json:"verifiedVia"`
	BundleDigest     string          `json:"bundleDigest"`
	RekorLogIndex    int64           `json:"rekorLogIndex"`
	AttestedAt       string          `json:"attestedAt"`
	AttestedAtSource string          `json:"attestedAtSource"`
	Age              string          `json:"age"`
	Phases           json.RawMessage `json:"phases"`
	Checks           json.RawMessage `json:"checks"`
	Deep             bool            `json:"deep"`
	CheckedAt        string          `json:"checkedAt"`
	Enc              int             `json:"enc"`
	PrevHash         string          `json:"prevHash"`
	Hash             string          `json:"hash"`
}

// rawOrNull embeds stored JSON as is; "" is null, and text that is not
// JSON (a damaged row) is exported as a JSON string rather than failing
// the export of the ledger one most wants to inspect.
func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	if !json.Valid([]byte(s)) {
		b, _ := json.Marshal(s)
		return b
	}
	return json.RawMessage(s)
}

func exportResultsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT `+resultColumns+` FROM results ORDER BY seq`, func(s scanner) error {
		r, err := scanResultRow(s)
		if err != nil {
			return err
		}
		return enc.Encode(exportResult{
			Type: "result", Seq: r.Seq, RunID: r.RunID, Path: r.Path, AddedCommit: r.AddedCommit, Recipe: r.Recipe,
			Verdict: r.Verdict, Class: r.Class, Detail: r.Detail, Hint: r.Hint, VerifiedVia: r.Via,
			BundleDigest: r.BundleDigest, RekorLogIndex: r.RekorLogIndex, AttestedAt: r.AttestedAt,
			AttestedAtSource: r.AttestedAtSource, Age: r.Age, Phases: rawOrNull(r.Phases), Checks: rawOrNull(r.Checks),
			Deep: r.Deep, CheckedAt: r.CheckedAt, Enc: r.Enc, PrevHash: r.PrevHash, Hash: r.Hash,
		})
	})
}

type exportBundle struct {
	Type            string                     `json:"type"`
	Digest          string                     `json:"digest"`
	CreatedAt       string                     `json:"createdAt"`
	BundleSHA256    string                     `json:"bundleSha256"`
	StatementSHA256 string                     `json:"statementSha256"`
	SigstoreBundle  []byte                     `json:"sigstoreBundle"`
	Statement       []byte                     `json:"statement"`
	Verifications   []exportBundleVerification `json:"verifications"`
}

type exportBundleVerification struct {
	TrustRoot       string `json:"trustRoot"`
	VerifierVersion string `json:"verifierVersion"`
	VerifiedAt      string `json:"verifiedAt"`
	LogIndex        int64  `json:"logIndex"`
	IntegratedTime  string `json:"integratedTime"`
	BundleSHA256    string `json:"bundleSha256"`
	LayerDigest     string `json:"layerDigest"`
	ReferrerDigest  string `json:"referrerDigest"`
	OCI             string `json:"oci"`
}

func exportBundlesTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	var bundles []exportBundle
	err := each(ctx, tx, `SELECT digest, created_at, bundle_sha256, statement_sha256, sigstore_bundle, statement
		FROM bundles ORDER BY digest`, func(s scanner) error {
		b := exportBundle{Type: "bundle", Verifications: []exportBundleVerification{}}
		if err := s.Scan(&b.Digest, &b.CreatedAt, &b.BundleSHA256, &b.StatementSHA256, &b.SigstoreBundle, &b.Statement); err != nil {
			return err
		}
		bundles = append(bundles, b)
		return nil
	})
	if err != nil {
		return err
	}
	idx := make(map[string]int, len(bundles))
	for i, b := range bundles {
		idx[b.Digest] = i
	}
	err = each(ctx, tx, `SELECT digest, trust_root, verifier_version, verified_at, log_index, integrated_time, bundle_sha256,
			layer_digest, referrer_digest, oci
		FROM bundle_verifications ORDER BY digest, id`, func(s scanner) error {
		var digest string
		var v exportBundleVerification
		if err := s.Scan(&digest, &v.TrustRoot, &v.VerifierVersion, &v.VerifiedAt, &v.LogIndex, &v.IntegratedTime, &v.BundleSHA256,
			&v.LayerDigest, &v.ReferrerDigest, &v.OCI); err != nil {
			return err
		}
		if i, ok := idx[digest]; ok {
			bundles[i].Verifications = append(bundles[i].Verifications, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range bundles {
		if err := enc.Encode(b); err != nil {
			return err
		}
	}
	return nil
}

type exportCheckpoint struct {
	Type     string `json:"type"`
	LogID    string `json:"logId"`
	TreeSize int64  `json:"treeSize"`
	RootHash []byte `json:"rootHash"`
	Raw      string `json:"raw"`
	SeenAt   string `json:"seenAt"`
	RunID    int64  `json:"runId"`
}

func exportCheckpointsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT log_id, tree_size, root_hash, raw, seen_at, coalesce(run_id, 0) FROM checkpoints ORDER BY id`,
		func(s scanner) error {
			c := exportCheckpoint{Type: "checkpoint"}
			if err := s.Scan(&c.LogID, &c.TreeSize, &c.RootHash, &c.Raw, &c.SeenAt, &c.RunID); err != nil {
				return err
			}
			return enc.Encode(c)
		})
}

type exportIssue struct {
	Type        string          `json:"type"`
	Recipe      string          `json:"recipe"`
	Kind        string          `json:"kind"`
	Number      int             `json:"number"`
	URL         string          `json:"url"`
	State       string          `json:"state"`
	Fingerprint string          `json:"fingerprint"`
	UpdatedAt   string          `json:"updatedAt"`
	RoutedVia   string          `json:"routedVia"`
	Assignees   json.RawMessage `json:"assignees"`
	Condition   string          `json:"condition"`
}

func exportIssuesTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT recipe, kind, number, url, state, fingerprint, updated_at, routed_via, assignees, condition
		FROM issues ORDER BY recipe, kind`,
		func(s scanner) error {
			is := exportIssue{Type: "issue"}
			var assignees string
			if err := s.Scan(&is.Recipe, &is.Kind, &is.Number, &is.URL, &is.State, &is.Fingerprint, &is.UpdatedAt,
				&is.RoutedVia, &assignees, &is.Condition); err != nil {
				return err
			}
			is.Assignees = rawOrNull(assignees)
			return enc.Encode(is)
		})
}

type exportIssueOp struct {
	Type      string `json:"type"`
	OpID      string `json:"opId"`
	RunID     int64  `json:"runId"`
	Recipe    string `json:"recipe"`
	Kind      string `json:"kind"`
	Action    string `json:"action"`
	State     string `json:"state"`
	Error     string `json:"error"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
	Number    int    `json:"number"`
	Attempts  int    `json:"attempts"`
}

func exportIssueOpsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT op_id, coalesce(run_id, 0), recipe, kind, action, state, error, created_at, updated_at, number, attempts
		FROM issue_ops ORDER BY id`, func(s scanner) error {
		op := exportIssueOp{Type: "issueOp"}
		if err := s.Scan(&op.OpID, &op.RunID, &op.Recipe, &op.Kind, &op.Action, &op.State, &op.Error, &op.CreatedAt, &op.UpdatedAt,
			&op.Number, &op.Attempts); err != nil {
			return err
		}
		return enc.Encode(op)
	})
}

type exportRunInput struct {
	Type        string `json:"type"`
	RunID       int64  `json:"runId"`
	EvidenceDir string `json:"evidenceDir"`
	Allowlist   []byte `json:"allowlist"`
	Archive     string `json:"archive"`
}

func exportRunInputsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT run_id, evidence_dir, allowlist, archive FROM run_inputs ORDER BY run_id`, func(s scanner) error {
		in := exportRunInput{Type: "runInput"}
		if err := s.Scan(&in.RunID, &in.EvidenceDir, &in.Allowlist, &in.Archive); err != nil {
			return err
		}
		return enc.Encode(in)
	})
}

type exportRunRecipe struct {
	Type               string          `json:"type"`
	RunID              int64           `json:"runId"`
	Recipe             string          `json:"recipe"`
	NeedsRecert        bool            `json:"needsRecert"`
	Reason             string          `json:"reason"`
	Undetermined       bool            `json:"undetermined"`
	FreshestPath       string          `json:"freshestPath"`
	FreshestCommit     string          `json:"freshestCommit"`
	FreshestAttestedAt string          `json:"freshestAttestedAt"`
	FreshestAge        string          `json:"freshestAge"`
	LivePointers       int             `json:"livePointers"`
	Lost               json.RawMessage `json:"lost"`
}

func exportRunRecipesTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT run_id, recipe, needs_recert, reason, undetermined, freshest_path, freshest_commit,
			freshest_attested_at, freshest_age, live_pointers, lost
		FROM run_recipes ORDER BY run_id, recipe`, func(s scanner) error {
		r := exportRunRecipe{Type: "runRecipe"}
		var needs, undet int
		var lost string
		if err := s.Scan(&r.RunID, &r.Recipe, &needs, &r.Reason, &undet, &r.FreshestPath, &r.FreshestCommit,
			&r.FreshestAttestedAt, &r.FreshestAge, &r.LivePointers, &lost); err != nil {
			return err
		}
		r.NeedsRecert, r.Undetermined, r.Lost = needs == 1, undet == 1, rawOrNull(lost)
		return enc.Encode(r)
	})
}

type exportSeal struct {
	Type     string `json:"type"`
	Seq      int64  `json:"seq"`
	RunID    int64  `json:"runId"`
	Enc      int    `json:"enc"`
	Covers   string `json:"covers"`
	PrevSeal string `json:"prevSeal"`
	Seal     string `json:"seal"`
	SealedAt string `json:"sealedAt"`
}

func exportSealsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT seq, run_id, enc, covers, prev_seal, seal, sealed_at FROM run_seals ORDER BY seq`, func(s scanner) error {
		e := exportSeal{Type: "seal"}
		if err := s.Scan(&e.Seq, &e.RunID, &e.Enc, &e.Covers, &e.PrevSeal, &e.Seal, &e.SealedAt); err != nil {
			return err
		}
		return enc.Encode(e)
	})
}

type exportAnchor struct {
	Type      string `json:"type"`
	RunID     int64  `json:"runId"`
	Note      string `json:"note"`
	Bundle    []byte `json:"bundle"`
	LogURL    string `json:"logUrl"`
	LogIndex  int64  `json:"logIndex"`
	CreatedAt string `json:"createdAt"`
}

func exportAnchorsTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT run_id, note, bundle, log_url, log_index, created_at FROM anchors ORDER BY run_id`, func(s scanner) error {
		a := exportAnchor{Type: "anchor"}
		if err := s.Scan(&a.RunID, &a.Note, &a.Bundle, &a.LogURL, &a.LogIndex, &a.CreatedAt); err != nil {
			return err
		}
		return enc.Encode(a)
	})
}

type exportArchived struct {
	Type           string          `json:"type"`
	Digest         string          `json:"digest"`
	Store          string          `json:"store"`
	SignatureKind  string          `json:"signatureKind"`
	ReferrerDigest string          `json:"referrerDigest"`
	Objects        json.RawMessage `json:"objects"`
	Bytes          int64           `json:"bytes"`
	ArchivedAt     string          `json:"archivedAt"`
	RunID          *int64          `json:"runId"`
}

// exportArchivedTx writes the archive records (SPEC §9), by id.
func exportArchivedTx(ctx context.Context, tx *sql.Tx, enc *json.Encoder) error {
	return each(ctx, tx, `SELECT digest, store, signature_kind, referrer_digest, objects, bytes, archived_at, run_id
		FROM archived_bundles ORDER BY id`, func(s scanner) error {
		a := exportArchived{Type: "archived"}
		var objs string
		var run sql.NullInt64
		if err := s.Scan(&a.Digest, &a.Store, &a.SignatureKind, &a.ReferrerDigest, &objs, &a.Bytes, &a.ArchivedAt, &run); err != nil {
			return err
		}
		a.Objects = rawOrNull(objs)
		if run.Valid {
			a.RunID = &run.Int64
		}
		return enc.Encode(a)
	})
}
