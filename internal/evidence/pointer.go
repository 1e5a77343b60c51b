package evidence

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxPointerSize bounds a pointer file, in bytes. Real pointers are under 1 KiB.
const MaxPointerSize = 1 << 20

// Limits on pointer string fields, in bytes.
const (
	maxRecipeLen   = 128
	maxOCIRefLen   = 512
	maxIdentityLen = 1024
	maxURILen      = 512
)

// Pointer is a parsed pointer file (SPEC §2.1, schema 1.0.x). ParsePointer
// checks each field's syntax; cross-field and placement rules are Validate's.
type Pointer struct {
	SchemaVersion string // as written: 1.0, 1.0.0, 1.0.N
	Recipe        string
	Profile       string // "" when the pointer has no profile
	Attestations  []Attestation
	// ExtraKeys are the keys beyond schema 1.0.0, as sorted dotted paths
	// (e.g. "attestations[0].criteriaMatch", "fingerprint").
	// They are not an error (SPEC §2.1: AICR's loader ignores them, and
	// older pointers carried fingerprint and criteriaMatch mappings); the
	// audit lists them in a warning.
	ExtraKeys []string
}

// Attestation is one signed run named by a pointer. Schema 1.0 allows exactly one.
type Attestation struct {
	// AttestedAt mirrors the signed predicate's attestedAt; it is not itself
	// signed. Required: every pointer AICR has written carries it, and it is
	// the age of last resort when neither the bundle nor the log can be read.
	AttestedAt    time.Time
	AttestedAtRaw string // the text as written, for reports
	Bundle        Bundle
	Signer        *Signer // nil: unsigned (pending) evidence
}

// Bundle locates the summary bundle.
type Bundle struct {
	OCI           string // host/repo[:tag][@digest]; the tag is ignored
	Digest        string // sha256:<64 lowercase hex>, the OCI manifest digest: the pin
	PredicateType string // see PredicateEra; not checked against the known types here
}

// Signer is the identity the pointer claims signed the bundle.
type Signer struct {
	Identity      string // certificate SAN: a workflow URI or an e-mail
	Issuer        string // OIDC issuer
	RekorLogIndex *int64 // nil when the pointer does not name the log entry
}

var (
	schemaVersionRE = regexp.MustCompile(`^1\.0(\.(0|[1-9][0-9]{0,8}))?$`)
	recipeRE        = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
	digestRE        = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	bareHexRE       = regexp.MustCompile(`^[0-9a-f]{64}$`)

	// ociRefRE is a registry-qualified OCI reference in the grammar of the
	// distribution reference package: host[:port]/path[:tag][@digest].
	ociRefRE = regexp.MustCompile(`^` +
		`((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?)` +
		`/([a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*)` +
		`(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?` +
		`(?:@(sha256:[0-9a-f]{64}))?$`)
)

// ParsePointer parses a pointer file strictly: key order is free and
// comments are allowed, but duplicate keys, aliases, wrong types, missing
// required keys, a second YAML document and malformed values are errors.
// Keys beyond the schema are collected in ExtraKeys, not judged. Every
// error is a *SchemaError naming the field, except oversized input, which
// wraps ErrTooLarge.
func ParsePointer(data []byte) (*Pointer, error) {
	if len(data) > MaxPointerSize {
		return nil, fmt.Errorf("pointer: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxPointerSize)
	}
	root, err := decodeYAML(data, true)
	if err != nil {
		return nil, err
	}
	if isNull(root) {
		return nil, schemaErr("", "empty pointer")
	}
	var p Pointer
	top, err := mappingExtra(root, "", &p.ExtraKeys, "schemaVersion", "recipe", "profile", "attestations")
	if err != nil {
		return nil, err
	}
	if p.SchemaVersion, err = parseSchemaVersion(top, ""); err != nil {
		return nil, err
	}
	if p.Recipe, err = requiredString(top, "", "recipe"); err != nil {
		return nil, err
	}
	if err := checkRecipeName("recipe", p.Recipe); err != nil {
		return nil, err
	}
	if p.Profile, err = optionalString(top, "", "profile"); err != nil {
		return nil, err
	}
	if _, present := top["profile"]; present && p.Profile == "" {
		return nil, schemaErr("profile", "must not be empty when present")
	}
	if p.Profile != "" {
		if _, _, err := ParseProfile(p.Profile); err != nil {
			return nil, schemaErr("profile", err.Error())
		}
	}
	if isNull(top["attestations"]) {
		return nil, schemaErr("attestations", "is required")
	}
	items, err := sequence(top["attestations"], "attestations", 1<<10)
	if err != nil {
		return nil, err
	}
	if len(items) != 1 {
		return nil, schemaErr("attestations", fmt.Sprintf("must hold exactly one entry in schema 1.0, has %d", len(items)))
	}
	for i, it := range items {
		a, err := parseAttestation(it, fmt.Sprintf("attestations[%d]", i), &p.ExtraKeys)
		if err != nil {
			return nil, err
		}
		p.Attestations = append(p.Attestations, a)
	}
	sort.Strings(p.ExtraKeys)
	return &p, nil
}

// parseSchemaVersion reads a schemaVersion of 1.0, 1.0.0 or 1.0.N. An
// unquoted 1.0 is a YAML float; its text is what counts.
func parseSchemaVersion(m map[string]*yaml.Node, parent string) (string, error) {
	f := joinField(parent, "schemaVersion")
	v, ok, err := scalar(m["schemaVersion"], f, "!!str", "!!float")
	if err != nil {
		return "", err
	}
	if !ok || v == "" {
		return "", schemaErr(f, "is required")
	}
	if !schemaVersionRE.MatchString(v) {
		return "", schemaErr(f, fmt.Sprintf("unsupported version %q (want 1.0.x)", v))
	}
	return v, nil
}

// ValidRecipeName reports whether name follows the recipe-name rule of
// pointer files: lowercase letters, digits, '.', '_' and '-', starting and
// ending with a letter or digit, at most 128 bytes. A name that breaks it
// (one a malformed pointer's path supplies) is never used to name a file.
func ValidRecipeName(name string) bool { return checkRecipeName("", name) == nil }

func checkRecipeName(field, name string) error {
	if len(name) > maxRecipeLen || !recipeRE.MatchString(name) {
		return schemaErr(field, fmt.Sprintf("%q is not a recipe name (lowercase letters, digits, '.', '_', '-'; at most %d bytes)", truncate(name), maxRecipeLen))
	}
	return nil
}

func parseAttestation(n *yaml.Node, field string, extra *[]string) (Attestation, error) {
	var a Attestation
	m, err := mappingExtra(n, field, extra, "attestedAt", "bundle", "signer")
	if err != nil {
		return a, err
	}
	f := joinField(field, "attestedAt")
	raw, ok, err := scalar(m["attestedAt"], f, "!!timestamp", "!!str")
	if err != nil {
		return a, err
	}
	if !ok || raw == "" {
		return a, schemaErr(f, "is required")
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return a, schemaErr(f, fmt.Sprintf("%q is not an RFC 3339 time", truncate(raw)))
	}
	a.AttestedAt, a.AttestedAtRaw = t, raw

	f = joinField(field, "bundle")
	if isNull(m["bundle"]) {
		return a, schemaErr(f, "is required")
	}
	if a.Bundle, err = parseBundle(m["bundle"], f, extra); err != nil {
		return a, err
	}
	if !isNull(m["signer"]) {
		s, err := parseSigner(m["signer"], joinField(field, "signer"), extra)
		if err != nil {
			return a, err
		}
		a.Signer = s
	}
	return a, nil
}

func parseBundle(n *yaml.Node, field string, extra *[]string) (Bundle, error) {
	var b Bundle
	m, err := mappingExtra(n, field, extra, "oci", "digest", "predicateType")
	if err != nil {
		return b, err
	}
	if b.Digest, err = requiredString(m, field, "digest"); err != nil {
		return b, err
	}
	if !digestRE.MatchString(b.Digest) {
		return b, schemaErr(joinField(field, "digest"), fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(b.Digest)))
	}
	if b.OCI, err = requiredString(m, field, "oci"); err != nil {
		return b, err
	}
	if err := checkOCIRef(joinField(field, "oci"), b.OCI, b.Digest); err != nil {
		return b, err
	}
	if b.PredicateType, err = requiredString(m, field, "predicateType"); err != nil {
		return b, err
	}
	if err := checkURI(joinField(field, "predicateType"), b.PredicateType); err != nil {
		return b, err
	}
	return b, nil
}

// checkOCIRef requires a registry-qualified reference: a host (with a dot or
// a port, or localhost) and a repository. A tag is allowed and ignored; a
// digest is allowed but must then be the bundle's digest.
func checkOCIRef(field, ref, digest string) error {
	m := ociRefRE.FindStringSubmatch(ref)
	if len(ref) > maxOCIRefLen || m == nil {
		return schemaErr(field, fmt.Sprintf("%q is not an OCI reference host/repository[:tag]", truncate(ref)))
	}
	host := m[1]
	if !strings.ContainsAny(host, ".:[") && host != "localhost" {
		return schemaErr(field, fmt.Sprintf("%q does not name a registry host", truncate(ref)))
	}
	if m[4] != "" && m[4] != digest {
		return schemaErr(field, fmt.Sprintf("reference digest %s differs from bundle.digest %s", m[4], digest))
	}
	return nil
}

// Repository returns the bundle's OCI repository, host/path, without tag or
// digest; "" when OCI is not a valid reference.
func (b Bundle) Repository() string {
	m := ociRefRE.FindStringSubmatch(b.OCI)
	if m == nil {
		return ""
	}
	return m[1] + "/" + m[2]
}

func checkURI(field, s string) error {
	if len(s) > maxURILen || strings.ContainsAny(s, " \t\r\n") || !strings.Contains(s, "://") {
		return schemaErr(field, fmt.Sprintf("%q is not a URI", truncate(s)))
	}
	return checkText(field, s, maxURILen)
}

func parseSigner(n *yaml.Node, field string, extra *[]string) (*Signer, error) {
	m, err := mappingExtra(n, field, extra, "identity", "issuer", "rekorLogIndex")
	if err != nil {
		return nil, err
	}
	var s Signer
	if s.Identity, err = requiredString(m, field, "identity"); err != nil {
		return nil, err
	}
	if err := checkText(joinField(field, "identity"), s.Identity, maxIdentityLen); err != nil {
		return nil, err
	}
	if s.Issuer, err = requiredString(m, field, "issuer"); err != nil {
		return nil, err
	}
	if err := checkText(joinField(field, "issuer"), s.Issuer, maxURILen); err != nil {
		return nil, err
	}
	if !isNull(m["rekorLogIndex"]) {
		i, err := nonNegativeInt(m["rekorLogIndex"], joinField(field, "rekorLogIndex"))
		if err != nil {
			return nil, err
		}
		s.RekorLogIndex = &i
	}
	return &s, nil
}

// truncate shortens s for error messages.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
