package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BundleRecord is a cached Sigstore bundle (SPEC §6) and its latest
// verification.
type BundleRecord struct {
	Digest          string // sha256:<hex> OCI manifest digest of the summary bundle
	SigstoreBundle  []byte // the Sigstore bundle JSON as first verified
	Statement       []byte // the in-toto statement as first verified
	TrustRoot       string // sha256:<hex> of the trusted root of the latest verification
	VerifierVersion string // of the latest verification
	VerifiedAt      time.Time
	LogIndex        int64 // transparency log index; -1 when unknown
	IntegratedTime  time.Time
	// LayerDigest and ReferrerDigest are what the fast path probes: the
	// summary's layer and the manifest that carried the signature.
	LayerDigest    string
	ReferrerDigest string
	// OCI is the locator the verification fetched from (the fast path's
	// probe target).
	OCI string

	// FirstVerifiedAt is when the cached copy was stored (read-only; set by Bundle).
	FirstVerifiedAt time.Time
	// Verifications is how many verifications were recorded (read-only; set by Bundle).
	Verifications int
}

// PutBundle records a verification of a bundle. The first copy of the
// bundle and statement stored for a digest is kept forever, never replaced;
// every call appends a verification (trust root, verifier version, time,
// log entry, and the hash of the bytes it saw, so a differing later copy is
// visible).
func (d *DB) PutBundle(ctx context.Context, b BundleRecord) error {
	if err := d.write(ctx, func(tx *sql.Tx) error { return d.putBundleTx(ctx, tx, b) }); err != nil {
		return fmt.Errorf("put bundle %s: %w", b.Digest, err)
	}
	return nil
}

func (d *DB) putBundleTx(ctx context.Context, tx execer, b BundleRecord) error {
	if !strings.HasPrefix(b.Digest, "sha256:") || len(b.SigstoreBundle) == 0 {
		return fmt.Errorf("%w: digest sha256:<hex> and bundle bytes are required", ErrInvalid)
	}
	if b.VerifiedAt.IsZero() {
		b.VerifiedAt = d.now()
	}
	bundleSum := sha256Hex(b.SigstoreBundle)
	stmt := b.Statement
	if stmt == nil {
		stmt = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO bundles
		(digest, sigstore_bundle, statement, bundle_sha256, statement_sha256, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
		b.Digest, b.SigstoreBundle, stmt, bundleSum, sha256Hex(stmt), fmtTime(b.VerifiedAt)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO bundle_verifications
		(digest, trust_root, verifier_version, verified_at, log_index, integrated_time, bundle_sha256,
		 layer_digest, referrer_digest, oci)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Digest, b.TrustRoot, b.VerifierVersion, fmtTime(b.VerifiedAt), b.LogIndex, fmtTime(b.IntegratedTime), bundleSum,
		b.LayerDigest, b.ReferrerDigest, b.OCI)
	return err
}

// Bundle returns the cached bundle for digest with its latest verification;
// ok is false when none is cached.
func (d *DB) Bundle(ctx context.Context, digest string) (rec *BundleRecord, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var b BundleRecord
		var created, verified, integrated string
		e := tx.QueryRowContext(ctx, `SELECT b.digest, b.sigstore_bundle, b.statement, b.created_at,
				v.trust_root, v.verifier_version, v.verified_at, v.log_index, v.integrated_time,
				v.layer_digest, v.referrer_digest, v.oci,
				(SELECT count(*) FROM bundle_verifications WHERE digest = b.digest)
			FROM bundles b JOIN bundle_verifications v ON v.digest = b.digest
			WHERE b.digest = ? ORDER BY v.id DESC LIMIT 1`, digest).Scan(
			&b.Digest, &b.SigstoreBundle, &b.Statement, &created,
			&b.TrustRoot, &b.VerifierVersion, &verified, &b.LogIndex, &integrated,
			&b.LayerDigest, &b.ReferrerDigest, &b.OCI, &b.Verifications)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		if e != nil {
			return e
		}
		if b.FirstVerifiedAt, e = parseTime(created); e != nil {
			return e
		}
		if b.VerifiedAt, e = parseTime(verified); e != nil {
			return e
		}
		if b.IntegratedTime, e = parseTime(integrated); e != nil {
			return e
		}
		rec, ok = &b, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("bundle %s: %w", digest, err)
	}
	return rec, ok, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Checkpoint is a signed transparency-log checkpoint as seen by a run.
type Checkpoint struct {
	LogID    string // the log's identifier (origin or key id)
	TreeSize int64
	RootHash []byte
	Raw      string // the signed note as received
	SeenAt   time.Time
	RunID    int64 // 0 when not seen by a run
}

// PutCheckpoint records a checkpoint; storing the same (log, size, root)
// again is a no-op. A second root for a size already seen is stored too: it
// is evidence of a forked log, for the caller to judge.
func (d *DB) PutCheckpoint(ctx context.Context, c Checkpoint) error {
	if c.LogID == "" || c.TreeSize < 0 || len(c.RootHash) == 0 {
		return fmt.Errorf("put checkpoint: %w: log id, size and root hash are required", ErrInvalid)
	}
	if c.SeenAt.IsZero() {
		c.SeenAt = d.now()
	}
	var run any
	if c.RunID != 0 {
		run = c.RunID
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (log_id, tree_size, root_hash, raw, seen_at, run_id)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (log_id, tree_size, root_hash) DO NOTHING`,
			c.LogID, c.TreeSize, c.RootHash, c.Raw, fmtTime(c.SeenAt), run)
		return err
	})
	if err != nil {
		return fmt.Errorf("put checkpoint %s@%d: %w", c.LogID, c.TreeSize, err)
	}
	return nil
}

// LatestCheckpoint returns the largest checkpoint recorded for logID (the
// first seen, for equal sizes); ok is false when none is recorded.
func (d *DB) LatestCheckpoint(ctx context.Context, logID string) (c Checkpoint, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var seen string
		var run sql.NullInt64
		e := tx.QueryRowContext(ctx, `SELECT log_id, tree_size, root_hash, raw, seen_at, run_id FROM checkpoints
			WHERE log_id = ? ORDER BY tree_size DESC, id ASC LIMIT 1`, logID).Scan(
			&c.LogID, &c.TreeSize, &c.RootHash, &c.Raw, &seen, &run)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		if e != nil {
			return e
		}
		c.RunID = run.Int64
		if c.SeenAt, e = parseTime(seen); e != nil {
			return e
		}
		ok = true
		return nil
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("latest checkpoint %s: %w", logID, err)
	}
	return c, ok, nil
}
