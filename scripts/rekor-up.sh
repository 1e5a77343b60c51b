#!/usr/bin/env bash
# rekor-up.sh — start a real Rekor v1 (rekor-server v1.5.4 on Trillian v1.8.0
# and MariaDB) on 127.0.0.1 for the e2e suite; scripts/rekor-down.sh stops it.
#
#   scripts/rekor-up.sh            # prints REKOR_URL=... on its last line
#   eval "$(scripts/rekor-up.sh | tail -n1)"
#
# Binaries come from scripts/build-servers.sh (built once per tools module
# into .ci/bin/servers-<hash>/, so a warm start builds nothing).
# State (PIDs, URL, data directory) goes to $REKOR_STATE (default
# .ci/cache/rekor/state), which rekor-down.sh reads to stop exactly what this
# started.
#
# Listeners: MariaDB, Trillian (gRPC and metrics) and rekor-server bind to
# 127.0.0.1 on the ports below. rekor-server v1.5.4 hard-codes its Prometheus
# listener on :2112 (all interfaces); the build patches it to
# REKOR_METRICS_ADDRESS, set here to 127.0.0.1:$REKOR_METRICS_PORT, so it
# neither listens beyond loopback nor clashes with the timestamp authority
# of scripts/rekor-v2-up.sh. (Its pprof listener only opens with
# --enable_pprof, not set here.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DB_PORT=${REKOR_DB_PORT:-13306}
TLOG_RPC=${REKOR_TRILLIAN_RPC_PORT:-18090}
TLOG_HTTP=${REKOR_TRILLIAN_HTTP_PORT:-18091}
SIGNER_RPC=${REKOR_SIGNER_RPC_PORT:-18190}
SIGNER_HTTP=${REKOR_SIGNER_HTTP_PORT:-18191}
REKOR_PORT=${REKOR_PORT:-13000}
REKOR_METRICS_PORT=${REKOR_METRICS_PORT:-2112}
STATE=${REKOR_STATE:-$ROOT/.ci/cache/rekor/state}

log() { printf 'rekor-up: %s\n' "$*" >&2; }
t0=$SECONDS

if [[ -f $STATE ]]; then
	log "state file $STATE exists: a stack may be running; run scripts/rekor-down.sh first"
	exit 1
fi

# --- MariaDB from Debian -----------------------------------------------------
if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
	log "installing mariadb-server"
	# Keep the package from starting a system-wide server: we run our own.
	policy_added=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_added=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/dev/null; }
	[[ -n $policy_added ]] && rm -f /usr/sbin/policy-rc.d
fi
t_apt=$SECONDS

# --- servers, built once per tools module -------------------------------------
BIN=$(scripts/build-servers.sh | tail -n1)
SCHEMA=$(cd .ci/tools && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/google/trillian)/storage/mysql/schema/storage.sql
t_build=$SECONDS

# --- run directory and state --------------------------------------------------
RUN=$(mktemp -d /tmp/rekor-stack.XXXXXX)
mkdir -p "$(dirname "$STATE")" "$RUN/db" "$RUN/logs"
pids=()
write_state() {
	{
		echo "REKOR_URL=http://127.0.0.1:$REKOR_PORT"
		echo "REKOR_RUN_DIR=$RUN"
		echo "REKOR_PIDS=\"${pids[*]}\""
	} >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"
}
# shellcheck source=scripts/up-lib.sh
DOWN="$ROOT/scripts/rekor-down.sh"
. "$ROOT/scripts/up-lib.sh"

# --- MariaDB in a temp datadir, no systemd -------------------------------------
SOCK=$RUN/mysqld.sock
mariadb-install-db --no-defaults --datadir="$RUN/db" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$RUN/logs/install-db.log" 2>&1 ||
	fail "mariadb-install-db failed"
mariadbd --no-defaults --datadir="$RUN/db" --socket="$SOCK" --port="$DB_PORT" \
	--bind-address=127.0.0.1 --user=root --pid-file="$RUN/mysqld.pid" \
	--log-error="$RUN/logs/mariadb.log" --skip-log-bin --innodb-buffer-pool-size=64M &
pids+=($!)
write_state
wait_for mariadb 30 mariadb --no-defaults --socket="$SOCK" -uroot -e 'SELECT 1'
mariadb --no-defaults --socket="$SOCK" -uroot <<SQL || fail "database setup failed"
CREATE DATABASE trillian;
CREATE DATABASE rekor;
CREATE USER 'trillian'@'127.0.0.1' IDENTIFIED BY 'trillian';
CREATE USER 'trillian'@'localhost' IDENTIFIED BY 'trillian';
GRANT ALL ON trillian.* TO 'trillian'@'127.0.0.1';
GRANT ALL ON trillian.* TO 'trillian'@'localhost';
GRANT ALL ON rekor.* TO 'trillian'@'127.0.0.1';
GRANT ALL ON rekor.* TO 'trillian'@'localhost';
SQL
mariadb --no-defaults --socket="$SOCK" -uroot trillian <"$SCHEMA" || fail "loading Trillian schema failed"
t_db=$SECONDS

# --- Trillian -------------------------------------------------------------------
MYSQL_URI="trillian:trillian@tcp(127.0.0.1:$DB_PORT)/trillian"
"$BIN/trillian_log_server" --storage_system=mysql --quota_system=mysql --mysql_uri="$MYSQL_URI" \
	--rpc_endpoint="127.0.0.1:$TLOG_RPC" --http_endpoint="127.0.0.1:$TLOG_HTTP" \
	--alsologtostderr >"$RUN/logs/trillian_log_server.log" 2>&1 &
pids+=($!)
"$BIN/trillian_log_signer" --storage_system=mysql --quota_system=mysql --mysql_uri="$MYSQL_URI" \
	--rpc_endpoint="127.0.0.1:$SIGNER_RPC" --http_endpoint="127.0.0.1:$SIGNER_HTTP" \
	--force_master --sequencer_interval=100ms --batch_size=100 \
	--alsologtostderr >"$RUN/logs/trillian_log_signer.log" 2>&1 &
pids+=($!)
write_state
wait_for trillian_log_server 30 curl -sf "http://127.0.0.1:$TLOG_HTTP/healthz"
wait_for trillian_log_signer 30 curl -sf "http://127.0.0.1:$SIGNER_HTTP/healthz"

# --- rekor-server -----------------------------------------------------------------
# A file signer keeps the log key stable for the life of the stack (the
# default memory signer makes a new one every start).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$RUN/rekor-key.pem" 2>/dev/null ||
	fail "generating the log key failed"
REKOR_METRICS_ADDRESS=127.0.0.1:$REKOR_METRICS_PORT "$BIN/rekor-server" serve \
	--log_type=prod \
	--rekor_server.address=127.0.0.1 --port="$REKOR_PORT" --rekor_server.hostname=127.0.0.1 \
	--trillian_log_server.address=127.0.0.1 --trillian_log_server.port="$TLOG_RPC" \
	--rekor_server.signer="$RUN/rekor-key.pem" \
	--search_index.storage_provider=mysql \
	--search_index.mysql.dsn="trillian:trillian@tcp(127.0.0.1:$DB_PORT)/rekor" \
	--enable_attestation_storage=false \
	>"$RUN/logs/rekor-server.log" 2>&1 &
pids+=($!)
write_state
wait_for rekor-server 60 curl -sf "http://127.0.0.1:$REKOR_PORT/api/v1/log"
t_up=$SECONDS

log "apt $((t_apt - t0))s, build $((t_build - t_apt))s, mariadb $((t_db - t_build))s, trillian+rekor $((t_up - t_db))s, total $((t_up - t0))s"
log "state in $STATE; stop with scripts/rekor-down.sh"
echo "REKOR_URL=http://127.0.0.1:$REKOR_PORT"
