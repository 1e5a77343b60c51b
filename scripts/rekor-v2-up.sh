#!/usr/bin/env bash
# rekor-v2-up.sh — start a real Rekor v2 (rekor-tiles v2.3.0,
# cmd/rekor-server/posix) and a real RFC 3161 timestamp authority
# (timestamp-authority v2.1.3, cmd/timestamp-server) on 127.0.0.1 for the
# e2e suite; scripts/rekor-v2-down.sh stops them.
#
#   eval "$(scripts/rekor-v2-up.sh)"   # sets the variables below
#
#   REKOR_V2_URL          the write API (POST /api/v2/log/entries)
#   REKOR_V2_STORAGE_DIR  the log's tiles and checkpoint (C2SP tlog-tiles
#                         layout): rekor-tiles answers only the write API,
#                         so readers serve this directory read-only over
#                         HTTP, as public-good serves its tiles as static
#                         objects
#   REKOR_V2_PUBLIC_KEY   the log's Ed25519 public key (PEM file)
#   REKOR_V2_ORIGIN       the checkpoint origin: the host a reader's baseUrl
#                         must have (sigstore-go checks it)
#   TSA_URL               the timestamp authority (POST /api/v1/timestamp,
#                         GET /api/v1/timestamp/certchain)
#
# Binaries come from scripts/build-servers.sh (built once per tools module).
# State (PIDs, run directory) goes to $REKOR_V2_STATE (default
# .ci/cache/rekor-v2/state), which rekor-v2-down.sh reads to stop exactly
# what this started. Every listener binds to 127.0.0.1: rekor-tiles has an
# address flag for each; the timestamp server's metrics listener is patched
# to TIMESTAMP_SERVER_METRICS_ADDRESS (see build-servers.sh), so it runs
# beside rekor-server v1 (scripts/rekor-up.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HTTP_PORT=${REKOR_V2_HTTP_PORT:-13100}
GRPC_PORT=${REKOR_V2_GRPC_PORT:-13101}
METRICS_PORT=${REKOR_V2_METRICS_PORT:-13102}
TSA_PORT=${TSA_PORT:-13200}
TSA_METRICS_PORT=${TSA_METRICS_PORT:-13201}
ORIGIN=127.0.0.1
STATE=${REKOR_V2_STATE:-$ROOT/.ci/cache/rekor-v2/state}

log() { printf 'rekor-v2-up: %s\n' "$*" >&2; }
t0=$SECONDS

if [[ -f $STATE ]]; then
	log "state file $STATE exists: a stack may be running; run scripts/rekor-v2-down.sh first"
	exit 1
fi

BIN=$(scripts/build-servers.sh | tail -n1)
t_build=$SECONDS

RUN=$(mktemp -d /tmp/rekor-v2-stack.XXXXXX)
mkdir -p "$(dirname "$STATE")" "$RUN/storage" "$RUN/logs"
pids=()
write_state() {
	{
		echo "REKOR_V2_RUN_DIR=$RUN"
		echo "REKOR_V2_PIDS=\"${pids[*]}\""
	} >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"
}
write_state
# shellcheck source=scripts/up-lib.sh
DOWN="$ROOT/scripts/rekor-v2-down.sh"
. "$ROOT/scripts/up-lib.sh"

# --- Rekor v2 ------------------------------------------------------------------
# An unencrypted PKCS#8 Ed25519 key, like public-good's log2025-1; the
# checkpoint's signature line carries the C2SP key hash of it and ORIGIN.
openssl genpkey -algorithm ed25519 -out "$RUN/log-key.pem" 2>/dev/null || fail "generating the log key failed"
openssl pkey -in "$RUN/log-key.pem" -pubout -out "$RUN/log-pub.pem" 2>/dev/null || fail "extracting the log public key failed"
"$BIN/rekor-tiles-posix" serve \
	--hostname="$ORIGIN" \
	--storage-dir="$RUN/storage" \
	--signer-filepath="$RUN/log-key.pem" \
	--http-address=127.0.0.1 --http-port="$HTTP_PORT" \
	--grpc-address=127.0.0.1 --grpc-port="$GRPC_PORT" \
	--http-metrics-port="$METRICS_PORT" \
	--checkpoint-interval=1s --batch-max-age=200ms \
	>"$RUN/logs/rekor-tiles.log" 2>&1 &
pids+=($!)
write_state

# --- timestamp authority ----------------------------------------------------------
# The memory signer makes a fresh key and chain each start; readers take the
# chain from /api/v1/timestamp/certchain.
TIMESTAMP_SERVER_METRICS_ADDRESS=127.0.0.1:$TSA_METRICS_PORT "$BIN/timestamp-server" serve \
	--host=127.0.0.1 --port="$TSA_PORT" --scheme=http \
	--timestamp-signer=memory --disable-ntp-monitoring \
	>"$RUN/logs/timestamp-server.log" 2>&1 &
pids+=($!)
write_state

wait_for rekor-tiles 30 curl -sf "http://127.0.0.1:$HTTP_PORT/healthz"
wait_for timestamp-server 30 curl -sf "http://127.0.0.1:$TSA_PORT/api/v1/timestamp/certchain"
# The first checkpoint (of the empty log) is published asynchronously.
wait_for "the first checkpoint" 30 test -s "$RUN/storage/checkpoint"
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || fail "process $p exited"; done

log "build $((t_build - t0))s, servers $((SECONDS - t_build))s, total $((SECONDS - t0))s"
log "state in $STATE; stop with scripts/rekor-v2-down.sh"
echo "REKOR_V2_URL=http://127.0.0.1:$HTTP_PORT"
echo "REKOR_V2_STORAGE_DIR=$RUN/storage"
echo "REKOR_V2_PUBLIC_KEY=$RUN/log-pub.pem"
echo "REKOR_V2_ORIGIN=$ORIGIN"
echo "TSA_URL=http://127.0.0.1:$TSA_PORT"
