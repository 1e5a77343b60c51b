package gitrepo

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// SchemaVersion is the pointer schema PointerYAML writes by default.
const SchemaVersion = "1.0.0"

// PointerFields are the values of one schema-1.0 pointer (SPEC §2.1).
// PointerYAML writes exactly what is given: an empty string or zero time
// omits its key, so malformed pointers can be produced on purpose.
type PointerFields struct {
	// SchemaVersion is written as given; empty means SchemaVersion (1.0.0).
	SchemaVersion string
	Recipe        string
	Profile       string // empty omits the key
	AttestedAt    time.Time
	OCI           string
	Digest        string // "sha256:<64 hex>"
	PredicateType string
	Identity      string
	Issuer        string
	RekorLogIndex *int64 // nil omits the key
	// Unsigned omits the signer block (a pending pointer).
	Unsigned bool
	// Denormalized adds to the attestation entry the caches older AICR
	// pointers carried beyond schema 1.0.0 — fingerprint (from the recipe
	// name's <accelerator>-<service>-<os> prefix), criteriaMatch and
	// phaseSummary — which current loaders ignore.
	Denormalized bool
}

// PointerYAML renders p as a pointer file with the key order of the
// committed AICR pointers (reference/pointers/per-source-v1.yaml: keys
// sorted at every level).
func PointerYAML(p PointerFields) []byte {
	// The single attestation is built with a four-space indent; its first
	// line then takes the "  - " sequence marker.
	var item strings.Builder
	item.Grow(512)
	if !p.AttestedAt.IsZero() {
		item.WriteString("    attestedAt: " + p.AttestedAt.UTC().Format(time.RFC3339) + "\n")
	}
	item.WriteString("    bundle:\n")
	keyValue(&item, "      ", "digest", p.Digest)
	keyValue(&item, "      ", "oci", p.OCI)
	keyValue(&item, "      ", "predicateType", p.PredicateType)
	if !p.Unsigned {
		item.WriteString("    signer:\n")
		keyValue(&item, "      ", "identity", p.Identity)
		keyValue(&item, "      ", "issuer", p.Issuer)
		if p.RekorLogIndex != nil {
			item.WriteString("      rekorLogIndex: " + strconv.FormatInt(*p.RekorLogIndex, 10) + "\n")
		}
	}
	if p.Denormalized {
		item.WriteString(denormalized(p.Recipe))
	}
	var b strings.Builder
	b.Grow(item.Len() + 160)
	b.WriteString("attestations:\n  - ")
	b.WriteString(item.String()[4:])
	keyValue(&b, "", "profile", p.Profile)
	keyValue(&b, "", "recipe", p.Recipe)
	sv := p.SchemaVersion
	if sv == "" {
		sv = SchemaVersion
	}
	keyValue(&b, "", "schemaVersion", sv)
	return []byte(b.String())
}

// denormalized is the attestation entry's cache of fingerprint, criteria
// match and phase counts, as older AICR pointers wrote it.
func denormalized(recipe string) string {
	parts := append(strings.SplitN(recipe, "-", 4), "", "", "")
	var b strings.Builder
	b.WriteString("    fingerprint:\n")
	for _, kv := range [][2]string{{"service", parts[1]}, {"accelerator", parts[0]}, {"os", parts[2]}, {"k8sVersion", "v1.32.4"}} {
		keyValue(&b, "      ", kv[0], kv[1])
	}
	b.WriteString("    criteriaMatch:\n      matched: true\n")
	b.WriteString("    phaseSummary:\n")
	for _, ph := range []string{"deployment", "performance", "conformance"} {
		b.WriteString("      " + ph + ":\n        passed: 1\n        failed: 0\n")
	}
	return b.String()
}

// keyValue writes "indent key: value" unless value is empty.
func keyValue(b *strings.Builder, indent, key, value string) {
	if value == "" {
		return
	}
	b.WriteString(indent)
	b.WriteString(key)
	b.WriteString(": ")
	b.WriteString(scalar(value))
	b.WriteByte('\n')
}

// PerSourcePath is the current layout's path of a pointer (SPEC §2.1):
// recipes/evidence/<recipe>/<source>/<digest with ':' as '-'>.yaml, where
// source is the signer slug (evidence.SourceSlug).
func PerSourcePath(recipe, issuer, identity, digest string) string {
	return "recipes/evidence/" + recipe + "/" + evidence.SourceSlug(issuer, identity) + "/" +
		strings.ReplaceAll(digest, ":", "-") + ".yaml"
}

// FlatPath is the legacy layout's path of recipe's single, edited-in-place
// pointer: recipes/evidence/<recipe>.yaml.
func FlatPath(recipe string) string {
	return "recipes/evidence/" + recipe + ".yaml"
}

// scalar renders s as a YAML scalar for a block mapping value: plain when
// that reads back as the same string, quoted otherwise.
func scalar(s string) string {
	if plainSafe(s) {
		return s
	}
	if strings.ContainsAny(s, "\n\r") {
		return strconv.Quote(s)
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// plainSafe is a fast, conservative test for strings that YAML reads back
// as themselves without quotes: starts with a letter, has no indicator or
// space characters, and is not a boolean or null word.
func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._/@+=~-", c) >= 0:
		case c == ':' && i < len(s)-1:
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return false
	}
	return true
}
