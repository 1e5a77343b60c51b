package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeJSON decodes exactly one JSON value from data into v. Unknown
// object keys are tolerated (forward compatibility); type mismatches
// become a *SchemaError naming the field under prefix, and trailing data
// after the value is an error.
func decodeJSON(data []byte, prefix string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return schemaErr(joinField(prefix, te.Field), fmt.Sprintf("must be %s, not %s", jsonNoun(te.Type.Kind().String()), te.Value))
		}
		if errors.Is(err, io.EOF) {
			return schemaErr(prefix, "empty document")
		}
		return schemaErr(prefix, "invalid JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return schemaErr(prefix, "trailing data after the JSON value")
	}
	return nil
}

func jsonNoun(kind string) string {
	switch kind {
	case "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return kind
}
