//go:build tools

// Package tools pins the servers the e2e suite runs against: rekor-server
// v1.5.4 (the last release that builds on Go 1.26) and Trillian v1.8.0
// (scripts/rekor-up.sh), and the Rekor v2 server rekor-tiles v2.3.0 (POSIX
// storage) and the RFC 3161 timestamp authority v2.1.3
// (scripts/rekor-v2-up.sh).
package tools

import (
	_ "github.com/google/trillian/cmd/trillian_log_server"
	_ "github.com/google/trillian/cmd/trillian_log_signer"
	_ "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix"
	_ "github.com/sigstore/rekor/cmd/rekor-server"
	_ "github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server"
)
