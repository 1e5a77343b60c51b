#!/usr/bin/env bash
# registry-up.sh — start Debian's docker-registry (CNCF distribution 2.8) on
# 127.0.0.1 for the e2e suite: the archive registry (archive.url) and the
# target of `archive restore`. scripts/registry-down.sh stops it.
#
#   scripts/registry-up.sh            # prints REGISTRY_HOST=127.0.0.1:PORT on its last line
#   eval "$(scripts/registry-up.sh | tail -n1)"
#
# Not the packaged configuration (all interfaces, htpasswd): filesystem
# storage in a fresh directory, DELETE enabled, loopback only, no auth.
# State (PID, host, data directory) goes to $REGISTRY_STATE (default
# .ci/cache/registry/state), which registry-down.sh reads to stop exactly
# what this started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${REGISTRY_PORT:-15000}
STATE=${REGISTRY_STATE:-$ROOT/.ci/cache/registry/state}

log() { printf 'registry-up: %s\n' "$*" >&2; }

if [[ -f $STATE ]]; then
	log "state file $STATE exists: a registry may be running; run scripts/registry-down.sh first"
	exit 1
fi
if ! command -v docker-registry >/dev/null; then
	log "installing docker-registry"
	# Keep the package from starting its system-wide service: we run our own.
	policy_added=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_added=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null; }
	[[ -n $policy_added ]] && rm -f /usr/sbin/policy-rc.d
fi

RUN=$(mktemp -d /tmp/registry-e2e.XXXXXX)
mkdir -p "$(dirname "$STATE")" "$RUN/data"
cat >"$RUN/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $RUN/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
CONFIG
docker-registry serve "$RUN/config.yml" >"$RUN/registry.log" 2>&1 &
pid=$!
{
	echo "REGISTRY_HOST=127.0.0.1:$PORT"
	echo "REGISTRY_RUN_DIR=$RUN"
	echo "REGISTRY_PID=$pid"
} >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"

for _ in $(seq 1 100); do
	# Listening is ready (distribution serves /v2/ as soon as it listens);
	# bash's /dev/tcp needs no curl on a fresh machine.
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		log "docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}') ready on 127.0.0.1:$PORT (pid $pid)"
		echo "REGISTRY_HOST=127.0.0.1:$PORT"
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
log "docker-registry did not become ready; its log:"
cat "$RUN/registry.log" >&2
scripts/registry-down.sh
exit 1
