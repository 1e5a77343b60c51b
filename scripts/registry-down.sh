#!/usr/bin/env bash
# registry-down.sh — stop exactly the docker-registry scripts/registry-up.sh
# started (by the PID in its state file) and remove its data. Idempotent.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${REGISTRY_STATE:-$PWD/.ci/cache/registry/state}
[[ -f $STATE ]] || exit 0
# shellcheck disable=SC1090
source "$STATE"
if [[ -n ${REGISTRY_PID:-} ]]; then
	kill -TERM "$REGISTRY_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$REGISTRY_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$REGISTRY_PID" 2>/dev/null
fi
case ${REGISTRY_RUN_DIR:-} in /tmp/registry-e2e.*) rm -rf "$REGISTRY_RUN_DIR" ;; esac
rm -f "$STATE"
echo "registry-down: stopped ${REGISTRY_PID:-nothing}" >&2
