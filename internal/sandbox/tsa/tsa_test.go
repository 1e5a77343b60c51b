package tsa_test

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
)

func authority(t *testing.T, a *tsa.TSA) *root.SigstoreTimestampingAuthority {
	t.Helper()
	c := a.Chain()
	return &root.SigstoreTimestampingAuthority{
		Leaf: c[0], Intermediates: c[1:2], Root: c[2],
		ValidityPeriodStart: a.NotBefore(), URI: "https://tsa.sandbox.local",
	}
}

// TestChain: the leaf's only extended key usage is id-kp-timeStamping,
// marked critical (RFC 3161 §2.3), and it chains to the root.
func TestChain(t *testing.T) {
	a, err := tsa.New()
	if err != nil {
		t.Fatal(err)
	}
	c := a.Chain()
	var critical bool
	for _, e := range c[0].Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			critical = e.Critical
		}
	}
	if !critical || len(c[0].ExtKeyUsage) != 1 || c[0].ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("leaf EKU %v, critical %v", c[0].ExtKeyUsage, critical)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c[2])
	inter.AddCert(c[1])
	if _, err := c[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		t.Errorf("leaf does not chain: %v", err)
	}
}

// TestSigstoreGoGetsAndVerifiesTimestamps: sigstore-go's signer gets a
// timestamp over a signature from the HTTP API at a pinned, back-dated
// time, and sigstore-go's verifier accepts it at that time and refuses it
// for another signature.
func TestSigstoreGoGetsAndVerifiesTimestamps(t *testing.T) {
	a, err := tsa.New(tsa.WithSeed([]byte("s")))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	past := time.Now().AddDate(-2, -1, 0).UTC().Truncate(time.Second)
	a.SetTime(past)

	sig := []byte("a DSSE signature")
	resp, err := sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: srv.URL + "/api/v1/timestamp"}).GetTimestamp(context.Background(), sig)
	if err != nil {
		t.Fatalf("sigstore-go GetTimestamp: %v", err)
	}
	ts, err := authority(t, a).Verify(resp, sig)
	if err != nil {
		t.Fatalf("sigstore-go verify: %v", err)
	}
	if !ts.Time.Equal(past) {
		t.Errorf("timestamp time %s, want %s", ts.Time, past)
	}
	if _, err := authority(t, a).Verify(resp, []byte("another signature")); err == nil {
		t.Error("timestamp verifies for another signature")
	}

	direct, err := a.Timestamp(sig, past.AddDate(0, 0, -3))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := timestamp.ParseResponse(direct)
	if err != nil || !parsed.Time.Equal(past.AddDate(0, 0, -3)) {
		t.Errorf("Timestamp(at): %v, time %v", err, parsed)
	}
	if _, err := a.Timestamp(sig, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("a timestamp before the chain's validity")
	}
}

func TestCertChainAndFaults(t *testing.T) {
	a, err := tsa.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/api/v1/timestamp/certchain")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	blk, _ := pem.Decode(b)
	if blk == nil || string(blk.Bytes) != string(a.Chain()[0].Raw) {
		t.Error("certchain does not start with the leaf")
	}
	a.SetStatus(http.StatusServiceUnavailable)
	if _, err := sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: srv.URL + "/api/v1/timestamp"}).GetTimestamp(context.Background(), []byte("x")); err == nil {
		t.Error("SetStatus(503): a timestamp")
	}
}
