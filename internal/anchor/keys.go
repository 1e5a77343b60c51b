package anchor

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/mod/sumdb/note"
)

// Key is an anchor key: ECDSA P-256 or Ed25519 (SPEC §10), private (to
// sign, from anchor.key) or public only (to check, from anchor.publicKey).
// Its private half never leaves this type: it is not printed, logged or
// marshalled.
type Key struct {
	priv crypto.Signer // nil for a public key
	pub  crypto.PublicKey
}

// Key algorithms.
const (
	algECDSAP256 = "ecdsa-p256"
	algEd25519   = "ed25519"
)

// LoadPrivateKey reads a PEM private key (PKCS#8 "PRIVATE KEY", or SEC1
// "EC PRIVATE KEY") of an ECDSA P-256 or Ed25519 key. field names the
// configuration key in errors.
func LoadPrivateKey(path, field string) (*Key, error) {
	block, err := readPEM(path, field)
	if err != nil {
		return nil, err
	}
	var priv any
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
		return nil, fmt.Errorf("%s %s: the key is encrypted; give an unencrypted PKCS#8 key (file permissions protect it)", field, path)
	default:
		return nil, fmt.Errorf("%s %s: PEM block %q is not a private key (want PRIVATE KEY or EC PRIVATE KEY)", field, path, block.Type)
	}
	if err != nil {
		// The parser's error never quotes key material.
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s %s: unsupported key type %T", field, path, priv)
	}
	k := &Key{priv: s, pub: s.Public()}
	if _, err := k.algorithm(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	return k, nil
}

// LoadPublicKey reads a PEM "PUBLIC KEY" (PKIX) of an ECDSA P-256 or
// Ed25519 key.
func LoadPublicKey(path, field string) (*Key, error) {
	block, err := readPEM(path, field)
	if err != nil {
		return nil, err
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s %s: PEM block %q is not a public key (want PUBLIC KEY)", field, path, block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	k := &Key{pub: pub}
	if _, err := k.algorithm(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	return k, nil
}

func readPEM(path, field string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s %s: no PEM block", field, path)
	}
	return block, nil
}

// newEphemeralKey makes the one-signature ECDSA P-256 key of a keyless
// signing (Fulcio certifies it for minutes).
func newEphemeralKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, pub: priv.Public()}, nil
}

// PublicKey returns the public half, for checking.
func (k *Key) PublicKey() *Key { return &Key{pub: k.pub} }

// PublicKeyPEM is the public key as a PEM "PUBLIC KEY" block.
func (k *Key) PublicKeyPEM() ([]byte, error) { return cryptoutils.MarshalPublicKeyToPEM(k.pub) }

// Fingerprint names the key: "sha256:<hex>" of its PKIX encoding.
func (k *Key) Fingerprint() string {
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return "sha256:?"
	}
	s := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(s[:])
}

// String describes the key without its secret: algorithm and fingerprint.
func (k *Key) String() string {
	alg, _ := k.algorithm()
	return alg + " " + k.Fingerprint()
}

// GoString keeps %#v from printing the private key.
func (k *Key) GoString() string { return "anchor.Key(" + k.String() + ")" }

func (k *Key) algorithm() (string, error) {
	switch p := k.pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key on %s: want P-256", p.Curve.Params().Name)
		}
		return algECDSAP256, nil
	case ed25519.PublicKey:
		return algEd25519, nil
	}
	return "", fmt.Errorf("unsupported key type %T: want ECDSA P-256 or Ed25519", k.pub)
}

// signatureSigner is the key as a sigstore signature.Signer (ECDSA with
// SHA-256, or pure Ed25519), for notes.
func (k *Key) signatureSigner() (signature.Signer, error) {
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		return signature.LoadECDSASigner(p, crypto.SHA256)
	case ed25519.PrivateKey:
		return signature.LoadED25519Signer(p)
	}
	return nil, errors.New("no private key")
}

// signatureVerifier is the key as a sigstore signature.Verifier; prehash
// selects Ed25519ph (what bundles over a digest use) over pure Ed25519.
func (k *Key) signatureVerifier(prehash bool) (signature.Verifier, error) {
	switch p := k.pub.(type) {
	case *ecdsa.PublicKey:
		return signature.LoadECDSAVerifier(p, crypto.SHA256)
	case ed25519.PublicKey:
		if prehash {
			return signature.LoadED25519phVerifier(p)
		}
		return signature.LoadED25519Verifier(p)
	}
	return nil, fmt.Errorf("unsupported key type %T", k.pub)
}

// noteSigner signs a note under name origin: a C2SP Ed25519 signature, or
// an ECDSA signature with rekor-tiles' key hash (sha256 of the PKIX key).
func (k *Key) noteSigner(ctx context.Context, origin string) (note.Signer, error) {
	s, err := k.signatureSigner()
	if err != nil {
		return nil, err
	}
	return rekornote.NewNoteSigner(ctx, origin, s)
}

// noteVerifier checks a note's signature by this key under name origin.
func (k *Key) noteVerifier(origin string) (note.Verifier, error) {
	v, err := k.signatureVerifier(false)
	if err != nil {
		return nil, err
	}
	return rekornote.NewNoteVerifier(origin, v)
}

// keypair is the key as sigstore-go's sign.Keypair. prehash makes an
// Ed25519 key sign as Ed25519ph: a transparency log's hashedrekord entry
// holds a digest, and only a prehashed signature verifies against one.
func (k *Key) keypair(prehash bool) sign.Keypair { return &keypair{k: k, prehash: prehash} }

type keypair struct {
	k       *Key
	prehash bool
}

var _ sign.Keypair = (*keypair)(nil)

func (p *keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	switch p.k.pub.(type) {
	case ed25519.PublicKey:
		if p.prehash {
			return protocommon.HashAlgorithm_SHA2_512
		}
		return protocommon.HashAlgorithm_HASH_ALGORITHM_UNSPECIFIED
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (p *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	switch p.k.pub.(type) {
	case ed25519.PublicKey:
		if p.prehash {
			return protocommon.PublicKeyDetails_PKIX_ED25519_PH
		}
		return protocommon.PublicKeyDetails_PKIX_ED25519
	}
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

// GetHint is the public key's hint in the bundle: base64 of sha256(PKIX),
// as sigstore-go's own keypairs.
func (p *keypair) GetHint() []byte {
	der, err := x509.MarshalPKIXPublicKey(p.k.pub)
	if err != nil {
		return nil
	}
	s := sha256.Sum256(der)
	return []byte(base64.StdEncoding.EncodeToString(s[:]))
}

func (p *keypair) GetKeyAlgorithm() string {
	if _, ok := p.k.pub.(ed25519.PublicKey); ok {
		return "ED25519"
	}
	return "ECDSA"
}

func (p *keypair) GetPublicKey() crypto.PublicKey { return p.k.pub }

func (p *keypair) GetPublicKeyPem() (string, error) {
	b, err := p.k.PublicKeyPEM()
	return string(b), err
}

// SignData signs data and returns the signature and what was signed: a
// digest, except for pure Ed25519, which signs the data itself.
func (p *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	if p.k.priv == nil {
		return nil, nil, errors.New("sign: a public key cannot sign")
	}
	switch priv := p.k.priv.(type) {
	case ed25519.PrivateKey:
		if !p.prehash {
			sig, err := priv.Sign(rand.Reader, data, crypto.Hash(0))
			return sig, data, err
		}
		d := sha512.Sum512(data)
		sig, err := priv.Sign(rand.Reader, d[:], &ed25519.Options{Hash: crypto.SHA512})
		return sig, d[:], err
	default:
		d := sha256.Sum256(data)
		sig, err := p.k.priv.Sign(rand.Reader, d[:], crypto.SHA256)
		return sig, d[:], err
	}
}

// NoteVerifier is the C2SP signed-note verifier of anchors of origin signed
// by k, for golang.org/x/mod/sumdb/note.Open: what a third party checks an
// anchor file with.
func NoteVerifier(k *Key, origin string) (note.Verifier, error) { return k.noteVerifier(origin) }
