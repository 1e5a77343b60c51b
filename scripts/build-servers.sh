#!/usr/bin/env bash
# build-servers.sh — build the real servers the e2e suite runs against, from
# the tools module .ci/tools (versions pinned in its go.mod), and print the
# directory that holds them on the last line:
#
#   rekor-server         Rekor v1.5.4                                (scripts/rekor-up.sh)
#   trillian_log_server  Trillian v1.8.0                             (scripts/rekor-up.sh)
#   trillian_log_signer  Trillian v1.8.0                             (scripts/rekor-up.sh)
#   rekor-tiles-posix    rekor-tiles v2.3.0, cmd/rekor-server/posix  (scripts/rekor-v2-up.sh)
#   timestamp-server     timestamp-authority v2.1.3                  (scripts/rekor-v2-up.sh)
#
# The binaries go to .ci/bin/servers-<key>/, key = hash of the tools go.mod,
# go.sum and this script (which holds the patches), so a warm start builds
# nothing and a changed pin or patch builds anew. One `go build` builds all
# five: they share most of their dependencies.
#
# Patches. rekor-server v1 and timestamp-server hard-code their Prometheus
# listeners on ":2112" (all interfaces, and the same port, so the two cannot
# run together: the second one exits) and their pprof listeners on ":6060".
# The build copies those two modules out of the module cache into a
# temporary directory, replaces the literals there with a loopback address
# read from the environment (sed, checked to match exactly once, plus one
# added file per package), and builds with a temporary copy of the tools
# go.mod that replaces the two modules by the patched copies (`go build
# -modfile`; the build list is unchanged, since each copy carries its own
# go.mod). Nothing of the upstream source is committed and the module cache
# stays untouched. (`go build -overlay` would be lighter, but it refuses to
# replace files beneath GOMODCACHE.)
#
#   REKOR_METRICS_ADDRESS             default 127.0.0.1:2112
#   REKOR_PPROF_ADDRESS               default 127.0.0.1:6060 (only with --enable_pprof)
#   TIMESTAMP_SERVER_METRICS_ADDRESS  default 127.0.0.1:2113
#   TIMESTAMP_SERVER_PPROF_ADDRESS    default 127.0.0.1:6061 (only with --enable-pprof)
#
# rekor-tiles needs no patch: every listener of it has an address flag (its
# metrics listener binds to --http-address on --http-metrics-port).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf 'build-servers: %s\n' "$*" >&2; }

key=$(cat .ci/tools/go.mod .ci/tools/go.sum scripts/build-servers.sh | sha256sum | cut -c1-16)
BIN=$ROOT/.ci/bin/servers-$key
names=(rekor-server trillian_log_server trillian_log_signer rekor-tiles-posix timestamp-server)
missing=
for n in "${names[@]}"; do [[ -x $BIN/$n ]] || missing=1; done
if [[ -z $missing ]]; then
	log "up to date: $BIN"
	echo "$BIN"
	exit 0
fi

t0=$SECONDS
export GOFLAGS=-mod=readonly
cd .ci/tools
log "downloading modules"
go mod download github.com/sigstore/rekor github.com/google/trillian \
	github.com/sigstore/rekor-tiles/v2 github.com/sigstore/timestamp-authority/v2
t_dl=$SECONDS

WORK=$(mktemp -d /tmp/build-servers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp go.mod "$WORK/go.mod"
cp go.sum "$WORK/go.sum" # -modfile reads the go.sum beside it

# copy_module MODULE NAME: copy MODULE's source from the module cache to
# $WORK/NAME, writable, and make the build use the copy.
copy_module() {
	local dir
	dir=$(go list -m -f '{{.Dir}}' "$1")
	cp -r "$dir" "$WORK/$2"
	chmod -R u+w "$WORK/$2"
	go mod edit -modfile="$WORK/go.mod" -replace="$1=$WORK/$2"
}

# patch_literal FILE FROM TO: replace the literal FROM by TO in FILE (in a
# copied module), exactly once; fails when upstream no longer matches.
patch_literal() {
	local file=$1 from=$2 to=$3
	if [[ $(grep -cF -- "$from" "$file") != 1 ]]; then
		log "patch: $file does not contain $from exactly once; update scripts/build-servers.sh"
		exit 1
	fi
	sed -i "s|$from|$to|" "$file"
}

# add_listen_func DIR PACKAGE: a file in the package at DIR that defines
# ciListenAddr(env, def), the address a patched listener binds to.
add_listen_func() {
	cat >"$1/zz_ci_listen.go" <<EOF
package $2

import "os"

// ciListenAddr is the address of a listener that upstream hard-codes on all
// interfaces: the environment variable env, or def (loopback). Added by
// evidence-auditd's scripts/build-servers.sh.
func ciListenAddr(env, def string) string {
	if a := os.Getenv(env); a != "" {
		return a
	}
	return def
}
EOF
}

copy_module github.com/sigstore/rekor rekor
patch_literal "$WORK/rekor/cmd/rekor-server/app/serve.go" '":2112"' 'ciListenAddr("REKOR_METRICS_ADDRESS", "127.0.0.1:2112")'
patch_literal "$WORK/rekor/cmd/rekor-server/app/root.go" '":6060"' 'ciListenAddr("REKOR_PPROF_ADDRESS", "127.0.0.1:6060")'
add_listen_func "$WORK/rekor/cmd/rekor-server/app" app
copy_module github.com/sigstore/timestamp-authority/v2 timestamp-authority
patch_literal "$WORK/timestamp-authority/pkg/server/prometheus.go" '":2112"' 'ciListenAddr("TIMESTAMP_SERVER_METRICS_ADDRESS", "127.0.0.1:2113")'
patch_literal "$WORK/timestamp-authority/pkg/server/pprof.go" '":6060"' 'ciListenAddr("TIMESTAMP_SERVER_PPROF_ADDRESS", "127.0.0.1:6061")'
add_listen_func "$WORK/timestamp-authority/pkg/server" server

log "building rekor-server v1.5.4, trillian v1.8.0, rekor-tiles v2.3.0 (posix), timestamp-server v2.1.3 into $BIN (cold: several minutes)"
rm -rf "$BIN.tmp"
mkdir -p "$BIN.tmp"
go build -trimpath -modfile="$WORK/go.mod" -o "$BIN.tmp/" \
	github.com/sigstore/rekor/cmd/rekor-server \
	github.com/google/trillian/cmd/trillian_log_server \
	github.com/google/trillian/cmd/trillian_log_signer \
	github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server \
	github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix
# rekor-tiles' command is named after its storage driver: give it a clear name.
mv "$BIN.tmp/posix" "$BIN.tmp/rekor-tiles-posix"
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
log "download $((t_dl - t0))s, build $((SECONDS - t_dl))s"
echo "$BIN"
