package evidence

import "errors"

// ErrTooLarge is wrapped by every parser when its input exceeds the
// parser's size bound (MaxPointerSize, MaxManifestSize, ...).
var ErrTooLarge = errors.New("input too large")

// SchemaError reports a document that is well-formed bytes but breaks its
// format's rules. Field is a path into the document in the style of
// `attestations[0].bundle.digest` or `files[3].path`; it is empty when the
// problem is the document as a whole (invalid YAML, empty input).
type SchemaError struct {
	Field  string
	Detail string
}

func (e *SchemaError) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

func schemaErr(field, format string) *SchemaError {
	return &SchemaError{Field: field, Detail: format}
}

// joinField appends key to the field path parent.
func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	if key == "" {
		return parent
	}
	return parent + "." + key
}
