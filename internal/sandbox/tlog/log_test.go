package tlog_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/swag/conv"
	"github.com/sigstore/rekor/pkg/client"
	genclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/client/index"
	"github.com/sigstore/rekor/pkg/generated/client/pubkey"
	rekortlog "github.com/sigstore/rekor/pkg/generated/client/tlog"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/util"
	rekorverify "github.com/sigstore/rekor/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
)

var (
	crypto256   = crypto.SHA256
	runtimeJSON = runtime.JSONConsumer()
)

var signer = ca.Identity{
	Identity: "https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b",
	Issuer:   "https://token.actions.githubusercontent.com",
}

// signed is a DSSE envelope over an in-toto statement and the leaf
// certificate of the key that signed it.
type signed struct {
	envelope []byte
	certPEM  []byte
	subject  string // hex sha256 of the statement's subject
	payload  []byte
}

func newCA(tb testing.TB) *ca.CA {
	tb.Helper()
	c, err := ca.New(ca.WithCurve(elliptic.P256()))
	if err != nil {
		tb.Fatalf("ca.New: %v", err)
	}
	return c
}

func newLog(tb testing.TB, opts ...tlog.Option) *tlog.Log {
	tb.Helper()
	l, err := tlog.New(opts...)
	if err != nil {
		tb.Fatalf("tlog.New: %v", err)
	}
	return l
}

// sign makes a DSSE envelope (PAE, ECDSA P-256) over a statement whose
// subject digest is derived from n.
func sign(tb testing.TB, c *ca.CA, n int, at time.Time) signed {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := c.IssueLeaf(key.Public(), signer, at)
	if err != nil {
		tb.Fatal(err)
	}
	digest := sha256.Sum256(fmt.Appendf(nil, "artifact %d", n))
	subject := hex.EncodeToString(digest[:])
	payload := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":%q}}],"predicateType":"https://aicr.run/recipe-evidence/v3","predicate":{"n":%d}}`, subject, n)
	const payloadType = "application/vnd.in-toto+json"
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
	h := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		tb.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": payloadType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return signed{envelope: env, certPEM: ca.CertPEM(cert), subject: subject, payload: payload}
}

func appendN(tb testing.TB, l *tlog.Log, c *ca.CA, from, n int, at time.Time) []*tlog.Entry {
	tb.Helper()
	var out []*tlog.Entry
	for i := from; i < from+n; i++ {
		s := sign(tb, c, i, at)
		e, err := l.AppendDSSE(s.envelope, s.certPEM, at.Add(5*time.Second))
		if err != nil {
			tb.Fatalf("AppendDSSE %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func rekorClient(tb testing.TB, l *tlog.Log) (*genclient.Rekor, string) {
	tb.Helper()
	srv := httptest.NewServer(l.Handler())
	tb.Cleanup(srv.Close)
	rc, err := client.GetRekorClient(srv.URL, client.WithRetryCount(0))
	if err != nil {
		tb.Fatalf("GetRekorClient: %v", err)
	}
	return rc, srv.URL
}

// only returns the single entry of a Rekor LogEntry map.
func only(tb testing.TB, le models.LogEntry) (string, models.LogEntryAnon) {
	tb.Helper()
	if len(le) != 1 {
		tb.Fatalf("log entry map has %d entries, want 1", len(le))
	}
	for k, v := range le {
		return k, v
	}
	panic("unreachable")
}

func TestUpstreamClientFetchesAndVerifies(t *testing.T) {
	ctx := context.Background()
	c := newCA(t)
	l := newLog(t)
	at := time.Now().AddDate(0, -25, 0)
	appended := appendN(t, l, c, 0, 5, at)
	rc, _ := rekorClient(t, l)

	// The verifier comes from the served public key, as a client would get it.
	pk, err := rc.Pubkey.GetPublicKey(pubkey.NewGetPublicKeyParams())
	if err != nil {
		t.Fatalf("GetPublicKey: %v", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pk.Payload))
	if err != nil {
		t.Fatalf("parse public key: %v", err)
	}
	verifier, err := signature.LoadVerifier(pub, crypto256)
	if err != nil {
		t.Fatal(err)
	}

	resp, err := rc.Entries.GetLogEntryByIndex(entries.NewGetLogEntryByIndexParams().WithLogIndex(2))
	if err != nil {
		t.Fatalf("GetLogEntryByIndex: %v", err)
	}
	id, entry := only(t, resp.Payload)
	if got, want := id, appended[2].EntryID; got != want {
		t.Errorf("entry ID = %s, want %s", got, want)
	}
	if got, want := *entry.LogIndex, int64(2); got != want {
		t.Errorf("logIndex = %d, want %d", got, want)
	}
	if got, want := *entry.IntegratedTime, at.Add(5*time.Second).Unix(); got != want {
		t.Errorf("integratedTime = %d, want %d", got, want)
	}
	if got, want := *entry.LogID, l.LogID(); got != want {
		t.Errorf("logID = %s, want %s", got, want)
	}
	if got, want := *entry.Verification.InclusionProof.TreeSize, int64(5); got != want {
		t.Errorf("proof tree size = %d, want %d (current size)", got, want)
	}
	if err := rekorverify.VerifyLogEntry(ctx, &entry, verifier); err != nil {
		t.Fatalf("VerifyLogEntry: %v", err)
	}
	if err := rekorverify.VerifyInclusion(ctx, &entry); err != nil {
		t.Errorf("VerifyInclusion: %v", err)
	}
	if err := rekorverify.VerifySignedEntryTimestamp(ctx, &entry, verifier); err != nil {
		t.Errorf("VerifySignedEntryTimestamp: %v", err)
	}
	if err := rekorverify.VerifyCheckpointSignature(&entry, verifier); err != nil {
		t.Errorf("VerifyCheckpointSignature: %v", err)
	}

	// The body is what rekor itself would make of it: it parses as a dsse
	// v0.0.1 entry whose payload hash is the statement's.
	body, err := base64.StdEncoding.DecodeString(entry.Body.(string))
	if err != nil {
		t.Fatal(err)
	}
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtimeJSON)
	if err != nil {
		t.Fatalf("body does not parse as a proposed entry: %v", err)
	}
	ei, err := types.UnmarshalEntry(pe)
	if err != nil {
		t.Fatalf("body does not parse as a rekor entry: %v", err)
	}
	if got, want := pe.Kind()+"/"+ei.APIVersion(), "dsse/0.0.1"; got != want {
		t.Errorf("kind = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(body)), appended[2].UUID; got != want {
		t.Errorf("leaf hash = %s, want UUID %s", got, want)
	}

	// By UUID and by entry ID.
	for _, key := range []string{appended[3].UUID, appended[3].EntryID} {
		r, err := rc.Entries.GetLogEntryByUUID(entries.NewGetLogEntryByUUIDParams().WithEntryUUID(key))
		if err != nil {
			t.Fatalf("GetLogEntryByUUID(%s): %v", key, err)
		}
		_, e := only(t, r.Payload)
		if got, want := *e.LogIndex, int64(3); got != want {
			t.Errorf("GetLogEntryByUUID(%s) logIndex = %d, want %d", key, got, want)
		}
		if err := rekorverify.VerifyLogEntry(ctx, &e, verifier); err != nil {
			t.Errorf("VerifyLogEntry by UUID: %v", err)
		}
	}

	// Unknown index: the client's typed 404.
	if _, err := rc.Entries.GetLogEntryByIndex(entries.NewGetLogEntryByIndexParams().WithLogIndex(99)); err == nil {
		t.Errorf("GetLogEntryByIndex(99) succeeded, want not found")
	} else if _, ok := err.(*entries.GetLogEntryByIndexNotFound); !ok {
		t.Errorf("GetLogEntryByIndex(99) error %T %v, want *GetLogEntryByIndexNotFound", err, err)
	}

	// Retrieve by UUIDs and indexes in one query.
	rr, err := rc.Entries.SearchLogQuery(entries.NewSearchLogQueryParams().WithEntry(&models.SearchLogQuery{
		EntryUUIDs: []string{appended[0].UUID},
		LogIndexes: []*int64{conv.Pointer(int64(4))},
	}))
	if err != nil {
		t.Fatalf("SearchLogQuery: %v", err)
	}
	if got, want := len(rr.Payload), 2; got != want {
		t.Errorf("SearchLogQuery returned %d entries, want %d", got, want)
	}
}

func TestTamperedEntryRejected(t *testing.T) {
	ctx := context.Background()
	l := newLog(t)
	appendN(t, l, newCA(t), 0, 3, time.Now())
	e, err := l.Entry(1)
	if err != nil {
		t.Fatal(err)
	}
	good := e.LogEntryAnon()
	if err := rekorverify.VerifyLogEntry(ctx, &good, l.Verifier()); err != nil {
		t.Fatalf("untampered entry: %v", err)
	}
	tests := []struct {
		name   string
		tamper func(*models.LogEntryAnon)
	}{
		{"body", func(a *models.LogEntryAnon) {
			b := bytes.Clone(e.Body)
			b[len(b)/2] ^= 1
			a.Body = base64.StdEncoding.EncodeToString(b)
		}},
		{"SET", func(a *models.LogEntryAnon) {
			s := bytes.Clone(e.SET)
			s[len(s)-1] ^= 1
			a.Verification.SignedEntryTimestamp = s
		}},
		{"integrated time", func(a *models.LogEntryAnon) { a.IntegratedTime = conv.Pointer(*a.IntegratedTime - 3600) }},
		{"log index", func(a *models.LogEntryAnon) { a.LogIndex = conv.Pointer(int64(2)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.LogEntryAnon()
			tt.tamper(&a)
			if err := rekorverify.VerifyLogEntry(ctx, &a, l.Verifier()); err == nil {
				t.Errorf("VerifyLogEntry accepted an entry with tampered %s", tt.name)
			}
		})
	}
	// A log with another key does not vouch for this entry.
	other := newLog(t)
	if err := rekorverify.VerifyLogEntry(ctx, &good, other.Verifier()); err == nil {
		t.Errorf("VerifyLogEntry accepted the entry under another log's key")
	}
}

func TestIndexSearch(t *testing.T) {
	c := newCA(t)
	l := newLog(t)
	at := time.Now()
	var subjects []signed
	var appended []*tlog.Entry
	for i := range 4 {
		s := sign(t, c, i, at)
		e, err := l.AppendDSSE(s.envelope, s.certPEM, at)
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, s)
		appended = append(appended, e)
	}
	rc, _ := rekorClient(t, l)
	search := func(q *models.SearchIndex) []string {
		t.Helper()
		r, err := rc.Index.SearchIndex(index.NewSearchIndexParams().WithQuery(q))
		if err != nil {
			t.Fatalf("SearchIndex: %v", err)
		}
		return r.Payload
	}
	payloadHash := sha256.Sum256(subjects[2].payload)
	envelopeHash := sha256.Sum256(subjects[2].envelope)
	tests := []struct {
		name string
		q    *models.SearchIndex
		want []string
	}{
		{"subject digest", &models.SearchIndex{Hash: "sha256:" + subjects[2].subject}, []string{appended[2].EntryID}},
		{"subject digest, bare upper-case hex", &models.SearchIndex{Hash: toUpper(subjects[1].subject)}, []string{appended[1].EntryID}},
		{"payload hash", &models.SearchIndex{Hash: "sha256:" + hex.EncodeToString(payloadHash[:])}, []string{appended[2].EntryID}},
		{"envelope hash", &models.SearchIndex{Hash: "sha256:" + hex.EncodeToString(envelopeHash[:])}, []string{appended[2].EntryID}},
		{"unknown", &models.SearchIndex{Hash: "sha256:" + hex.EncodeToString(make([]byte, 32))}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := search(tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("SearchIndex = %v, want %v", got, tt.want)
			}
		})
	}
	if got := search(&models.SearchIndex{Subject: signer.Identity}); len(got) != 4 {
		t.Errorf("search by certificate subject found %d entries, want 4", len(got))
	}
}

func toUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestConsistencyProof(t *testing.T) {
	c := newCA(t)
	l := newLog(t)
	appendN(t, l, c, 0, 3, time.Now())
	rc, _ := rekorClient(t, l)
	info3, err := rc.Tlog.GetLogInfo(rekortlog.NewGetLogInfoParams())
	if err != nil {
		t.Fatalf("GetLogInfo: %v", err)
	}
	appendN(t, l, c, 3, 6, time.Now())
	info9, err := rc.Tlog.GetLogInfo(rekortlog.NewGetLogInfoParams())
	if err != nil {
		t.Fatalf("GetLogInfo: %v", err)
	}
	if got, want := *info9.Payload.TreeSize, int64(9); got != want {
		t.Fatalf("tree size = %d, want %d", got, want)
	}
	// Signed tree heads verify under the log key, with Rekor's origin.
	for _, info := range []*models.LogInfo{info3.Payload, info9.Payload} {
		var sc util.SignedCheckpoint
		if err := sc.UnmarshalText([]byte(*info.SignedTreeHead)); err != nil {
			t.Fatalf("parse signed tree head: %v", err)
		}
		if !sc.Verify(l.Verifier()) {
			t.Errorf("signed tree head at size %d does not verify", *info.TreeSize)
		}
		if got, want := sc.Origin, l.Origin(); got != want {
			t.Errorf("checkpoint origin = %q, want %q", got, want)
		}
		if got, want := hex.EncodeToString(sc.Hash), *info.RootHash; got != want {
			t.Errorf("checkpoint hash = %s, want root %s", got, want)
		}
	}

	p, err := rc.Tlog.GetLogProof(rekortlog.NewGetLogProofParams().WithFirstSize(conv.Pointer(int64(3))).WithLastSize(9))
	if err != nil {
		t.Fatalf("GetLogProof: %v", err)
	}
	hashes := decodeHexes(t, p.Payload.Hashes)
	root3, root9 := decodeHex(t, *info3.Payload.RootHash), decodeHex(t, *info9.Payload.RootHash)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 3, 9, hashes, root3, root9); err != nil {
		t.Errorf("VerifyConsistency 3→9: %v", err)
	}

	// Every pair of sizes, in-process.
	for m := int64(1); m <= 9; m++ {
		for n := m; n <= 9; n++ {
			pr, err := l.ConsistencyProof(m, n)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", m, n, err)
			}
			rm, _ := l.RootHash(m)
			rn, _ := l.RootHash(n)
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(m), uint64(n), pr, rm, rn); err != nil {
				t.Errorf("VerifyConsistency %d→%d: %v", m, n, err)
			}
		}
	}

	if _, err := rc.Tlog.GetLogProof(rekortlog.NewGetLogProofParams().WithFirstSize(conv.Pointer(int64(3))).WithLastSize(10)); err == nil {
		t.Errorf("GetLogProof beyond the tree size succeeded, want 400")
	}
}

// TestTreeMatchesReference checks roots and inclusion proofs for every
// size against transparency-dev/merkle's verifier and a naive RFC 6962 root.
func TestTreeMatchesReference(t *testing.T) {
	c := newCA(t)
	l := newLog(t)
	entries := appendN(t, l, c, 0, 21, time.Now())
	var leaves [][]byte
	for _, e := range entries {
		leaves = append(leaves, rfc6962.DefaultHasher.HashLeaf(e.Body))
	}
	for n := 1; n <= len(leaves); n++ {
		root, err := l.RootHash(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveRoot(leaves[:n]); !bytes.Equal(root, want) {
			t.Errorf("root(%d) = %x, want %x", n, root, want)
		}
		// The proof returned at append time is against the tree just after it.
		e := entries[n-1]
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(n-1), uint64(n), leaves[n-1], e.InclusionProof.Hashes, root); err != nil {
			t.Errorf("append-time inclusion proof of %d: %v", n-1, err)
		}
	}
	for i := range leaves {
		e, err := l.Entry(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(len(leaves)), leaves[i], e.InclusionProof.Hashes, e.InclusionProof.RootHash); err != nil {
			t.Errorf("inclusion of %d in %d: %v", i, len(leaves), err)
		}
	}
}

func naiveRoot(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return rfc6962.DefaultHasher.HashChildren(naiveRoot(leaves[:k]), naiveRoot(leaves[k:]))
}

func TestRewindForks(t *testing.T) {
	c := newCA(t)
	l := newLog(t)
	at := time.Now()
	appendN(t, l, c, 0, 5, at)
	oldRoot, _ := l.RootHash(5)
	old3, _ := l.RootHash(3)
	if err := l.Rewind(3); err != nil {
		t.Fatalf("Rewind: %v", err)
	}
	if got, want := l.Size(), int64(3); got != want {
		t.Fatalf("size after rewind = %d, want %d", got, want)
	}
	if _, err := l.Entry(4); err == nil {
		t.Errorf("Entry(4) after rewind succeeded")
	}
	appendN(t, l, c, 100, 2, at)
	newRoot, _ := l.RootHash(5)
	if bytes.Equal(oldRoot, newRoot) {
		t.Fatalf("forked log has the same root at size 5")
	}
	// History up to the fork point is intact; the fork is detectable.
	if got, _ := l.RootHash(3); !bytes.Equal(got, old3) {
		t.Errorf("root at 3 changed by the rewind")
	}
	pr, err := l.ConsistencyProof(5, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, 5, pr, oldRoot, newRoot); err == nil {
		t.Errorf("consistency between the old and the forked size-5 trees verified")
	}
}

func TestStatusOverride(t *testing.T) {
	l := newLog(t)
	_, url := rekorClient(t, l)
	get := func() int {
		t.Helper()
		resp, err := http.Get(url + "/api/v1/log")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	appendN(t, l, newCA(t), 0, 1, time.Now())
	if got, want := get(), http.StatusOK; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	l.SetDown(true)
	if got, want := get(), http.StatusServiceUnavailable; got != want {
		t.Errorf("down: status = %d, want %d", got, want)
	}
	l.SetStatus(http.StatusTooManyRequests)
	if got, want := get(), http.StatusTooManyRequests; got != want {
		t.Errorf("status override: status = %d, want %d", got, want)
	}
	l.SetDown(false)
	if got, want := get(), http.StatusOK; got != want {
		t.Errorf("up again: status = %d, want %d", got, want)
	}
}

func TestCreateOverHTTPAndIntoto(t *testing.T) {
	ctx := context.Background()
	c := newCA(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLog(t, tlog.WithClock(func() time.Time { return now }))
	rc, _ := rekorClient(t, l)

	s := sign(t, c, 1, now)
	pe, err := types.NewProposedEntry(ctx, "dsse", "0.0.1", types.ArtifactProperties{ArtifactBytes: s.envelope, PublicKeyBytes: [][]byte{s.certPEM}})
	if err != nil {
		t.Fatal(err)
	}
	created, err := rc.Entries.CreateLogEntry(entries.NewCreateLogEntryParams().WithProposedEntry(pe))
	if err != nil {
		t.Fatalf("CreateLogEntry: %v", err)
	}
	_, e := only(t, created.Payload)
	if got, want := *e.IntegratedTime, now.Unix(); got != want {
		t.Errorf("integratedTime = %d, want %d", got, want)
	}
	if err := rekorverify.VerifyLogEntry(ctx, &e, l.Verifier()); err != nil {
		t.Errorf("VerifyLogEntry of a created entry: %v", err)
	}
	if _, err := rc.Entries.CreateLogEntry(entries.NewCreateLogEntryParams().WithProposedEntry(pe)); err == nil {
		t.Errorf("second CreateLogEntry of the same entry succeeded, want conflict")
	}

	// A DSSE envelope whose signature does not match the certificate is refused.
	bad := sign(t, c, 2, now)
	if _, err := l.AppendDSSE(bad.envelope, s.certPEM, now); err == nil {
		t.Errorf("AppendDSSE with a foreign certificate succeeded")
	}

	// intoto v0.0.2 for the legacy cosign path.
	it := sign(t, c, 3, now)
	ie, err := l.AppendIntoto(it.envelope, it.certPEM, now)
	if err != nil {
		t.Fatalf("AppendIntoto: %v", err)
	}
	if got, want := ie.Kind+"/"+ie.APIVersion, "intoto/0.0.2"; got != want {
		t.Errorf("kind = %s, want %s", got, want)
	}
	a := ie.LogEntryAnon()
	if err := rekorverify.VerifyLogEntry(ctx, &a, l.Verifier()); err != nil {
		t.Errorf("VerifyLogEntry of an intoto entry: %v", err)
	}
	if got := l.Search("sha256:" + it.subject); !slices.Equal(got, []string{ie.EntryID}) {
		t.Errorf("Search(intoto subject) = %v, want [%s]", got, ie.EntryID)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	a := newLog(t, tlog.WithSeed([]byte("demo")))
	b := newLog(t, tlog.WithSeed([]byte("demo")))
	if a.LogID() != b.LogID() {
		t.Errorf("same seed, different log IDs %s and %s", a.LogID(), b.LogID())
	}
	if got, want := a.LogID(), hex.EncodeToString(sha256Sum(a.PublicKeyDER())); got != want {
		t.Errorf("LogID = %s, want sha256 of the DER key %s", got, want)
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func decodeHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func decodeHexes(tb testing.TB, ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = decodeHex(tb, s)
	}
	return out
}
