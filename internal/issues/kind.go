package issues

import (
	"fmt"
	"regexp"
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
	return fmt.Sprintf("<!-- evidence-auditd:kind=%s recipe=%s -->", kind, recipe)
}

// markerQuery is the marker's text without the comment delimiters, as a
// search phrase.
func markerQuery(kind Kind, recipe string) string {
	return fmt.Sprintf("evidence-auditd:kind=%s recipe=%s", kind, recipe)
}

var markerRE = regexp.MustCompile(`<!-- evidence-auditd:kind=([a-z]+) recipe=([^ ]+) -->`)

// ParseMarker finds the marker in an issue body.
func ParseMarker(body string) (kind Kind, recipe string, ok bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return "", "", false
	}
	return Kind(m[1]), m[2], true
}

// hasMarker reports whether body carries exactly the marker of kind and
// recipe (a search hit for a prefix of the recipe name does not count).
func hasMarker(body string, kind Kind, recipe string) bool {
	for _, m := range markerRE.FindAllStringSubmatch(body, -1) {
		if Kind(m[1]) == kind && m[2] == recipe {
			return true
		}
	}
	return false
}

// opMarker tags a comment with the operation that wrote it, so that a
// retried operation does not comment twice.
func opMarker(key string) string { return "<!-- evidence-auditd:op=" + key + " -->" }
