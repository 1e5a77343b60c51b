// Package config resolves evidence-auditd's configuration once, before any
// I/O: defaults, then the YAML file (strict: an unknown key is an error that
// names it), then EVIDENCE_AUDITD_* environment variables, then flags (applied
// by the caller), then Validate. Secrets (the GitHub token) are accepted only
// from the environment or from a file path, never from the YAML body.
//
// config imports no other package of this module.
package config
