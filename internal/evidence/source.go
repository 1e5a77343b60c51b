package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// SourceSlugLen is the length, in hex characters, of a source slug.
const SourceSlugLen = 32

var sourceSlugRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// SourceSlug names a signer's directory in the per-source layout
// (SPEC §2.1): the first 32 lowercase hex characters of
// sha256(issuer + "\n" + identity).
func SourceSlug(issuer, identity string) string {
	sum := sha256.Sum256([]byte(issuer + "\n" + identity))
	return hex.EncodeToString(sum[:])[:SourceSlugLen]
}

// IsSourceSlug reports whether s has the shape of a source slug.
func IsSourceSlug(s string) bool { return sourceSlugRE.MatchString(s) }
