package rekorv2_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor-tiles/v2/pkg/types/hashedrekord"
	rekorverify "github.com/sigstore/rekor-tiles/v2/pkg/verify"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
)

const payloadType = "application/vnd.in-toto+json"

// signer is an ephemeral key certified by a sandbox CA, as Fulcio issues.
type signer struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	c, err := ca.New(ca.WithCurve(elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.IssueLeaf(key.Public(), ca.Identity{Identity: "alice@example.com", Issuer: "https://accounts.example.com"}, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: key, cert: cert}
}

// request is the hashedrekord v0.0.2 request sigstore-go submits for a
// DSSE envelope: the signature and certificate, and the SHA-256 of the PAE.
func (s *signer) request(t testing.TB, payload []byte) *pb.HashedRekordRequestV002 {
	t.Helper()
	digest := sha256.Sum256(dsse.PAE(payloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return &pb.HashedRekordRequestV002{
		Digest: digest[:],
		Signature: &pb.Signature{Content: sig, Verifier: &pb.Verifier{
			KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
			Verifier:   &pb.Verifier_X509Certificate{X509Certificate: &protocommon.X509Certificate{RawBytes: s.cert.Raw}},
		}},
	}
}

func noteVerifier(t testing.TB, l *rekorv2.Log) note.Verifier {
	t.Helper()
	sv, err := signature.LoadVerifier(l.PublicKey(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rekornote.NewNoteVerifier(l.Origin(), sv)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestKeyHash: the log ID is the C2SP key hash of the origin and the
// Ed25519 key, and the checkpoint's key hint is its first 4 bytes — not
// Rekor v1's sha256(SPKI).
func TestKeyHash(t *testing.T) {
	l, err := rekorv2.New(rekorv2.WithOrigin("127.0.0.1"), rekorv2.WithSeed([]byte("seed")))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := l.PublicKey().(ed25519.PublicKey)
	if !ok {
		t.Fatalf("key is %T, want Ed25519", l.PublicKey())
	}
	want := sha256.Sum256(append([]byte("127.0.0.1\n\x01"), pub...))
	if !bytes.Equal(l.LogID(), want[:]) {
		t.Errorf("LogID = %x, want sha256(origin ‖ \\n ‖ 0x01 ‖ key) = %x", l.LogID(), want)
	}
	spki := sha256.Sum256(l.PublicKeyDER())
	if bytes.Equal(l.LogID()[:4], spki[:4]) {
		t.Error("key hint equals Rekor v1's sha256(SPKI)[:4]")
	}
	if l.KeyDetails() != protocommon.PublicKeyDetails_PKIX_ED25519 {
		t.Errorf("key details %v", l.KeyDetails())
	}
	cp, _, _, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(cp, "\n")
	if lines[0] != "127.0.0.1" || lines[1] != "0" {
		t.Errorf("checkpoint body %q, want origin 127.0.0.1 and size 0", lines[:3])
	}
	if _, err := note.Open([]byte(cp), note.VerifierList(noteVerifier(t, l))); err != nil {
		t.Errorf("checkpoint does not open with a C2SP note verifier: %v", err)
	}
	again, _ := rekorv2.New(rekorv2.WithOrigin("127.0.0.1"), rekorv2.WithSeed([]byte("seed")))
	if !bytes.Equal(again.LogID(), l.LogID()) {
		t.Error("one seed, two log IDs")
	}
}

// TestSigstoreGoSignsIntoLog: sigstore-go's own Rekor v2 client logs a DSSE
// envelope into the log's HTTP API; the entry it gets back is a
// hashedrekord v0.0.2 over the PAE with no integrated time, and verifies
// with rekor-tiles' verifier (checkpoint signature and inclusion proof) and
// against the entry hash sigstore-go reconstructs from the bundle.
func TestSigstoreGoSignsIntoLog(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []rekorv2.Option
	}{
		{"ed25519", nil},
		{"ecdsa", []rekorv2.Option{rekorv2.WithECDSAKey()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(nil)
			t.Cleanup(srv.Close)
			l, err := rekorv2.New(append([]rekorv2.Option{rekorv2.WithOrigin("127.0.0.1")}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			srv.Config.Handler = l.Handler()
			s := newSigner(t)
			payload := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
			digest := sha256.Sum256(dsse.PAE(payloadType, payload))
			sig, _ := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
			b := &protobundle.Bundle{
				VerificationMaterial: &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_Certificate{
					Certificate: &protocommon.X509Certificate{RawBytes: s.cert.Raw}}},
				Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
					Payload: payload, PayloadType: payloadType, Signatures: []*protodsse.Signature{{Sig: sig}}}},
			}
			r := sign.NewRekor(&sign.RekorOptions{BaseURL: srv.URL, Version: 2})
			if err := r.GetTransparencyLogEntry(context.Background(), ca.CertPEM(s.cert), b); err != nil {
				t.Fatalf("sigstore-go Rekor v2 client: %v", err)
			}
			tle := b.GetVerificationMaterial().GetTlogEntries()[0]
			if kv := tle.GetKindVersion(); kv.GetKind() != "hashedrekord" || kv.GetVersion() != "0.0.2" {
				t.Errorf("kind %s/%s", kv.GetKind(), kv.GetVersion())
			}
			if tle.GetIntegratedTime() != 0 || tle.GetInclusionPromise() != nil {
				t.Errorf("a v2 entry with integrated time %d / promise %v", tle.GetIntegratedTime(), tle.GetInclusionPromise())
			}
			if !bytes.Equal(tle.GetLogId().GetKeyId(), l.LogID()) {
				t.Errorf("log ID %x, want %x", tle.GetLogId().GetKeyId(), l.LogID())
			}
			if err := rekorverify.VerifyLogEntry(tle, noteVerifier(t, l)); err != nil {
				t.Errorf("rekor-tiles VerifyLogEntry: %v", err)
			}
			want, err := hashedrekord.ToEntryHash(digest[:], &pb.Signature{Content: sig, Verifier: &pb.Verifier{
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				Verifier:   &pb.Verifier_X509Certificate{X509Certificate: &protocommon.X509Certificate{RawBytes: s.cert.Raw}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := rfc6962.DefaultHasher.HashLeaf(tle.GetCanonicalizedBody()); !bytes.Equal(got, want) {
				t.Errorf("leaf hash %x, want the entry hash rebuilt from the bundle %x", got, want)
			}
		})
	}
}

func TestAddRejects(t *testing.T) {
	l, err := rekorv2.New()
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(t)
	req := s.request(t, []byte("one"))
	if _, err := l.Add(req); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(req); !errors.Is(err, rekorv2.ErrDuplicate) {
		t.Errorf("same entry twice: %v, want ErrDuplicate", err)
	}
	bad := s.request(t, []byte("two"))
	bad.Digest[0] ^= 1
	if _, err := l.Add(bad); !errors.Is(err, rekorv2.ErrInvalidEntry) {
		t.Errorf("signature over another digest: %v, want ErrInvalidEntry", err)
	}
	if l.Size() != 1 {
		t.Errorf("size %d after one good entry", l.Size())
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestTiles(t *testing.T) {
	l, err := rekorv2.New()
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(t)
	var entries []*protorekor.TransparencyLogEntry
	for i := range 300 {
		e, err := l.Add(s.request(t, fmt.Appendf(nil, "statement %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)

	cp, _, _, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if code, b := get(t, srv.URL+"/checkpoint"); code != 200 || string(b) != cp {
		t.Errorf("/checkpoint: %d %q, want the signed checkpoint", code, b)
	}
	for _, tt := range []struct {
		path string
		code int
		size int
	}{
		{"/tile/0/000", 200, 256 * 32},
		{"/tile/0/001.p/44", 200, 44 * 32},
		{"/tile/0/001.p/45", 404, 0}, // beyond the tree
		{"/tile/0/001", 404, 0},      // not full yet
		{"/tile/1/000.p/1", 200, 32}, // one complete subtree of 256 leaves
		{"/tile/entries/001.p/44", 200, -1},
		{"/tile/0/x001/000", 404, 0}, // N = 1000
		{"/tile/0/1", 400, 0},
	} {
		code, b := get(t, srv.URL+tt.path)
		if code != tt.code || (tt.size >= 0 && code == 200 && len(b) != tt.size) {
			t.Errorf("%s: %d, %d bytes; want %d, %d bytes", tt.path, code, len(b), tt.code, tt.size)
		}
	}
	_, tile := get(t, srv.URL+"/tile/0/001.p/44")
	if want := rfc6962.DefaultHasher.HashLeaf(entries[256].GetCanonicalizedBody()); !bytes.Equal(tile[:32], want) {
		t.Errorf("tile 0/1 starts with %x, want leaf hash of entry 256 %x", tile[:32], want)
	}
	_, bundle := get(t, srv.URL+"/tile/entries/001.p/44")
	if n := int(binary.BigEndian.Uint16(bundle)); !bytes.Equal(bundle[2:2+n], entries[256].GetCanonicalizedBody()) {
		t.Error("entry bundle 1 does not start with entry 256's body")
	}
	_, top := get(t, srv.URL+"/tile/1/000.p/1")
	if root, _ := l.RootHash(256); !bytes.Equal(top, root) {
		t.Errorf("tile 1/0 = %x, want the root of the first 256 leaves %x", top, root)
	}
}

func TestFaultHooks(t *testing.T) {
	l, err := rekorv2.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(newSigner(t).request(t, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	v := noteVerifier(t, l)

	l.ForgeCheckpoint(true)
	_, forged := get(t, srv.URL+"/checkpoint")
	_, err = note.Open(forged, note.VerifierList(v))
	var invalid *note.InvalidSignatureError
	if !errors.As(err, &invalid) {
		t.Errorf("forged checkpoint opens with %v, want an invalid signature under the log's key hint", err)
	}
	l.ForgeCheckpoint(false)
	_, real := get(t, srv.URL+"/checkpoint")
	if _, err := note.Open(real, note.VerifierList(v)); err != nil {
		t.Errorf("checkpoint after ForgeCheckpoint(false): %v", err)
	}
	if bytes.Equal(real[:bytes.LastIndex(real, []byte("\n\n"))], forged[:bytes.LastIndex(forged, []byte("\n\n"))]) {
		t.Error("the forged checkpoint names the real root hash")
	}

	l.SetDown(true)
	if code, _ := get(t, srv.URL+"/checkpoint"); code != 503 {
		t.Errorf("SetDown: /checkpoint answered %d", code)
	}
	l.SetDown(false)
	if err := l.Rewind(0); err != nil || l.Size() != 0 {
		t.Errorf("Rewind(0): %v, size %d", err, l.Size())
	}
}
