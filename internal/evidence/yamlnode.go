package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decodeYAML parses the first YAML document of data into a node tree and
// returns its top-level content node, or nil for an empty document. With
// single set, a second document is an error. YAML syntax errors, and any
// panic of the YAML library, come back as a *SchemaError without a field.
func decodeYAML(data []byte, single bool) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, schemaErr("", fmt.Sprintf("invalid YAML: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, schemaErr("", "invalid YAML: "+strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if single {
		var next yaml.Node
		if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
			return nil, schemaErr("", "more than one YAML document")
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// isNull reports whether n is absent or an explicit YAML null.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// mapping returns the keys of the mapping node n. Keys outside allowed,
// duplicate keys, aliases and merge keys are schema errors (with allowed
// nil, any plain key is accepted and complex keys, merge keys and aliased
// values are skipped, for documents read only in part): the formats here are written by tools and reviewed by humans, and
// a misspelled key must not pass silently.
func mapping(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, error) {
	return mappingExtra(n, field, nil, allowed...)
}

// mappingExtra is mapping that, with extra non-nil, accepts keys outside
// allowed and appends their dotted paths to *extra instead of failing; their
// values are not looked at. Duplicate, complex and merge keys stay errors.
func mappingExtra(n *yaml.Node, field string, extra *[]string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		return nil, schemaErr(field, "aliases are not allowed")
	}
	if n.Kind != yaml.MappingNode {
		return nil, schemaErr(field, "must be a mapping")
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	var seen map[string]bool // unknown keys, for the duplicate check
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if allowed == nil && (k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" || v.Kind == yaml.AliasNode) {
			continue // lenient mode reads plain keys only and ignores the rest
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			return nil, schemaErr(field, fmt.Sprintf("line %d: keys must be plain strings", k.Line))
		}
		key := k.Value
		if _, dup := out[key]; dup || seen[key] {
			return nil, schemaErr(joinField(field, key), fmt.Sprintf("duplicate key (line %d)", k.Line))
		}
		if allowed != nil && !contains(allowed, key) {
			if extra == nil {
				return nil, schemaErr(joinField(field, key), "unknown key")
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[key] = true
			*extra = append(*extra, joinField(field, key))
			continue
		}
		if v.Kind == yaml.AliasNode {
			return nil, schemaErr(joinField(field, key), "aliases are not allowed")
		}
		out[key] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sequence returns the items of the sequence node n, at most max of them.
func sequence(n *yaml.Node, field string, max int) ([]*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		return nil, schemaErr(field, "aliases are not allowed")
	}
	if n.Kind != yaml.SequenceNode {
		return nil, schemaErr(field, "must be a list")
	}
	if len(n.Content) > max {
		return nil, schemaErr(field, fmt.Sprintf("has %d entries, limit is %d", len(n.Content), max))
	}
	for i, it := range n.Content {
		if it.Kind == yaml.AliasNode {
			return nil, schemaErr(fmt.Sprintf("%s[%d]", field, i), "aliases are not allowed")
		}
	}
	return n.Content, nil
}

// scalar returns the text of a scalar node whose tag is one of tags.
// A missing or null node is "" with present false.
func scalar(n *yaml.Node, field string, tags ...string) (value string, present bool, err error) {
	if isNull(n) {
		return "", false, nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", false, schemaErr(field, "must be a "+tagNoun(tags[0]))
	}
	if !contains(tags, n.ShortTag()) {
		return "", false, schemaErr(field, "must be a "+tagNoun(tags[0]))
	}
	return n.Value, true, nil
}

func tagNoun(tag string) string {
	switch tag {
	case "!!int":
		return "integer"
	case "!!timestamp":
		return "timestamp"
	}
	return "string"
}

// requiredString returns a string scalar that must be present and non-empty.
func requiredString(m map[string]*yaml.Node, parent, key string) (string, error) {
	f := joinField(parent, key)
	v, ok, err := scalar(m[key], f, "!!str")
	if err != nil {
		return "", err
	}
	if !ok || v == "" {
		return "", schemaErr(f, "is required")
	}
	return v, nil
}

// optionalString returns a string scalar, "" when absent or null.
func optionalString(m map[string]*yaml.Node, parent, key string) (string, error) {
	v, _, err := scalar(m[key], joinField(parent, key), "!!str")
	return v, err
}

var decimalRE = regexp.MustCompile(`^-?[0-9]+$`)

// nonNegativeInt parses a decimal integer scalar that must be ≥ 0.
func nonNegativeInt(n *yaml.Node, field string) (int64, error) {
	v, _, err := scalar(n, field, "!!int")
	if err != nil {
		return 0, err
	}
	if !decimalRE.MatchString(v) {
		return 0, schemaErr(field, "must be a decimal integer")
	}
	i, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, schemaErr(field, "integer out of range")
	}
	if i < 0 {
		return 0, schemaErr(field, "must be ≥ 0")
	}
	return i, nil
}

// checkText rejects text that cannot be a single-line human value:
// invalid UTF-8, control characters, surrounding space, or more than max bytes.
func checkText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return schemaErr(field, fmt.Sprintf("longer than %d bytes", max))
	case !utf8.ValidString(s):
		return schemaErr(field, "not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return schemaErr(field, "has leading or trailing space")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return schemaErr(field, "contains control characters")
		}
	}
	return nil
}
