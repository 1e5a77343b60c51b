package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// candidateSource serves one bundle whose signatures are the given bundle
// JSONs, the first preferred.
type candidateSource struct{ sigs []string }

func (s candidateSource) Fetch(_ context.Context, _, digest string) (*audit.Evidence, error) {
	ev := &audit.Evidence{ManifestDigest: digest}
	for i, b := range s.sigs {
		sig := audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: []byte(b), ReferrerDigest: "sha256:" + strings.Repeat(string(rune('a'+i)), 64)}
		if i == 0 {
			ev.Signature = sig
		} else {
			ev.Alternatives = append(ev.Alternatives, sig)
		}
	}
	return ev, nil
}

func (candidateSource) Layer(context.Context, string, *audit.Evidence, bool) (*audit.Layer, error) {
	return &audit.Layer{}, nil
}

func (candidateSource) Probe(context.Context, string, string, string, string) error { return nil }

// scriptedVerifier fails each bundle at the check its JSON names
// ("fail:N:class"), decides nothing for "undecided", passes "ok".
type scriptedVerifier struct{}

func (scriptedVerifier) Verify(ev *audit.Evidence, _ audit.Expectation) audit.Verification {
	b := string(ev.Signature.BundleJSON)
	names := []string{"bundle-parse", "transparency-log", "certificate-chain", "signature", "signer-identity"}
	v := audit.Verification{LogIndex: -1}
	switch {
	case b == "ok":
		v.Verdict, v.Detail, v.BundleJSON = audit.Verified, "ok", []byte(b)
	case b == "undecided":
		v.Verdict, v.Class, v.Detail = audit.NoVerdict, audit.ClassTransient, "undecided"
	default:
		var n int
		var class string
		parts := strings.Split(b, ":")
		n, class = int(parts[1][0]-'0'), parts[2]
		v.Verdict, v.Class, v.Detail = audit.Invalid, audit.Class(class), b
		for i, name := range names {
			st := audit.CheckPass
			switch {
			case i == n:
				st = audit.CheckFail
			case i > n:
				st = audit.CheckSkip
			}
			v.Checks = append(v.Checks, audit.Check{Name: name, Status: st})
		}
	}
	return v
}
func (scriptedVerifier) TrustRoot() string { return "sha256:root" }
func (scriptedVerifier) Version() string   { return "test/1" }

// The verdict when no candidate verifies is the one that got furthest, the
// newer on a tie; a candidate the verifier could not decide wins over every
// invalid one; the first that verifies ends the search.
func TestCandidateVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sigs         []string
		verdict      audit.Verdict
		class        audit.Class
		detailPrefix string
	}{
		{"furthest wins", []string{"fail:0:signature", "fail:4:identity", "fail:1:signature"}, audit.Invalid, audit.ClassIdentity, "fail:4:identity"},
		{"tie goes to the newer", []string{"fail:3:signature", "fail:3:integrity"}, audit.Invalid, audit.ClassSignature, "fail:3:signature"},
		{"undecided beats invalid", []string{"fail:4:identity", "undecided"}, audit.NoVerdict, audit.ClassTransient, "undecided"},
		{"first that verifies", []string{"fail:0:signature", "ok", "fail:4:identity"}, audit.Verified, "", "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &memLedger{}
			r := &audit.Runner{Source: candidateSource{tc.sigs}, Verifier: scriptedVerifier{}, Ledger: l}
			if _, err := r.Run(context.Background(), versions(1), nil, opts()); err != nil {
				t.Fatal(err)
			}
			res := l.results[0]
			if res.Verdict != tc.verdict || res.Class != tc.class || !strings.HasPrefix(res.Detail, tc.detailPrefix) {
				t.Fatalf("got %s/%s %q, want %s/%s %q…", res.Verdict, res.Class, res.Detail, tc.verdict, tc.class, tc.detailPrefix)
			}
			if tc.verdict == audit.Verified {
				return
			}
			for i, s := range tc.sigs {
				if s != tc.detailPrefix && !strings.Contains(res.Detail, s) {
					t.Errorf("detail %q does not name candidate %d (%s)", res.Detail, i, s)
				}
			}
		})
	}
}
