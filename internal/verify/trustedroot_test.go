package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

func TestLoadTrustedRoot(t *testing.T) {
	w := shared(t)
	data, err := os.ReadFile(w.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got := w.root.Name(); got != want {
		t.Errorf("Name() = %s, want %s", got, want)
	}
	if got := w.v.TrustRoot(); got != want {
		t.Errorf("TrustRoot() = %s, want %s", got, want)
	}
	if got := w.v.Version(); got != verify.Version || !strings.HasPrefix(got, "verify/") {
		t.Errorf("Version() = %q", got)
	}

	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage.json": "{not json",
		"empty.json":   `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := verify.LoadTrustedRoot(p); err == nil {
			t.Errorf("LoadTrustedRoot(%s) succeeded, want an error", name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("LoadTrustedRoot(%s) error %q does not name the file", name, err)
		}
	}
	if _, err := verify.LoadTrustedRoot(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadTrustedRoot(missing) succeeded")
	}
	if _, err := verify.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestPublicGoodUnreachable: with no cache and a mirror that refuses
// connections, PublicGood fails fast with an error that says what to do.
// It never reaches the internet.
func TestPublicGoodUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port: connections are refused

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cache := t.TempDir()
	start := time.Now()
	_, err = verify.PublicGood(ctx, cache, verify.WithMirror("http://"+addr), verify.WithTUFTimeout(5*time.Second))
	if err == nil {
		t.Fatal("PublicGood succeeded with no mirror and no cache")
	}
	if !errors.Is(err, verify.ErrNoTrustedRoot) {
		t.Errorf("error %v does not wrap ErrNoTrustedRoot", err)
	}
	for _, s := range []string{addr, cache, "trust.trustedRoot"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("PublicGood took %v to fail", d)
	}

	if _, err := verify.PublicGood(ctx, cache, verify.WithMirror("ftp://example")); err == nil {
		t.Error("PublicGood accepted an ftp mirror")
	}
	if _, err := verify.PublicGood(ctx, ""); err == nil {
		t.Error("PublicGood accepted an empty cache directory")
	}
}
