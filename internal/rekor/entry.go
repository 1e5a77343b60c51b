package rekor

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/client/index"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/util"
	rekorverify "github.com/sigstore/rekor/pkg/verify"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Names of the checks the fallback reports (after verify's offline checks
// of a cached bundle, which keep their names with a "cached-" prefix).
const (
	CheckEntry       = "rekor-entry"       // the entry fetched; its body hashes to its UUID
	CheckLogKey      = "rekor-log-key"     // the entry's log is named by the trusted root, valid at the integrated time
	CheckInclusion   = "rekor-inclusion"   // inclusion proof against the fresh checkpoint's root
	CheckCheckpoint  = "rekor-checkpoint"  // the checkpoint is signed by the log key and names the proof's tree
	CheckSET         = "rekor-set"         // signed entry timestamp over body, time, index and log ID
	CheckCertificate = "rekor-certificate" // the entry's certificate chains to the trusted CA at the integrated time
	CheckIdentity    = "rekor-identity"    // the certificate names the pointer's signer
	CheckBodyMatch   = "rekor-body-match"  // the log's entry is the cached bundle's (certificate, payload hash, signature)
	CheckIndex       = "rekor-index"       // the index search for the bundle digest lists the entry
)

// entry is a Rekor v1 entry as fetched, with what its body says.
type entry struct {
	EntryID        string // as the log keyed it (tree ID + UUID, or UUID)
	UUID           string // 64 hex: the RFC 6962 leaf hash of Body
	Index          int64
	IntegratedTime time.Time
	LogID          string // hex
	Body           []byte // canonicalized
	anon           models.LogEntryAnon

	Kind, APIVersion string
	CertPEM          []byte
	Cert             *x509.Certificate
	Signature        []byte // dsse: the envelope signature; nil for intoto
	PayloadHash      string // hex sha256 of the DSSE payload
	Checkpoint       *util.SignedCheckpoint
}

// failure is a positive finding about an entry: its class and check, and
// a hint when the class's usual hint would mislead.
type failure struct {
	class  audit.Class
	check  string
	detail string
	hint   string
}

func (f *failure) withHint(h string) *failure { f.hint = h; return f }

// refreshHint is the hint for trust material the trusted root lacks: stale
// trust is never reported as an altered bundle (SPEC §3).
const refreshHint = "refresh the trusted root (trust.trustedRoot, or the public-good TUF cache under dataDir) and re-run: " +
	"nothing shows the evidence was altered, the trusted root just does not name its log"

// unknownLog is the finding for an entry whose log the trusted root does
// not name: the detail names the log by the key id a trusted root would
// list (logId.keyId), and the hint says to refresh the trusted root.
func unknownLog(tle *tlogEntryRef) *failure {
	era := "Rekor v1"
	if tle.v2 {
		era = "Rekor v2"
	}
	return fail(audit.ClassSignature, CheckLogKey,
		"the cached bundle's entry %d is in a %s log with key id %s, which the trusted root does not name: it cannot be verified against this trusted root",
		tle.index, era, tle.logID).withHint(refreshHint)
}

func (f *failure) Error() string { return f.check + ": " + f.detail }

func fail(class audit.Class, check, format string, args ...any) *failure {
	return &failure{class: class, check: check, detail: fmt.Sprintf(format, args...)}
}

// entryByIndex fetches the entry at index.
func (l *Log) entryByIndex(ctx context.Context, idx int64) (*entry, error) {
	p := entries.NewGetLogEntryByIndexParamsWithContext(ctx).WithLogIndex(idx)
	resp, err := l.api.Entries.GetLogEntryByIndex(p)
	if err != nil {
		return nil, classify(fmt.Sprintf("get entry %d", idx), err)
	}
	return oneEntry(fmt.Sprintf("entry %d", idx), resp.Payload)
}

// entryByUUID fetches the entry whose UUID or entry ID is id.
func (l *Log) entryByUUID(ctx context.Context, id string) (*entry, error) {
	p := entries.NewGetLogEntryByUUIDParamsWithContext(ctx).WithEntryUUID(id)
	resp, err := l.api.Entries.GetLogEntryByUUID(p)
	if err != nil {
		return nil, classify("get entry "+shortHex(id), err)
	}
	return oneEntry("entry "+shortHex(id), resp.Payload)
}

// search returns the entry UUIDs (64 hex, lowercase) the log's index lists
// for the in-toto subject digest "sha256:<hex>".
func (l *Log) search(ctx context.Context, digest string) ([]string, error) {
	p := index.NewSearchIndexParamsWithContext(ctx).WithQuery(&models.SearchIndex{Hash: strings.ToLower(digest)})
	resp, err := l.api.Index.SearchIndex(p)
	if err != nil {
		return nil, classify("index search "+digest, err)
	}
	var out []string
	for _, id := range resp.Payload {
		out = append(out, uuidOf(id))
	}
	return out, nil
}

func oneEntry(what string, le models.LogEntry) (*entry, error) {
	if len(le) != 1 {
		return nil, fmt.Errorf("%s: %w: %d entries in the answer, want 1", what, ErrBadResponse, len(le))
	}
	for id, anon := range le {
		e := &entry{EntryID: id, UUID: uuidOf(id), anon: anon}
		if anon.LogIndex == nil || anon.IntegratedTime == nil || anon.LogID == nil || anon.Body == nil {
			return nil, fmt.Errorf("%s: %w: entry lacks index, time, log ID or body", what, ErrBadResponse)
		}
		e.Index, e.IntegratedTime, e.LogID = *anon.LogIndex, time.Unix(*anon.IntegratedTime, 0).UTC(), *anon.LogID
		s, ok := anon.Body.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %w: body is %T, want base64 string", what, ErrBadResponse, anon.Body)
		}
		body, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: body is not base64: %v", what, ErrBadResponse, err)
		}
		e.Body = body
		return e, nil
	}
	return nil, nil // unreachable
}

// uuidOf strips the tree-ID prefix of an entry ID: the last 64 hex digits.
func uuidOf(id string) string {
	id = strings.ToLower(id)
	if len(id) > 64 {
		return id[len(id)-64:]
	}
	return id
}

// parseBody reads the kind, certificate, signature and payload hash of a
// dsse v0.0.1 or intoto v0.0.2 body (the kinds Sigstore bundles and cosign
// attestations are logged as).
func (e *entry) parseBody() *failure {
	var head struct {
		Kind       string          `json:"kind"`
		APIVersion string          `json:"apiVersion"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(e.Body, &head); err != nil {
		return fail(audit.ClassSignature, CheckEntry, "entry %d: body is not a Rekor entry: %v", e.Index, err)
	}
	e.Kind, e.APIVersion = head.Kind, head.APIVersion
	type hash struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"value"`
	}
	switch head.Kind + "/" + head.APIVersion {
	case "dsse/0.0.1":
		var spec struct {
			PayloadHash *hash `json:"payloadHash"`
			Signatures  []struct {
				Signature string `json:"signature"`
				Verifier  []byte `json:"verifier"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(head.Spec, &spec); err != nil || len(spec.Signatures) == 0 || spec.PayloadHash == nil {
			return fail(audit.ClassSignature, CheckEntry, "entry %d: dsse body lacks signatures or payload hash", e.Index)
		}
		e.CertPEM, e.PayloadHash = spec.Signatures[0].Verifier, strings.ToLower(spec.PayloadHash.Value)
		sig, err := base64.StdEncoding.DecodeString(spec.Signatures[0].Signature)
		if err != nil {
			return fail(audit.ClassSignature, CheckEntry, "entry %d: dsse signature is not base64", e.Index)
		}
		e.Signature = sig
	case "intoto/0.0.2":
		var spec struct {
			Content struct {
				Envelope struct {
					Signatures []struct {
						PublicKey []byte `json:"publicKey"`
					} `json:"signatures"`
				} `json:"envelope"`
				PayloadHash *hash `json:"payloadHash"`
			} `json:"content"`
		}
		if err := json.Unmarshal(head.Spec, &spec); err != nil || len(spec.Content.Envelope.Signatures) == 0 {
			return fail(audit.ClassSignature, CheckEntry, "entry %d: intoto body lacks signatures", e.Index)
		}
		e.CertPEM = spec.Content.Envelope.Signatures[0].PublicKey
		if ph := spec.Content.PayloadHash; ph != nil {
			e.PayloadHash = strings.ToLower(ph.Value)
		}
	default:
		return fail(audit.ClassSignature, CheckEntry, "entry %d is a %s v%s entry, not a DSSE attestation (dsse 0.0.1 or intoto 0.0.2)",
			e.Index, head.Kind, head.APIVersion)
	}
	blk, _ := pem.Decode(e.CertPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return fail(audit.ClassSignature, CheckCertificate, "entry %d names a public key, not a certificate: nothing says who signed", e.Index)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return fail(audit.ClassSignature, CheckCertificate, "entry %d: certificate does not parse: %v", e.Index, err)
	}
	e.Cert = cert
	return nil
}

// entryProof is what verifyEntry established, for details.
type entryProof struct {
	origin   string
	treeSize int64
	signer   string // SAN
	issuer   string
}

// verifyEntry checks one fetched Rekor v1 entry end to end (SPEC §1.3):
// its body hashes to its UUID, its log is named by the trusted root, the
// inclusion proof leads to the root of the checkpoint returned with it,
// which the log key signed, the SET verifies, the certificate chains to a
// trusted CA at the integrated time and names the pointer's signer. The
// checks passed are appended to checks; the first failure is returned.
func (l *Log) verifyEntry(ctx context.Context, e *entry, want audit.Expectation, checks *[]audit.Check) (entryProof, *failure) {
	var pr entryProof
	pass := func(name, format string, args ...any) {
		*checks = append(*checks, audit.Check{Name: name, Status: audit.CheckPass, Detail: fmt.Sprintf(format, args...)})
	}
	if got := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(e.Body)); got != e.UUID {
		return pr, fail(audit.ClassSignature, CheckEntry, "entry %d: body hashes to %s, not to its UUID %s: the log served an altered entry",
			e.Index, shortHex(got), shortHex(e.UUID))
	}
	if f := e.parseBody(); f != nil {
		return pr, f
	}
	pass(CheckEntry, "entry %d (%s v%s, UUID %s…), integrated %s: body hashes to its UUID",
		e.Index, e.Kind, e.APIVersion, shortHex(e.UUID), e.IntegratedTime.Format(time.RFC3339))

	tl, ok := l.trust.RekorLogs()[strings.ToLower(e.LogID)]
	if !ok {
		return pr, fail(audit.ClassSignature, CheckLogKey, "entry %d is in the log with key id %s, which the trusted root does not name", e.Index, strings.ToLower(e.LogID)).
			withHint(refreshHint)
	}
	if e.IntegratedTime.Before(tl.ValidityPeriodStart) || (!tl.ValidityPeriodEnd.IsZero() && e.IntegratedTime.After(tl.ValidityPeriodEnd)) {
		return pr, fail(audit.ClassSignature, CheckLogKey, "entry %d was integrated at %s, outside the validity of log %s's key in the trusted root",
			e.Index, e.IntegratedTime.Format(time.RFC3339), shortHex(e.LogID))
	}
	verifier, err := logVerifier(tl)
	if err != nil {
		return pr, fail(audit.ClassSignature, CheckLogKey, "log %s: %v", shortHex(e.LogID), err)
	}
	pass(CheckLogKey, "log %s (%s) is named by the trusted root", shortHex(e.LogID), tl.BaseURL)

	ip := e.anon.Verification
	if ip == nil || ip.InclusionProof == nil || ip.InclusionProof.Checkpoint == nil || ip.InclusionProof.TreeSize == nil ||
		ip.InclusionProof.LogIndex == nil || ip.InclusionProof.RootHash == nil {
		return pr, fail(audit.ClassSignature, CheckInclusion, "entry %d comes without an inclusion proof and checkpoint", e.Index)
	}
	if err := rekorverify.VerifyInclusion(ctx, &e.anon); err != nil {
		return pr, fail(audit.ClassSignature, CheckInclusion, "entry %d: inclusion proof does not verify: %v", e.Index, err)
	}
	pass(CheckInclusion, "leaf %d of a tree of %d entries, root %s", *ip.InclusionProof.LogIndex, *ip.InclusionProof.TreeSize,
		shortHex(*ip.InclusionProof.RootHash))

	if err := rekorverify.VerifyCheckpointSignature(&e.anon, verifier); err != nil {
		return pr, fail(audit.ClassSignature, CheckCheckpoint, "entry %d: checkpoint: %v", e.Index, err)
	}
	cp := &util.SignedCheckpoint{}
	if err := cp.UnmarshalText([]byte(*ip.InclusionProof.Checkpoint)); err != nil {
		return pr, fail(audit.ClassSignature, CheckCheckpoint, "entry %d: checkpoint does not parse: %v", e.Index, err)
	}
	if int64(cp.Size) != *ip.InclusionProof.TreeSize { //nolint:gosec // sizes are far below 2^63
		return pr, fail(audit.ClassSignature, CheckCheckpoint, "entry %d: checkpoint is for %d entries, the proof for %d", e.Index, cp.Size, *ip.InclusionProof.TreeSize)
	}
	e.Checkpoint = cp
	pr.origin, pr.treeSize = cp.Origin, int64(cp.Size) //nolint:gosec
	pass(CheckCheckpoint, "checkpoint %q of %d entries, fetched now, signed by the log key", cp.Origin, cp.Size)

	if err := rekorverify.VerifySignedEntryTimestamp(ctx, &e.anon, verifier); err != nil {
		return pr, fail(audit.ClassSignature, CheckSET, "entry %d: signed entry timestamp: %v", e.Index, err)
	}
	pass(CheckSET, "the log signed body, integrated time %s and index %d", e.IntegratedTime.Format(time.RFC3339), e.Index)

	if _, err := sgverify.VerifyLeafCertificate(e.IntegratedTime, e.Cert, l.trust); err != nil {
		return pr, fail(audit.ClassSignature, CheckCertificate, "entry %d: certificate does not chain to a trusted CA at %s: %v",
			e.Index, e.IntegratedTime.Format(time.RFC3339), err)
	}
	pass(CheckCertificate, "issued by %q, valid %s to %s, chains to the trusted root at the integrated time",
		e.Cert.Issuer.String(), e.Cert.NotBefore.UTC().Format(time.RFC3339), e.Cert.NotAfter.UTC().Format(time.RFC3339))

	sum, err := certificate.SummarizeCertificate(e.Cert)
	if err != nil {
		return pr, fail(audit.ClassSignature, CheckIdentity, "entry %d: certificate: %v", e.Index, err)
	}
	pr.signer, pr.issuer = sum.SubjectAlternativeName, sum.Issuer
	sg := want.Pointer.Attestations[0].Signer
	if sg == nil {
		return pr, fail(audit.ClassSignature, CheckIdentity, "the pointer names no signer; entry %d is signed by %s (issuer %s)", e.Index, pr.signer, pr.issuer)
	}
	if pr.signer != sg.Identity || pr.issuer != sg.Issuer {
		return pr, fail(audit.ClassIdentity, CheckIdentity, "entry %d is signed by %s (issuer %s); the pointer names %s (issuer %s)",
			e.Index, pr.signer, pr.issuer, sg.Identity, sg.Issuer)
	}
	pass(CheckIdentity, "signed by %s (issuer %s), as the pointer says", pr.signer, pr.issuer)
	return pr, nil
}

func logVerifier(tl *root.TransparencyLog) (signature.Verifier, error) {
	h := tl.SignatureHashFunc
	if h == 0 {
		h = crypto.SHA256
	}
	v, err := signature.LoadVerifier(tl.PublicKey, h)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return v, nil
}

// sameCert reports whether two PEM or DER certificates are the same.
func sameCert(a *x509.Certificate, der []byte) bool {
	return a != nil && bytes.Equal(a.Raw, der)
}

func shortHex(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// isFailure unwraps a *failure.
func isFailure(err error) (*failure, bool) {
	var f *failure
	ok := errors.As(err, &f)
	return f, ok
}
