package audit_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	sbreg "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// Signature first (issue 15): the layer is fetched only once a signature
// passed its signature and statement checks. The registry answers every
// request for the layer with 500, so a pointer whose layer was fetched
// could only end no-verdict/transient: the unsigned and the wrongly signed
// keep their verdicts, with no request for the layer, and the well-signed
// one shows that the layer is still fetched after the signature holds.
func TestSignatureBeforeLayer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opts        pointerOpts
		sign        func(t *testing.T, rw *realWorld, sp signedPointer)
		verdict     audit.Verdict
		class       audit.Class
		layerWanted bool
	}{
		{name: "unsigned", opts: pointerOpts{unsigned: true}, verdict: audit.Invalid, class: audit.ClassSignature},
		{name: "signed by someone else", opts: pointerOpts{unsigned: true}, sign: func(t *testing.T, rw *realWorld, sp signedPointer) {
			rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, bob, signedAt), At: signedAt})
		}, verdict: audit.Invalid, class: audit.ClassIdentity},
		{name: "unusable signature", opts: pointerOpts{unsigned: true}, sign: func(t *testing.T, rw *realWorld, sp signedPointer) {
			rw.attach(t, sp, publish.Referrer{Bundle: []byte(`{"not":"a bundle"}`), At: signedAt})
		}, verdict: audit.Invalid, class: audit.ClassSignature},
		{name: "good signature", verdict: audit.NoVerdict, class: audit.ClassTransient, layerWanted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bothModes(t, func(t *testing.T, rw *realWorld) {
				sp := rw.publish(t, "run-1", tc.opts)
				if tc.sign != nil {
					tc.sign(t, rw, sp)
				}
				reg := rw.w.Registry()
				reg.SetFault(testRepo, sbreg.Fault{Status: http.StatusInternalServerError, Endpoint: sbreg.EndpointBlobs, Reference: sp.sum.LayerDigest})
				reg.ResetCounts()
				res, _ := rw.audit(t, sp)
				withFault := reg.Counts(testRepo)
				reg.ClearFault(testRepo)
				if res.Verdict != tc.verdict || res.Class != tc.class {
					t.Fatalf("verdict %s/%s (%s), want %s/%s", res.Verdict, res.Class, res.Detail, tc.verdict, tc.class)
				}
				if tc.layerWanted {
					return
				}
				if fetch, _ := check(res, "fetch"); tc.sign != nil && !strings.Contains(fetch.Detail, "the layer was not fetched") {
					t.Errorf("fetch check %+v: want it to say the layer was not fetched", fetch)
				}
				// The same audit without the fault makes the same manifest
				// and blob requests: none of them was for the layer. (The
				// Referrers API may be skipped the second time: a client
				// remembers a registry that lacks it.)
				reg.ResetCounts()
				again, _ := rw.audit(t, sp)
				if got := reg.Counts(testRepo); got.Blobs != withFault.Blobs || got.Manifests != withFault.Manifests {
					t.Errorf("requests without the layer fault %+v, with it %+v: the layer was requested", got, withFault)
				}
				if again.Verdict != tc.verdict || again.Class != tc.class {
					t.Errorf("without the fault: verdict %s/%s, want %s/%s", again.Verdict, again.Class, tc.verdict, tc.class)
				}
			})
		})
	}
}
