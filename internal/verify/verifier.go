package verify

import (
	"errors"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Version names the verification logic (audit.Verifier.Version). Bump it
// whenever a change could turn a verdict, so that the fast path re-verifies
// everything after an upgrade.
const Version = "verify/2"

var _ audit.Verifier = (*Verifier)(nil)

// Verifier checks fetched evidence against a trusted root and the pointer
// (SPEC §2.2, §3). Build it once with New and share it: it is safe for
// concurrent use.
type Verifier struct {
	root *TrustedRoot
	sv   *sgverify.Verifier
	// tsv verifies a cosign layer that carries an RFC 3161 timestamp and
	// no log entry: one signed timestamp instead of the log.
	tsv *sgverify.Verifier
	cfg config
	// material is what sv verifies against: the trusted root, wrapped by
	// the chain cache unless WithoutChainCache.
	material    root.TrustedMaterial
	requireSCTs bool
	recipes     recipeDigests
}

type config struct {
	noChainCache bool
}

// Option configures New.
type Option func(*config) error

// WithoutChainCache makes every verification check the whole certificate
// chain, leaf to root, instead of re-using the intermediate-to-root
// verification done once in New (see chaincache.go). For comparison in
// benchmarks and as a safety valve; verdicts are the same either way.
func WithoutChainCache() Option {
	return func(c *config) error {
		c.noChainCache = true
		return nil
	}
}

// New builds the sigstore-go verifier for tr once. It requires one
// transparency-log entry per bundle and one observer timestamp: the log's
// integrated time (Rekor v1, signed by the entry timestamp) or an RFC 3161
// timestamp (Rekor v2). SCTs are required exactly when the trusted root
// names CT logs: a private root may have none, and then neither SCTs nor
// RFC 3161 timestamps may be required (SPEC §2.2). A cosign attestation
// layer that was timestamped instead of logged is verified by a second
// verifier, also built here, that requires one RFC 3161 timestamp from an
// authority of the trusted root instead of a log entry.
func New(tr *TrustedRoot, opts ...Option) (*Verifier, error) {
	if tr == nil || tr.tr == nil {
		return nil, errors.New("new verifier: no trusted root")
	}
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
	}
	v := &Verifier{root: tr, cfg: cfg, material: tr.tr}
	if !cfg.noChainCache {
		v.material = newChainCache(tr.tr)
	}
	vopts := []sgverify.VerifierOption{
		sgverify.WithTransparencyLog(1),
		sgverify.WithObserverTimestamps(1),
		// The statement is parsed by evidence.ParseStatement from the
		// verified payload; sigstore-go need not build a structpb tree.
		sgverify.WithoutStatementPredicate(),
	}
	if len(tr.tr.CTLogs()) > 0 {
		v.requireSCTs = true
		vopts = append(vopts, sgverify.WithSignedCertificateTimestamps(1))
	}
	sv, err := sgverify.NewVerifier(v.material, vopts...)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	v.sv = sv
	// A cosign layer timestamped instead of logged (legacytimestamp.go):
	// one RFC 3161 timestamp from an authority in the trusted root is
	// the observer, and no log entry is required.
	topts := []sgverify.VerifierOption{sgverify.WithSignedTimestamps(1), sgverify.WithoutStatementPredicate()}
	if v.requireSCTs {
		topts = append(topts, sgverify.WithSignedCertificateTimestamps(1))
	}
	if v.tsv, err = sgverify.NewVerifier(v.material, topts...); err != nil {
		return nil, fmt.Errorf("new verifier: timestamp verifier: %w", err)
	}
	return v, nil
}

// TrustRoot names the trusted material: "sha256:<hex>" of trusted_root.json.
func (v *Verifier) TrustRoot() string { return v.root.name }

// Version names the verification logic; see the Version constant.
func (v *Verifier) Version() string { return Version }
