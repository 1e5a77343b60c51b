#!/usr/bin/env bash
# rekor-v2-down.sh — stop exactly the processes scripts/rekor-v2-up.sh
# started (by the PIDs in its state file), then remove its run directory
# (the log's key, tiles and logs). Idempotent.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${REKOR_V2_STATE:-$PWD/.ci/cache/rekor-v2/state}
[[ -f $STATE ]] || exit 0
# shellcheck disable=SC1090
source "$STATE"
read -r -a pids <<<"${REKOR_V2_PIDS:-}"

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for _ in $(seq 1 100); do
	alive=
	for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	[[ -z $alive ]] && break
	sleep 0.1
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p"; done
case ${REKOR_V2_RUN_DIR:-} in /tmp/rekor-v2-stack.*) rm -rf "$REKOR_V2_RUN_DIR" ;; esac
rm -f "$STATE"
echo "rekor-v2-down: stopped ${pids[*]:-nothing}" >&2
