package tlog

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag/conv"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/dsse"
	dssev001 "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	// hashedrekord is what signed messages are logged as (the anchors of
	// internal/anchor); registering it lets Append accept the kind.
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
	"github.com/sigstore/rekor/pkg/types/intoto"
	intotov002 "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/merkle"
)

// Defaults of a new Log.
const (
	// DefaultHostname is the checkpoint origin's host part.
	DefaultHostname = "rekor.sandbox.local"
	// DefaultTreeID is the Trillian tree ID the log claims.
	DefaultTreeID int64 = 1193050959916656506
)

// ErrNotFound is returned for an entry the log does not hold.
var ErrNotFound = errors.New("entry not found")

// Log is an in-memory Rekor v1 transparency log. Its methods are safe for
// concurrent use.
type Log struct {
	key      *ecdsa.PrivateKey
	signer   signature.SignerVerifier
	pubDER   []byte
	logID    string
	treeID   int64
	hostname string
	now      func() time.Time

	mu      sync.RWMutex
	tree    merkle.Tree
	records []*record
	byLeaf  map[string]int64   // UUID → index
	index   map[string][]int64 // lower-cased index key → indexes
	cp      map[uint64]string  // signed checkpoints by tree size, for the current history
	status  int                // non-zero: every HTTP request answers this status
}

type record struct {
	kind, apiVersion string
	body             []byte
	leafHash         []byte
	integratedTime   int64
	set              []byte
	keys             []string
}

type config struct {
	seed     []byte
	treeID   int64
	hostname string
	now      func() time.Time
}

// Option configures New.
type Option func(*config) error

// WithSeed derives the log's signing key from seed, so that a log built
// twice from one seed has the same key and log ID. Empty means random.
func WithSeed(seed []byte) Option {
	return func(c *config) error {
		c.seed = append([]byte(nil), seed...)
		return nil
	}
}

// WithTreeID sets the tree ID named in checkpoints and entry IDs. Default
// DefaultTreeID.
func WithTreeID(id int64) Option {
	return func(c *config) error {
		if id <= 0 {
			return fmt.Errorf("tree ID %d: must be positive", id)
		}
		c.treeID = id
		return nil
	}
}

// WithHostname sets the host part of the checkpoint origin
// ("<hostname> - <treeID>"). Default DefaultHostname.
func WithHostname(h string) Option {
	return func(c *config) error {
		if h == "" || strings.ContainsAny(h, " \n") {
			return fmt.Errorf("hostname %q: must be non-empty without spaces", h)
		}
		c.hostname = h
		return nil
	}
}

// WithClock sets the clock that stamps entries submitted over HTTP. Default
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("clock: nil")
		}
		c.now = now
		return nil
	}
}

// New makes an empty log with its own ECDSA P-256 key.
func New(opts ...Option) (*Log, error) {
	cfg := config{treeID: DefaultTreeID, hostname: DefaultHostname, now: time.Now}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("tlog option: %w", err)
		}
	}
	key, err := newKey(cfg.seed)
	if err != nil {
		return nil, fmt.Errorf("tlog key: %w", err)
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("tlog signer: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("tlog public key: %w", err)
	}
	id := sha256.Sum256(der)
	return &Log{
		key:      key,
		signer:   sv,
		pubDER:   der,
		logID:    hex.EncodeToString(id[:]),
		treeID:   cfg.treeID,
		hostname: cfg.hostname,
		now:      cfg.now,
		byLeaf:   map[string]int64{},
		index:    map[string][]int64{},
		cp:       map[uint64]string{},
	}, nil
}

func newKey(seed []byte) (*ecdsa.PrivateKey, error) {
	if len(seed) == 0 {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	for counter := uint32(0); counter < 1000; counter++ {
		h := sha512.New()
		h.Write(seed)
		h.Write([]byte("\x00tlog"))
		h.Write(binary.BigEndian.AppendUint32(nil, counter))
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h.Sum(nil)[:32]); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("derive key: no valid scalar")
}

// PublicKey returns the log's public key (ECDSA P-256).
func (l *Log) PublicKey() crypto.PublicKey { return l.key.Public() }

// PublicKeyDER returns the log's public key as PKIX DER.
func (l *Log) PublicKeyDER() []byte { return bytes.Clone(l.pubDER) }

// PublicKeyPEM returns the log's public key as a PEM "PUBLIC KEY" block.
func (l *Log) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: l.pubDER})
}

// Verifier returns a verifier for the log's signatures (SETs, checkpoints).
func (l *Log) Verifier() signature.Verifier { return l.signer }

// LogID returns the hex SHA-256 of the log's DER public key, as Rekor
// names itself in entries and trusted roots.
func (l *Log) LogID() string { return l.logID }

// LogIDBytes returns LogID as raw bytes.
func (l *Log) LogIDBytes() []byte {
	b, _ := hex.DecodeString(l.logID)
	return b
}

// TreeID returns the tree ID named in checkpoints and entry IDs.
func (l *Log) TreeID() int64 { return l.treeID }

// Hostname returns the host part of the checkpoint origin.
func (l *Log) Hostname() string { return l.hostname }

// Origin returns the checkpoint origin line, "<hostname> - <treeID>".
func (l *Log) Origin() string { return fmt.Sprintf("%s - %d", l.hostname, l.treeID) }

// Size returns the number of entries in the log.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return int64(len(l.records))
}

// AppendDSSE appends a Rekor dsse v0.0.1 entry for a DSSE envelope (JSON, as
// submitted to Rekor) signed by the key of certPEM, integrated at
// integratedTime (whole seconds). The envelope's signatures are verified
// exactly as Rekor does before the entry is accepted.
func (l *Log) AppendDSSE(envelopeJSON, certPEM []byte, integratedTime time.Time) (*Entry, error) {
	pe, err := types.NewProposedEntry(context.Background(), dsse.KIND, dssev001.APIVERSION, types.ArtifactProperties{
		ArtifactBytes:  envelopeJSON,
		PublicKeyBytes: [][]byte{certPEM},
	})
	if err != nil {
		return nil, fmt.Errorf("append dsse: %w", err)
	}
	return l.Append(pe, integratedTime)
}

// AppendIntoto appends a Rekor intoto v0.0.2 entry (the kind cosign's legacy
// attestations are logged with) for a DSSE envelope signed by the key of
// certPEM, integrated at integratedTime.
func (l *Log) AppendIntoto(envelopeJSON, certPEM []byte, integratedTime time.Time) (*Entry, error) {
	pe, err := types.NewProposedEntry(context.Background(), intoto.KIND, intotov002.APIVERSION, types.ArtifactProperties{
		ArtifactBytes:  envelopeJSON,
		PublicKeyBytes: [][]byte{certPEM},
	})
	if err != nil {
		return nil, fmt.Errorf("append intoto: %w", err)
	}
	return l.Append(pe, integratedTime)
}

// Append validates a proposed entry as a Rekor v1 server does, canonicalizes
// it and appends it, integrated at integratedTime. An entry whose canonical
// body is already in the log is refused (Rekor answers 409).
func (l *Log) Append(pe models.ProposedEntry, integratedTime time.Time) (*Entry, error) {
	ei, err := types.CreateVersionedEntry(pe)
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	body, err := types.CanonicalizeEntry(context.Background(), ei)
	if err != nil {
		return nil, fmt.Errorf("append: canonicalize: %w", err)
	}
	keys, err := ei.IndexKeys()
	if err != nil {
		return nil, fmt.Errorf("append: index keys: %w", err)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(body)
	uuid := hex.EncodeToString(leaf)

	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.byLeaf[uuid]; ok {
		return nil, fmt.Errorf("append: %w at index %d", ErrDuplicate, i)
	}
	idx := int64(len(l.records))
	r := &record{
		kind:           pe.Kind(),
		apiVersion:     ei.APIVersion(),
		body:           body,
		leafHash:       leaf,
		integratedTime: integratedTime.Unix(),
		keys:           keys,
	}
	if r.set, err = l.signEntry(r, idx); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	l.records = append(l.records, r)
	l.tree.Append(leaf)
	clear(l.cp) // only the newest tree's checkpoint is served again
	l.byLeaf[uuid] = idx
	for _, k := range keys {
		k = strings.ToLower(k)
		l.index[k] = append(l.index[k], idx)
	}
	return l.entryLocked(idx, uint64(idx)+1)
}

// ErrDuplicate is returned when an identical entry is already in the log.
var ErrDuplicate = errors.New("entry already exists")

// signEntry signs the SET exactly as rekor-server's signEntry: the canonical
// JSON of {body, integratedTime, logID, logIndex}.
func (l *Log) signEntry(r *record, idx int64) ([]byte, error) {
	payload, err := (&models.LogEntryAnon{
		Body:           r.body,
		IntegratedTime: conv.Pointer(r.integratedTime),
		LogID:          conv.Pointer(l.logID),
		LogIndex:       conv.Pointer(idx),
	}).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("sign entry: %w", err)
	}
	canonical, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		return nil, fmt.Errorf("sign entry: canonicalize: %w", err)
	}
	sig, err := l.signer.SignMessage(bytes.NewReader(canonical))
	if err != nil {
		return nil, fmt.Errorf("sign entry: %w", err)
	}
	return sig, nil
}

// checkpointLocked returns the signed checkpoint for size, signing it once.
// Caller holds l.mu for writing, or for reading when size is cached.
func (l *Log) checkpointLocked(size uint64) (string, []byte, error) {
	root, err := l.tree.Root(size)
	if err != nil {
		return "", nil, err
	}
	if cp, ok := l.cp[size]; ok {
		return cp, root, nil
	}
	b, err := util.CreateAndSignCheckpoint(context.Background(), l.hostname, l.treeID, size, root, l.signer)
	if err != nil {
		return "", nil, fmt.Errorf("checkpoint: %w", err)
	}
	l.cp[size] = string(b)
	return string(b), root, nil
}

// Checkpoint returns the signed checkpoint (Rekor's signed tree head note)
// of the current tree, its size and root hash.
func (l *Log) Checkpoint() (note string, size int64, root []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.tree.Size()
	note, root, err = l.checkpointLocked(n)
	return note, int64(n), root, err
}

// RootHash returns the root hash of the tree of size entries.
func (l *Log) RootHash(size int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size < 0 {
		return nil, fmt.Errorf("root hash: negative size %d", size)
	}
	return l.tree.Root(uint64(size))
}

// ConsistencyProof returns the RFC 6962 consistency proof between two tree
// sizes, first <= second <= Size().
func (l *Log) ConsistencyProof(first, second int64) ([][]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if first < 0 || second < 0 {
		return nil, fmt.Errorf("consistency proof %d..%d: negative size", first, second)
	}
	return l.tree.Consistency(uint64(first), uint64(second))
}

// Entry returns the entry at index with an inclusion proof against the
// current tree and its signed checkpoint, as Rekor's GET by index.
func (l *Log) Entry(index int64) (*Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index < 0 || index >= int64(len(l.records)) {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	return l.entryLocked(index, l.tree.Size())
}

// EntryByUUID returns the entry whose UUID (64 hex) or entry ID (tree ID
// plus UUID, 80 hex) is id.
func (l *Log) EntryByUUID(id string) (*Entry, error) {
	uuid := strings.ToLower(id)
	if len(uuid) == 80 {
		if uuid[:16] != fmt.Sprintf("%016x", l.treeID) {
			return nil, fmt.Errorf("entry %s: %w", id, ErrNotFound)
		}
		uuid = uuid[16:]
	}
	l.mu.RLock()
	idx, ok := l.byLeaf[uuid]
	l.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return l.Entry(idx)
}

// Search returns the entry IDs whose index keys include key, as Rekor's
// index search: "sha256:<hex>" for in-toto subject digests, payload and
// envelope hashes and key hashes, or a certificate's e-mail/URI subject.
func (l *Log) Search(key string) []string {
	key = strings.ToLower(key)
	if !strings.Contains(key, ":") && len(key) == 64 {
		key = "sha256:" + key
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []string
	seen := map[int64]bool{}
	for _, idx := range l.index[key] {
		if seen[idx] {
			continue
		}
		seen[idx] = true
		out = append(out, l.entryID(l.records[idx].leafHash))
	}
	return out
}

// Rewind drops every entry at or after size, so that later appends fork
// the log: a test hook for a misbehaving log. Checkpoints signed before
// stay valid signatures over a history the log no longer has.
func (l *Log) Rewind(size int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size < 0 || size > int64(len(l.records)) {
		return fmt.Errorf("rewind to %d: log size is %d", size, len(l.records))
	}
	for _, r := range l.records[size:] {
		delete(l.byLeaf, hex.EncodeToString(r.leafHash))
	}
	l.records = l.records[:size]
	l.tree.Truncate(uint64(size))
	for k, idxs := range l.index {
		kept := idxs[:0]
		for _, i := range idxs {
			if i < size {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			delete(l.index, k)
		} else {
			l.index[k] = kept
		}
	}
	l.cp = map[uint64]string{}
	return nil
}

// SetStatus makes every HTTP request answer status (e.g. 503 or 429) with a
// Rekor error body; 0 restores normal service. A test hook.
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

func (l *Log) entryID(leafHash []byte) string {
	return fmt.Sprintf("%016x%s", l.treeID, hex.EncodeToString(leafHash))
}

// entryLocked builds the entry at index with a proof against size.
func (l *Log) entryLocked(index int64, size uint64) (*Entry, error) {
	r := l.records[index]
	hashes, err := l.tree.Inclusion(uint64(index), size)
	if err != nil {
		return nil, err
	}
	cp, root, err := l.checkpointLocked(size)
	if err != nil {
		return nil, err
	}
	return &Entry{
		LogIndex:       index,
		UUID:           hex.EncodeToString(r.leafHash),
		EntryID:        l.entryID(r.leafHash),
		Kind:           r.kind,
		APIVersion:     r.apiVersion,
		Body:           r.body,
		IntegratedTime: time.Unix(r.integratedTime, 0).UTC(),
		LogID:          l.logID,
		SET:            r.set,
		InclusionProof: InclusionProof{
			LogIndex:   index,
			TreeSize:   int64(size),
			RootHash:   root,
			Hashes:     hashes,
			Checkpoint: cp,
		},
	}, nil
}

// Entry is one log entry as Rekor v1 returns it.
type Entry struct {
	LogIndex       int64
	UUID           string // hex RFC 6962 leaf hash of Body: Rekor's entry UUID
	EntryID        string // 16 hex digits of the tree ID, then UUID: the key of Rekor's responses
	Kind           string // "dsse", "intoto" or "hashedrekord"
	APIVersion     string // "0.0.1" for dsse and hashedrekord, "0.0.2" for intoto
	Body           []byte // canonicalized entry, as stored in the log
	IntegratedTime time.Time
	LogID          string // hex SHA-256 of the log's DER public key
	SET            []byte // signed entry timestamp (ASN.1 ECDSA signature)
	InclusionProof InclusionProof
}

// InclusionProof proves an entry is in the tree of TreeSize entries whose
// root is RootHash; Checkpoint is the signed note for that tree.
type InclusionProof struct {
	LogIndex   int64
	TreeSize   int64
	RootHash   []byte
	Hashes     [][]byte
	Checkpoint string
}

// LogEntryAnon returns the entry in rekor's REST model.
func (e *Entry) LogEntryAnon() models.LogEntryAnon {
	hashes := make([]string, len(e.InclusionProof.Hashes))
	for i, h := range e.InclusionProof.Hashes {
		hashes[i] = hex.EncodeToString(h)
	}
	return models.LogEntryAnon{
		Body:           base64.StdEncoding.EncodeToString(e.Body),
		IntegratedTime: conv.Pointer(e.IntegratedTime.Unix()),
		LogID:          conv.Pointer(e.LogID),
		LogIndex:       conv.Pointer(e.LogIndex),
		Verification: &models.LogEntryAnonVerification{
			InclusionProof: &models.InclusionProof{
				Checkpoint: conv.Pointer(e.InclusionProof.Checkpoint),
				Hashes:     hashes,
				LogIndex:   conv.Pointer(e.InclusionProof.LogIndex),
				RootHash:   conv.Pointer(hex.EncodeToString(e.InclusionProof.RootHash)),
				TreeSize:   conv.Pointer(e.InclusionProof.TreeSize),
			},
			SignedEntryTimestamp: strfmt.Base64(e.SET),
		},
	}
}

// LogEntry returns the entry as Rekor's REST responses hold it: a one-key
// map from EntryID.
func (e *Entry) LogEntry() models.LogEntry {
	return models.LogEntry{e.EntryID: e.LogEntryAnon()}
}
