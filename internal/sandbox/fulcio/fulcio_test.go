package fulcio_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/fulcio"
)

// front starts an issuer and a Fulcio for a fresh CA.
func front(t *testing.T) (*ca.CA, *fulcio.Issuer, string) {
	t.Helper()
	c, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := fulcio.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	isrv := httptest.NewServer(iss.Handler())
	t.Cleanup(isrv.Close)
	iss.SetURL(isrv.URL)
	fsrv := httptest.NewServer(fulcio.New(c, isrv.URL).Handler())
	t.Cleanup(fsrv.Close)
	return c, iss, fsrv.URL
}

var workflow = fulcio.Claims{Subject: "repo:acme/audits:ref:refs/heads/main", JobWorkflowRef: "acme/audits/.github/workflows/audit.yaml@refs/heads/main"}

// TestSigstoreClientGetsACertificate: sigstore-go's own Fulcio client gets
// a certificate naming the workflow, issued by the sandbox CA, for a token
// of the issuer.
func TestSigstoreClientGetsACertificate(t *testing.T) {
	c, iss, url := front(t)
	tok, err := iss.Token(workflow)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := sign.NewFulcio(&sign.FulcioOptions{BaseURL: url}).GetCertificate(context.Background(), kp, &sign.CertificateProviderOptions{IDToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://github.com/" + workflow.JobWorkflowRef; sum.SubjectAlternativeName != want || sum.Issuer != iss.URL() {
		t.Errorf("certificate names %s (issuer %s), want %s (issuer %s)", sum.SubjectAlternativeName, sum.Issuer, want, iss.URL())
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root())
	inter := x509.NewCertPool()
	inter.AddCert(c.Intermediate())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: cert.NotBefore,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Errorf("certificate does not chain to the CA: %v", err)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != ca.LeafValidity {
		t.Errorf("validity %s, want %s", d, ca.LeafValidity)
	}
}

func TestFulcioRefuses(t *testing.T) {
	_, iss, url := front(t)
	other, err := fulcio.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	other.SetURL(iss.URL()) // same name, another key: a forged token
	forged, _ := other.Token(workflow)
	wrongAud := workflow
	wrongAud.Audience = "someone-else"
	wrongAudTok, _ := iss.Token(wrongAud)
	expired := workflow
	expired.Lifetime = -time.Minute
	expiredTok, _ := iss.Token(expired)
	good, _ := iss.Token(workflow)
	kp, _ := sign.NewEphemeralKeypair(nil)
	for _, tt := range []struct {
		name, token string
		kp          sign.Keypair
		want        string
	}{
		{"forged token", forged, kp, "401"},
		{"wrong audience", wrongAudTok, kp, "401"},
		{"expired token", expiredTok, kp, "401"},
		{"proof by another key", good, &otherKeyProof{kp}, "400"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sign.NewFulcio(&sign.FulcioOptions{BaseURL: url}).GetCertificate(context.Background(), tt.kp, &sign.CertificateProviderOptions{IDToken: tt.token})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("GetCertificate = %v, want HTTP %s", err, tt.want)
			}
		})
	}
}

// otherKeyProof presents one key but proves possession with another.
type otherKeyProof struct{ sign.Keypair }

func (o *otherKeyProof) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	k, _ := sign.NewEphemeralKeypair(nil)
	return k.SignData(ctx, data)
}

func TestActionsTokenEndpoint(t *testing.T) {
	_, iss, _ := front(t)
	iss.SetActions(workflow, "request-secret")
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, iss.ActionsRequestURL()+"&audience=sigstore", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong request token: HTTP %d, want 401", code)
	}
	code, body := get("bearer request-secret")
	var v struct{ Value string }
	if code != http.StatusOK || json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&v) != nil || strings.Count(v.Value, ".") != 2 {
		t.Errorf("token request = HTTP %d %s, want 200 with a JWT", code, body)
	}
}
