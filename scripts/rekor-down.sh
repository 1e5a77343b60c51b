#!/usr/bin/env bash
# rekor-down.sh — stop exactly the processes scripts/rekor-up.sh started (by
# the PIDs in its state file), then remove its run directory. Idempotent.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${REKOR_STATE:-$PWD/.ci/cache/rekor/state}
[[ -f $STATE ]] || exit 0
# shellcheck disable=SC1090
source "$STATE"
read -r -a pids <<<"${REKOR_PIDS:-}"

# rekor-server and both Trillian servers together (they take 5–10 s on
# SIGTERM), MariaDB (the first PID) last, once nothing talks to it.
stop() {
	local p alive
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 150); do
		alive=
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[[ -z $alive ]] && return
		sleep 0.1
	done
	for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
}
if ((${#pids[@]} > 1)); then stop "${pids[@]:1}"; fi
if ((${#pids[@]} > 0)); then stop "${pids[0]}"; fi
case ${REKOR_RUN_DIR:-} in /tmp/rekor-stack.*) rm -rf "$REKOR_RUN_DIR" ;; esac
rm -f "$STATE"
echo "rekor-down: stopped ${pids[*]:-nothing}" >&2
