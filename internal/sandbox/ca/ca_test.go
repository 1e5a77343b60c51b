package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

const githubIssuer = "https://token.actions.githubusercontent.com"

func newCA(tb testing.TB, opts ...ca.Option) *ca.CA {
	tb.Helper()
	c, err := ca.New(opts...)
	if err != nil {
		tb.Fatalf("ca.New: %v", err)
	}
	return c
}

func leafKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestIssueLeaf(t *testing.T) {
	c := newCA(t)
	at := time.Now().AddDate(0, -25, 0)
	tests := []struct {
		name     string
		identity string
		wantURI  bool
	}{
		{"workflow URI", "https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b", true},
		{"e-mail", "alice@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := leafKey(t)
			leaf, err := c.IssueLeaf(key.Public(), ca.Identity{Identity: tt.identity, Issuer: githubIssuer}, at)
			if err != nil {
				t.Fatalf("IssueLeaf: %v", err)
			}
			if got, want := leaf.NotAfter.Sub(leaf.NotBefore), ca.LeafValidity; got != want {
				t.Errorf("validity = %v, want %v", got, want)
			}
			if got, want := leaf.NotBefore, at.UTC().Truncate(time.Second); !got.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", got, want)
			}
			if got, want := leaf.KeyUsage, x509.KeyUsageDigitalSignature; got != want {
				t.Errorf("KeyUsage = %v, want %v", got, want)
			}
			if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
				t.Errorf("ExtKeyUsage = %v, want [CodeSigning]", leaf.ExtKeyUsage)
			}
			var gotSAN string
			switch {
			case tt.wantURI && len(leaf.URIs) == 1:
				gotSAN = leaf.URIs[0].String()
			case !tt.wantURI && len(leaf.EmailAddresses) == 1:
				gotSAN = leaf.EmailAddresses[0]
			}
			if gotSAN != tt.identity {
				t.Errorf("SAN = %q (URIs %v, e-mails %v), want %q", gotSAN, leaf.URIs, leaf.EmailAddresses, tt.identity)
			}

			// Both issuer extensions, as sigstore-go reads them.
			ext, err := certificate.ParseExtensions(leaf.Extensions)
			if err != nil {
				t.Fatalf("ParseExtensions: %v", err)
			}
			if got, want := ext.Issuer, githubIssuer; got != want {
				t.Errorf("issuer extension = %q, want %q", got, want)
			}
			var legacy, v2 bool
			for _, e := range leaf.Extensions {
				legacy = legacy || e.Id.Equal(ca.OIDIssuer) && string(e.Value) == githubIssuer
				v2 = v2 || e.Id.Equal(ca.OIDIssuerV2)
			}
			if !legacy || !v2 {
				t.Errorf("legacy issuer extension %v, v2 issuer extension %v; want both", legacy, v2)
			}

			// The leaf chains to the root through the intermediate at signing time.
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(c.Root())
			inter.AddCert(c.Intermediate())
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots: roots, Intermediates: inter, CurrentTime: at.Add(time.Minute),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			}); err != nil {
				t.Errorf("chain verification: %v", err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots: roots, Intermediates: inter, CurrentTime: at.Add(11 * time.Minute),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			}); err == nil {
				t.Errorf("chain verification 11 minutes after NotBefore succeeded, want expiry")
			}
		})
	}
}

func TestIssueLeafRejects(t *testing.T) {
	c := newCA(t, ca.WithValidity(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	key := leafKey(t)
	good := ca.Identity{Identity: "a@example.com", Issuer: githubIssuer}
	tests := []struct {
		name string
		id   ca.Identity
		at   time.Time
	}{
		{"before CA validity", good, time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"after CA validity", good, time.Date(2029, 12, 31, 23, 55, 0, 0, time.UTC)},
		{"no issuer", ca.Identity{Identity: "a@example.com"}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"neither URI nor e-mail", ca.Identity{Identity: "alice", Issuer: githubIssuer}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if _, err := c.IssueLeaf(key.Public(), tt.id, tt.at); err == nil {
			t.Errorf("%s: IssueLeaf succeeded, want error", tt.name)
		}
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	a := newCA(t, ca.WithSeed([]byte("demo")), ca.WithCurve(elliptic.P256()))
	b := newCA(t, ca.WithSeed([]byte("demo")), ca.WithCurve(elliptic.P256()))
	other := newCA(t, ca.WithSeed([]byte("other")), ca.WithCurve(elliptic.P256()))
	if got, want := a.Root().RawSubjectPublicKeyInfo, b.Root().RawSubjectPublicKeyInfo; !bytes.Equal(got, want) {
		t.Errorf("same seed gave different root keys")
	}
	if bytes.Equal(a.Intermediate().RawSubjectPublicKeyInfo, other.Intermediate().RawSubjectPublicKeyInfo) {
		t.Errorf("different seeds gave the same intermediate key")
	}
}

func TestChainPEM(t *testing.T) {
	c := newCA(t)
	rest := c.ChainPEM()
	var got [][]byte
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		got = append(got, blk.Bytes)
	}
	if len(got) != 2 || !bytes.Equal(got[0], c.Intermediate().Raw) || !bytes.Equal(got[1], c.Root().Raw) {
		t.Errorf("ChainPEM holds %d blocks, want intermediate then root", len(got))
	}
}
