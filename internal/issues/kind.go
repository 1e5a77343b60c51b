package issues

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Kind is one of SPEC §7's issue kinds.
type Kind string

// Issue kinds.
const (
	KindRecert Kind = "recert" // expiring, expired, or no healthy attestation
	KindLost   Kind = "lost"   // bundle bytes no longer served
)

// Kinds lists the kinds in plan order.
var Kinds = []Kind{KindRecert, KindLost}

// Marker is the hidden line by which the auditor finds its issue for kind
// and recipe (SPEC §7).
func Marker(kind Kind, recipe string) string {
	return fmt.Sprintf("<!-- evidence-auditd:kind=%s recipe=%s -->", kind, markerName(recipe))
}

// markerQuery is the marker's text without the comment delimiters, as a
// search phrase.
func markerQuery(kind Kind, recipe string) string {
	return fmt.Sprintf("evidence-auditd:kind=%s recipe=%s", kind, markerName(recipe))
}

// markerName is the recipe as the marker spells it: a valid recipe name as
// is; any other (a malformed pointer's path can name anything) percent-
// encoded, so that the marker stays one token the marker pattern and a
// search phrase can hold — no space, quote, "-->" or control character —
// and still names exactly that recipe.
func markerName(recipe string) string {
	if evidence.ValidRecipeName(recipe) {
		return recipe
	}
	return url.PathEscape(recipe)
}

var markerRE = regexp.MustCompile(`<!-- evidence-auditd:kind=([a-z]+) recipe=([^ ]+) -->`)

// ParseMarker finds the marker in an issue body.
func ParseMarker(body string) (kind Kind, recipe string, ok bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return "", "", false
	}
	recipe, err := url.PathUnescape(m[2])
	if err != nil {
		return "", "", false
	}
	return Kind(m[1]), recipe, true
}

// hasMarker reports whether body carries exactly the marker of kind and
// recipe (a search hit for a prefix of the recipe name does not count).
func hasMarker(body string, kind Kind, recipe string) bool {
	for _, m := range markerRE.FindAllStringSubmatch(body, -1) {
		if Kind(m[1]) == kind && m[2] == markerName(recipe) {
			return true
		}
	}
	return false
}

// opMarker tags a comment with the operation that wrote it, so that a
// retried operation does not comment twice.
func opMarker(key string) string { return "<!-- evidence-auditd:op=" + key + " -->" }
