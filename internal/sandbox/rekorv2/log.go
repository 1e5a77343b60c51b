package rekorv2

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
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor-tiles/v2/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore/pkg/signature"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/merkle"
)

// DefaultOrigin is the checkpoint origin of a new Log: the host part of the
// base URL a trusted root names it by. A log served on loopback is named by
// its listener's host (WithOrigin("127.0.0.1")), as rekor-tiles is started
// with --hostname equal to the host clients reach it at.
const DefaultOrigin = "log2025-1.rekor.sandbox.local"

// Kind and APIVersion of every entry: Rekor v2 logs only hashedrekord v0.0.2.
const (
	Kind       = "hashedrekord"
	APIVersion = "0.0.2"
)

// Errors of Add.
var (
	// ErrInvalidEntry: the request is incomplete, names an algorithm the log
	// does not accept, or its signature does not verify (HTTP 400).
	ErrInvalidEntry = errors.New("invalid hashedrekord request")
	// ErrDuplicate: an identical entry is already in the log (HTTP 409).
	ErrDuplicate = errors.New("an equivalent entry already exists in the transparency log")
	// ErrNotFound: no entry at that index.
	ErrNotFound = errors.New("entry not found")
)

// acceptedAlgorithms are rekor-tiles' default client signing algorithms
// (internal/algorithmregistry.AllowedClientSigningAlgorithms, v2.3.0).
var acceptedAlgorithms = []protocommon.PublicKeyDetails{
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256,
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256,
	protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384,
	protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512,
	protocommon.PublicKeyDetails_PKIX_ED25519,
	protocommon.PublicKeyDetails_PKIX_ED25519_PH,
}

// Log is an in-memory Rekor v2 log. Its methods are safe for concurrent use.
type Log struct {
	origin     string
	pub        crypto.PublicKey
	pubDER     []byte
	keyDetails protocommon.PublicKeyDetails
	logID      []byte // the full C2SP key hash
	noteSigner note.Signer
	forger     note.Signer // the log's name and key hint, another key
	algorithms *signature.AlgorithmRegistryConfig

	mu     sync.RWMutex
	tree   merkle.Tree
	bodies [][]byte
	byLeaf map[string]uint64 // hex leaf hash → index
	cp     map[uint64]string // signed checkpoints by tree size, for the current history
	status int               // non-zero: every HTTP request answers this status
	forge  bool              // /checkpoint serves a forged checkpoint
}

type config struct {
	seed   []byte
	origin string
	ecdsa  bool
}

// Option configures New.
type Option func(*config) error

// WithSeed derives the log's key from seed, so that a log built twice from
// one seed has the same key and log ID. Empty means random.
func WithSeed(seed []byte) Option {
	return func(c *config) error { c.seed = append([]byte(nil), seed...); return nil }
}

// WithOrigin sets the checkpoint origin: the host (no scheme, no port) of
// the base URL the log is reached at. Default DefaultOrigin.
func WithOrigin(host string) Option {
	return func(c *config) error {
		if host == "" || strings.IndexFunc(host, unicode.IsSpace) >= 0 || strings.ContainsAny(host, "+/:") {
			return fmt.Errorf("origin %q: want a host name without spaces, '+', '/' or ':'", host)
		}
		c.origin = host
		return nil
	}
}

// WithECDSAKey makes the log sign with an ECDSA P-256 key instead of
// Ed25519 (rekor-tiles accepts both; public-good log2025-1 uses Ed25519).
func WithECDSAKey() Option {
	return func(c *config) error { c.ecdsa = true; return nil }
}

// New makes an empty log with its own key (Ed25519 unless WithECDSAKey).
func New(opts ...Option) (*Log, error) {
	cfg := config{origin: DefaultOrigin}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("rekorv2 option: %w", err)
		}
	}
	sv, details, err := newSigner(cfg.seed, cfg.ecdsa, "rekorv2")
	if err != nil {
		return nil, fmt.Errorf("rekorv2 key: %w", err)
	}
	forgerSV, _, err := newSigner(nil, cfg.ecdsa, "")
	if err != nil {
		return nil, fmt.Errorf("rekorv2 forger key: %w", err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("rekorv2 key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("rekorv2 public key: %w", err)
	}
	_, logID, err := rekornote.KeyHash(cfg.origin, pub)
	if err != nil {
		return nil, fmt.Errorf("rekorv2 key hash: %w", err)
	}
	ns, err := rekornote.NewNoteSigner(context.Background(), cfg.origin, sv)
	if err != nil {
		return nil, fmt.Errorf("rekorv2 note signer: %w", err)
	}
	fs, err := rekornote.NewNoteSigner(context.Background(), cfg.origin, forgerSV)
	if err != nil {
		return nil, fmt.Errorf("rekorv2 forger: %w", err)
	}
	algs, err := signature.NewAlgorithmRegistryConfig(acceptedAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("rekorv2 algorithms: %w", err)
	}
	return &Log{
		origin: cfg.origin, pub: pub, pubDER: der, keyDetails: details, logID: logID,
		noteSigner: ns, forger: forgedHint{Signer: fs, hash: ns.KeyHash()}, algorithms: algs,
		byLeaf: map[string]uint64{}, cp: map[uint64]string{},
	}, nil
}

// newSigner makes the log's signer: a random key, or one derived from seed.
func newSigner(seed []byte, useECDSA bool, label string) (signature.Signer, protocommon.PublicKeyDetails, error) {
	var stream []byte
	if len(seed) > 0 {
		h := sha512.New()
		h.Write(seed)
		h.Write([]byte("\x00" + label))
		stream = h.Sum(nil)
	}
	if !useECDSA {
		var key ed25519.PrivateKey
		if stream != nil {
			key = ed25519.NewKeyFromSeed(stream[:ed25519.SeedSize])
		} else {
			var err error
			if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
				return nil, 0, err
			}
		}
		s, err := signature.LoadED25519Signer(key)
		return s, protocommon.PublicKeyDetails_PKIX_ED25519, err
	}
	var key *ecdsa.PrivateKey
	var err error
	if stream != nil {
		for counter := uint32(0); key == nil && counter < 1000; counter++ {
			d := sha256.Sum256(binary.BigEndian.AppendUint32(stream, counter))
			key, _ = ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		}
		if key == nil {
			return nil, 0, errors.New("derive key: no valid scalar")
		}
	} else if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, 0, err
	}
	s, err := signature.LoadECDSASigner(key, crypto.SHA256)
	return s, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, err
}

// forgedHint signs with another key under the log's name and key hint: a
// forger who knows the log's public identity but not its key.
type forgedHint struct {
	note.Signer
	hash uint32
}

func (f forgedHint) KeyHash() uint32 { return f.hash }

// Origin returns the checkpoint origin (the host of the log's base URL).
func (l *Log) Origin() string { return l.origin }

// PublicKey returns the log's public key (ed25519.PublicKey or
// *ecdsa.PublicKey).
func (l *Log) PublicKey() crypto.PublicKey { return l.pub }

// PublicKeyDER returns the log's public key as PKIX DER.
func (l *Log) PublicKeyDER() []byte { return append([]byte(nil), l.pubDER...) }

// KeyDetails names the key's algorithm as a trusted root does
// (PKIX_ED25519 or PKIX_ECDSA_P256_SHA_256).
func (l *Log) KeyDetails() protocommon.PublicKeyDetails { return l.keyDetails }

// LogID returns the log's full key hash — sha256(origin ‖ "\n" ‖ 0x01 ‖
// key) for Ed25519 — as the log names itself in entries and a trusted root
// names it (logId.keyId). Its first 4 bytes are the checkpoint key hint.
func (l *Log) LogID() []byte { return append([]byte(nil), l.logID...) }

// LogIDHex is LogID in lowercase hex.
func (l *Log) LogIDHex() string { return hex.EncodeToString(l.logID) }

// Size returns the number of entries in the log.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.tree.Size()
}

// Add validates a hashedrekord v0.0.2 request as rekor-tiles does (fields,
// accepted algorithm, digest size, signature against the certificate or
// key), appends the canonicalized entry and returns the transparency-log
// entry the server answers with: index, log ID, kind and version, the
// canonicalized body, and an inclusion proof against a freshly signed
// checkpoint — no integrated time, no signed entry timestamp.
func (l *Log) Add(req *pb.HashedRekordRequestV002) (*protorekor.TransparencyLogEntry, error) {
	entry, err := hashedrekord.ToLogEntry(req, l.algorithms)
	if err != nil {
		return nil, fmt.Errorf("add: %w: %v", ErrInvalidEntry, err)
	}
	serialized, err := protojson.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("add: %w: %v", ErrInvalidEntry, err)
	}
	body, err := jsoncanonicalizer.Transform(serialized)
	if err != nil {
		return nil, fmt.Errorf("add: %w: canonicalize: %v", ErrInvalidEntry, err)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(body)

	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.byLeaf[hex.EncodeToString(leaf)]; ok {
		return nil, fmt.Errorf("add: %w with index %d", ErrDuplicate, i)
	}
	idx := l.tree.Size()
	l.bodies = append(l.bodies, body)
	l.tree.Append(leaf)
	l.byLeaf[hex.EncodeToString(leaf)] = idx
	clear(l.cp) // only the newest tree's checkpoint is served again
	return l.entryLocked(idx, idx+1)
}

// Entry returns the entry at index with an inclusion proof against the
// current tree and its signed checkpoint.
func (l *Log) Entry(index uint64) (*protorekor.TransparencyLogEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index >= l.tree.Size() {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	return l.entryLocked(index, l.tree.Size())
}

func (l *Log) entryLocked(index, size uint64) (*protorekor.TransparencyLogEntry, error) {
	hashes, err := l.tree.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	cp, root, err := l.checkpointLocked(size)
	if err != nil {
		return nil, err
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:    int64(index), //nolint:gosec // sizes are far below 2^63
		LogId:       &protocommon.LogId{KeyId: l.LogID()},
		KindVersion: &protorekor.KindVersion{Kind: Kind, Version: APIVersion},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   int64(index), //nolint:gosec
			RootHash:   root,
			TreeSize:   int64(size), //nolint:gosec
			Hashes:     hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: cp},
		},
		CanonicalizedBody: append([]byte(nil), l.bodies[index]...),
	}, nil
}

// checkpointLocked returns the signed checkpoint for size, signing it once.
// Caller holds l.mu for writing.
func (l *Log) checkpointLocked(size uint64) (string, []byte, error) {
	root, err := l.tree.Root(size)
	if err != nil {
		return "", nil, err
	}
	if cp, ok := l.cp[size]; ok {
		return cp, root, nil
	}
	cp, err := l.sign(size, root, l.noteSigner)
	if err != nil {
		return "", nil, err
	}
	l.cp[size] = cp
	return cp, root, nil
}

// sign makes the C2SP checkpoint note of a tree, signed by s.
func (l *Log) sign(size uint64, root []byte, s note.Signer) (string, error) {
	text := flog.Checkpoint{Origin: l.origin, Size: size, Hash: root}.Marshal()
	b, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	return string(b), nil
}

// Checkpoint returns the signed checkpoint of the current tree, its size
// and root hash.
func (l *Log) Checkpoint() (cp string, size uint64, root []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size = l.tree.Size()
	cp, root, err = l.checkpointLocked(size)
	return cp, size, root, err
}

// servedCheckpoint is what GET /checkpoint answers: the signed checkpoint,
// or with ForgeCheckpoint one for another root hash, signed by another key
// under the log's name and key hint.
func (l *Log) servedCheckpoint() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := l.tree.Size()
	cp, root, err := l.checkpointLocked(size)
	if err != nil || !l.forge {
		return cp, err
	}
	other := sha256.Sum256(append([]byte("forged "), root...))
	return l.sign(size, other[:], l.forger)
}

// RootHash returns the root hash of the tree of size entries.
func (l *Log) RootHash(size uint64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.tree.Root(size)
}

// Rewind drops every entry at or after size, so that later appends fork
// the log: a test hook for a misbehaving log (a real tile log never
// changes a published tile).
func (l *Log) Rewind(size uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > l.tree.Size() {
		return fmt.Errorf("rewind to %d: log size is %d", size, l.tree.Size())
	}
	for _, b := range l.bodies[size:] {
		delete(l.byLeaf, hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(b)))
	}
	l.bodies = l.bodies[:size]
	l.tree.Truncate(size)
	clear(l.cp)
	return nil
}

// SetStatus makes every HTTP request answer status (e.g. 503 or 429); 0
// restores normal service. A test hook.
func (l *Log) SetStatus(status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.status = status
}

// SetDown makes the HTTP API answer 503 (true) or serve normally (false).
func (l *Log) SetDown(down bool) {
	if down {
		l.SetStatus(503)
		return
	}
	l.SetStatus(0)
}

// ForgeCheckpoint makes GET /checkpoint serve (true) a checkpoint of the
// current size whose root hash is not the tree's, under the log's origin
// and key hint but signed by another key — what a log operator who lost
// the key, or a man in the middle, could serve — or the real one (false).
// Entries returned by Add keep their real checkpoints. A test hook.
func (l *Log) ForgeCheckpoint(forge bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forge = forge
}
