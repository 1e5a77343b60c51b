//go:build tools

// Package tools pins the servers scripts/rekor-up.sh builds: rekor-server
// v1.5.4 (the last release that builds on Go 1.26) and Trillian v1.8.0.
package tools

import (
	_ "github.com/google/trillian/cmd/trillian_log_server"
	_ "github.com/google/trillian/cmd/trillian_log_signer"
	_ "github.com/sigstore/rekor/cmd/rekor-server"
)
