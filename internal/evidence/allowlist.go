package evidence

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxAllowlistSize bounds an allowlist file, in bytes.
const MaxAllowlistSize = 1 << 20

// maxAllowlistEntries bounds each list of an allowlist.
const maxAllowlistEntries = 4096

const maxPatternLen = 1024

// SignerClass is how the allowlist classifies a signer (SPEC §2.1).
type SignerClass string

// Signer classes.
const (
	SignerFirstParty SignerClass = "first-party"
	SignerCommunity  SignerClass = "community"
	SignerPartner    SignerClass = "partner"
	SignerUnlisted   SignerClass = "unlisted"
)

// Allowlist is a parsed recipes/evidence/allowlist.yaml.
type Allowlist struct {
	SchemaVersion string
	FirstParty    []AllowlistEntry
	Community     []AllowlistEntry
	Partner       []AllowlistEntry
}

// AllowlistEntry admits one signer (Source) or a family of identities
// (IdentityPattern) from one issuer. Exactly one of Source and
// IdentityPattern is set.
type AllowlistEntry struct {
	Issuer          string
	Source          string // 32-hex SourceSlug of issuer and identity
	IdentityPattern string // regexp anchored with ^…$, matched against the identity
	Label           string // optional, for humans

	re *regexp.Regexp
}

// Matches reports whether the entry admits the signer. An entry built by
// hand with an invalid or unanchored pattern matches nothing.
func (e *AllowlistEntry) Matches(issuer, identity string) bool {
	if e.Issuer != issuer {
		return false
	}
	if e.Source != "" {
		return e.Source == SourceSlug(issuer, identity)
	}
	if e.re == nil {
		re, err := compileIdentityPattern(e.IdentityPattern)
		if err != nil {
			return false
		}
		e.re = re
	}
	return e.re.MatchString(identity)
}

// Classify returns the signer's class. When a signer is on several lists
// the most trusted wins: first-party, then partner, then community. A nil
// allowlist, or no matching entry, gives SignerUnlisted.
func (a *Allowlist) Classify(issuer, identity string) SignerClass {
	if a == nil {
		return SignerUnlisted
	}
	for _, l := range []struct {
		entries []AllowlistEntry
		class   SignerClass
	}{{a.FirstParty, SignerFirstParty}, {a.Partner, SignerPartner}, {a.Community, SignerCommunity}} {
		for i := range l.entries {
			if l.entries[i].Matches(issuer, identity) {
				return l.class
			}
		}
	}
	return SignerUnlisted
}

// ParseAllowlist parses an allowlist strictly (unknown keys are errors).
// Each identityPattern must be anchored with ^ at the start and $ at the
// end, in a way that anchors every alternative (so `^a$|^b$` is accepted and
// `^a|b$` is not), and must compile. Errors are *SchemaError naming the
// field, or wrap ErrTooLarge.
func ParseAllowlist(data []byte) (*Allowlist, error) {
	if len(data) > MaxAllowlistSize {
		return nil, fmt.Errorf("allowlist: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxAllowlistSize)
	}
	root, err := decodeYAML(data, true)
	if err != nil {
		return nil, err
	}
	if isNull(root) {
		return nil, schemaErr("", "empty allowlist")
	}
	top, err := mapping(root, "", "schemaVersion", "firstParty", "community", "partner")
	if err != nil {
		return nil, err
	}
	var a Allowlist
	if a.SchemaVersion, err = parseSchemaVersion(top, ""); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		key string
		dst *[]AllowlistEntry
	}{{"firstParty", &a.FirstParty}, {"community", &a.Community}, {"partner", &a.Partner}} {
		if isNull(top[l.key]) {
			continue
		}
		items, err := sequence(top[l.key], l.key, maxAllowlistEntries)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			e, err := parseAllowlistEntry(it, fmt.Sprintf("%s[%d]", l.key, i))
			if err != nil {
				return nil, err
			}
			*l.dst = append(*l.dst, e)
		}
	}
	return &a, nil
}

func parseAllowlistEntry(n *yaml.Node, field string) (AllowlistEntry, error) {
	var e AllowlistEntry
	m, err := mapping(n, field, "issuer", "source", "identityPattern", "label")
	if err != nil {
		return e, err
	}
	if e.Issuer, err = requiredString(m, field, "issuer"); err != nil {
		return e, err
	}
	if err := checkText(joinField(field, "issuer"), e.Issuer, maxURILen); err != nil {
		return e, err
	}
	if e.Source, err = optionalString(m, field, "source"); err != nil {
		return e, err
	}
	if e.IdentityPattern, err = optionalString(m, field, "identityPattern"); err != nil {
		return e, err
	}
	if e.Label, err = optionalString(m, field, "label"); err != nil {
		return e, err
	}
	if err := checkText(joinField(field, "label"), e.Label, 256); err != nil {
		return e, err
	}
	switch {
	case e.Source != "" && e.IdentityPattern != "":
		return e, schemaErr(field, "has both source and identityPattern; want exactly one")
	case e.Source == "" && e.IdentityPattern == "":
		return e, schemaErr(field, "has neither source nor identityPattern; want exactly one")
	case e.Source != "":
		if !IsSourceSlug(e.Source) {
			return e, schemaErr(joinField(field, "source"), fmt.Sprintf("%q is not 32 lowercase hex characters", truncate(e.Source)))
		}
	default:
		re, err := compileIdentityPattern(e.IdentityPattern)
		if err != nil {
			return e, schemaErr(joinField(field, "identityPattern"), err.Error())
		}
		e.re = re
	}
	return e, nil
}

// compileIdentityPattern compiles an allowlist identity pattern, requiring
// it to be anchored at both ends: an unanchored pattern would admit any
// identity that merely contains the expected one.
func compileIdentityPattern(p string) (*regexp.Regexp, error) {
	if len(p) > maxPatternLen {
		return nil, fmt.Errorf("pattern longer than %d bytes", maxPatternLen)
	}
	if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
		return nil, fmt.Errorf("pattern %q is not anchored with ^…$", truncate(p))
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", truncate(p), err)
	}
	tree, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", truncate(p), err)
	}
	if !anchored(tree, true) || !anchored(tree, false) {
		return nil, fmt.Errorf("pattern %q is not anchored at both ends in every alternative", truncate(p))
	}
	return re, nil
}

// anchored reports whether every match of re must begin at the start of the
// text (start) or finish at its end (!start).
func anchored(re *syntax.Regexp, start bool) bool {
	switch re.Op {
	case syntax.OpBeginText:
		return start
	case syntax.OpEndText:
		return !start
	case syntax.OpCapture:
		return anchored(re.Sub[0], start)
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false
		}
		if start {
			return anchored(re.Sub[0], start)
		}
		return anchored(re.Sub[len(re.Sub)-1], start)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !anchored(s, start) {
				return false
			}
		}
		return len(re.Sub) > 0
	}
	return false
}
