#!/usr/bin/env bash
# startup.sh — issue 15's fixed start-up cost: what one `evidence-auditd run`
# costs before and around its pointers (configuration, trusted root,
# ledger, history walk, run bookkeeping, issue plan, exit) must stay under
# 50 ms for a warm ledger.
#
# It times whole runs over a world of ONE pointer whose ledger is warm
# (one deep run first), so every figure is an upper bound of the fixed
# cost: it also holds that pointer's fast-path probe (three HEADs).
#
#   bench/startup.sh                 # R=20 runs
#   R=50 LOAD_MAX=3 bench/startup.sh
#
# Environment: R (runs, default 20), LOAD_MAX (2), MAX_WAIT (600), WORK.
set -euo pipefail

R=${R:-20}
LOAD_MAX=${LOAD_MAX:-2}
MAX_WAIT=${MAX_WAIT:-600}

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
BIN=$ROOT/.ci/bin
mkdir -p "$BIN"
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/startup.XXXXXX)
	CLEAN_WORK=1
fi
# shellcheck source=bench/lib.sh
. bench/lib.sh
WORLD_PID=
cleanup() {
	if [ -n "$WORLD_PID" ] && kill -0 "$WORLD_PID" 2>/dev/null; then
		kill -TERM "$WORLD_PID" 2>/dev/null || true
		wait "$WORLD_PID" 2>/dev/null || true
	fi
	if [ "${CLEAN_WORK:-0}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_ea
go build -o "$WORK/world" ./bench/cmd/world
"$WORK/world" -dir "$WORK/world.d" -n 1 2>"$WORK/world.log" &
WORLD_PID=$!
for _ in $(seq 300); do
	[ -f "$WORK/world.d/ready" ] && break
	kill -0 "$WORLD_PID" 2>/dev/null || { cat "$WORK/world.log" >&2; die "world exited"; }
	sleep 0.2
done
# shellcheck disable=SC1091
. "$WORK/world.d/world.env"
"$EA" run -c "$CONFIG" --deep >/dev/null 2>&1 || die "warm-up deep run failed"

wait_quiet 30

: >"$WORK/runs"
for _ in $(seq "$R"); do
	t0=$(date +%s%N)
	/usr/bin/time -f '%U %S' -o "$WORK/t" "$EA" run -c "$CONFIG" >/dev/null 2>&1 || die "run failed"
	t1=$(date +%s%N)
	read -r u s <"$WORK/t"
	echo "$(((t1 - t0) / 1000)) $u $s" >>"$WORK/runs"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

sort -n "$WORK/runs" | awk -v r="$R" -v ls="$LOAD_START" -v le="$LOAD_END" '
	{ wall[NR] = $1 / 1000; cpu[NR] = ($2 + $3) * 1000 }
	END {
		n = asort(cpu, c)
		printf "startup: %d runs of `run` over one pointer, warm ledger; load average at start: %s, at end: %s\n", r, ls, le
		printf "wall ms: min %.1f, median %.1f, max %.1f; client CPU ms: median %.0f (10 ms ticks)\n", wall[1], wall[int((NR + 1) / 2)], wall[NR], c[int((n + 1) / 2)]
		printf "target: fixed start-up <= 50 ms (these runs include one pointer, the issue plan and exit): %s\n", (wall[int((NR + 1) / 2)] <= 50 ? "met" : "NOT met")
	}'
