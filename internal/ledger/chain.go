package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// encV1 is the only canonical encoding of result rows so far; rows record
// which encoding hashed them (column enc) so a later one can be added
// without invalidating old rows.
const encV1 = 1

// encV1Tag opens every v1 encoding (domain separation from anything else
// that might be hashed with SHA-256).
const encV1Tag = "evidence-auditd/ledger/result/v1"

// genesisHash is the prev_hash of the first row: 32 zero bytes.
var genesisHash = "sha256:" + strings.Repeat("0", 64)

// resultRow is a results row exactly as stored. The chain hashes these stored
// values, never a re-rendering of them, so a change in how Go marshals JSON
// or formats times cannot break verification of old rows.
type resultRow struct {
	Seq              int64
	RunID            int64
	Path             string
	AddedCommit      string
	Recipe           string
	Verdict          string
	Class            string
	Detail           string
	Hint             string
	Via              string
	BundleDigest     string
	RekorLogIndex    int64
	AttestedAt       string // fixed-width UTC, "" for unknown
	AttestedAtSource string
	Age              string
	Phases           string // JSON object, keys sorted; "" for none
	Checks           string // JSON array; "" for none
	Deep             bool
	CheckedAt        string
	Enc              int
	PrevHash         string // sha256:<hex>
	Hash             string // sha256:<hex>
}

// encodeV1 is the canonical encoding of a row, version 1:
//
//	"evidence-auditd/ledger/result/v1" "\n" field{20}
//
// where each field is a netstring, <decimal byte length> ":" <bytes> ",",
// in this fixed order: seq, run_id, path, added_commit, recipe, verdict,
// class, detail, hint, via, bundle_digest, rekor_log_index, attested_at,
// attested_at_source, age, phases, checks, deep, checked_at.
// Integers are base-10 ASCII (rekor_log_index may be -1), deep is "0" or
// "1", and text fields are their stored UTF-8 bytes. Length prefixes make
// the encoding unambiguous whatever the fields contain.
func encodeV1(r *resultRow) []byte {
	var b bytes.Buffer
	b.WriteString(encV1Tag)
	b.WriteByte('\n')
	f := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(',')
	}
	i := func(n int64) { f(strconv.FormatInt(n, 10)) }
	i(r.Seq)
	i(r.RunID)
	f(r.Path)
	f(r.AddedCommit)
	f(r.Recipe)
	f(r.Verdict)
	f(r.Class)
	f(r.Detail)
	f(r.Hint)
	f(r.Via)
	f(r.BundleDigest)
	i(r.RekorLogIndex)
	f(r.AttestedAt)
	f(r.AttestedAtSource)
	f(r.Age)
	f(r.Phases)
	f(r.Checks)
	if r.Deep {
		f("1")
	} else {
		f("0")
	}
	f(r.CheckedAt)
	return b.Bytes()
}

// rowHash computes SHA-256(raw(prev) || encoding) for the row's encoding
// version, as "sha256:<hex>".
func rowHash(prev string, r *resultRow) (string, error) {
	raw, err := parseHash(prev)
	if err != nil {
		return "", fmt.Errorf("prev hash: %w", err)
	}
	var enc []byte
	switch r.Enc {
	case encV1:
		enc = encodeV1(r)
	default:
		return "", fmt.Errorf("unknown row encoding %d", r.Enc)
	}
	h := sha256.New()
	h.Write(raw)
	h.Write(enc)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func parseHash(s string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hexPart) != 64 {
		return nil, fmt.Errorf("malformed hash %q", s)
	}
	return hex.DecodeString(hexPart)
}
