// Package evidence owns the file formats of the AICR evidence ecosystem
// (SPEC §2): pointer files and their repository layout, the signer
// allowlist, the source slug, predicate types and their eras, the summary
// bundle's manifest.json, the signed in-toto statement and its predicate,
// AICR's canonical recipe digest, the maintainers block of a recipe overlay,
// and CODEOWNERS.
//
// Everything here is a pure function over bytes and strings: no I/O, no
// network, no clock, no context. Every parser bounds its input size and
// never panics, whatever the bytes; fuzz targets hold it to that.
//
// A malformed file is reported, not fatal: parsers return a *SchemaError
// naming the offending field, and Inspect turns a pointer file into a list
// of Problems for the caller to record.
//
// evidence must not import any other package of this module (in particular
// not internal/audit, which consumes it); its only dependencies are the
// standard library, go.yaml.in/yaml/v3, and gopkg.in/yaml.v3 v3.0.1 in
// recipedigest.go alone: AICR's canonical recipe digest is defined by that
// module's encoder output (SPEC §2.2), which a fork need not reproduce.
package evidence
