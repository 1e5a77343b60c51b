#!/usr/bin/env bash
# adversarial.sh — issue 15's adversarial target: an audit whose registry
# serves gzip-bomb layers and whose transparency log answers 512 MiB
# bodies must keep its peak RSS under 300 MiB, with verdicts unchanged
# (invalid/signature for the unsigned bombs, no-verdict/transient for the
# pointers that needed the log).
#
# Usage (from anywhere in the repository; slow-ish: not part of .ci/run):
#
#   bench/adversarial.sh
#   BOMBS=16 SIGNED_BOMBS=0 LOAD_MAX=3 bench/adversarial.sh
#   EA=/path/to/another/evidence-auditd bench/adversarial.sh   # e.g. an older build
#
# What it does:
#   1. builds evidence-auditd from the working tree into .ci/bin/ (ignored),
#      unless EA names a binary;
#   2. starts bench/cmd/adversarial: a sandbox world of BOMBS unsigned
#      pointers with 255 MiB gzip-bomb layers, SIGNED_BOMBS signed ones
#      (their layer is streamed and its two 63.75 MiB files that
#      verification reads are held within the memory budget), GONE pointers
#      whose bundles were deleted so the audit asks the log — which answers
#      512 MiB to every request — and GOOD ordinary pointers;
#   3. waits (up to MAX_WAIT seconds) for the 1-minute load average to drop
#      below LOAD_MAX, since the machine's 2 cores are shared;
#   4. runs one `evidence-auditd run --deep` under GNU time (wall, client
#      CPU, peak RSS), then `report --format json`, and checks every
#      pointer's verdict and class against the world's expect.tsv;
#   5. prints the figures, the load average beside them, and how many bytes
#      the 512 MiB log got out before the auditor hung up.
#
# Environment: BOMBS (16), SIGNED_BOMBS (4), GONE (3), GOOD (8), LOAD_MAX
# (2), MAX_WAIT (900), EA (binary to measure), WORK (scratch directory,
# removed at exit unless KEEP=1).
set -euo pipefail

BOMBS=${BOMBS:-16}
SIGNED_BOMBS=${SIGNED_BOMBS:-4}
GONE=${GONE:-3}
GOOD=${GOOD:-8}
LOAD_MAX=${LOAD_MAX:-2}
MAX_WAIT=${MAX_WAIT:-900}
RSS_TARGET_MIB=300

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
BIN=$ROOT/.ci/bin
mkdir -p "$BIN"
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/adversarial.XXXXXX)
	[ "${KEEP:-0}" = 1 ] || CLEAN_WORK=1
fi
mkdir -p "$WORK"

# shellcheck source=bench/lib.sh
. bench/lib.sh
[ -x /usr/bin/time ] || die "GNU time is needed for the peak RSS: apt-get install -y time"

WORLD_PID=
stop_world() {
	if [ -n "$WORLD_PID" ] && kill -0 "$WORLD_PID" 2>/dev/null; then
		kill -TERM "$WORLD_PID" 2>/dev/null || true
		wait "$WORLD_PID" 2>/dev/null || true
	fi
	WORLD_PID=
}
cleanup() {
	stop_world
	if [ "${CLEAN_WORK:-0}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. evidence-auditd -------------------------------------------------------
build_ea

# --- 2. the world -------------------------------------------------------------
WORLD_BIN=$WORK/adversarial
go build -o "$WORLD_BIN" ./bench/cmd/adversarial
WDIR=$WORK/world.d
log "building the adversarial world in $WDIR"
"$WORLD_BIN" -dir "$WDIR" -bombs "$BOMBS" -signed-bombs "$SIGNED_BOMBS" -gone "$GONE" -good "$GOOD" 2>"$WORK/world.log" &
WORLD_PID=$!
for _ in $(seq 900); do
	[ -f "$WDIR/ready" ] && break
	kill -0 "$WORLD_PID" 2>/dev/null || { cat "$WORK/world.log" >&2; die "world exited"; }
	sleep 0.2
done
[ -f "$WDIR/ready" ] || die "world not ready after 180 s"
# shellcheck disable=SC1091
. "$WDIR/world.env"

# --- 3. a quiet machine -------------------------------------------------------
wait_quiet 60

# --- 4. the audit -------------------------------------------------------------
log "run --deep over $N pointers"
rc=0
t0=$(date +%s.%N)
/usr/bin/time -f '%U %S %M' -o "$WORK/run.time" "$EA" run -c "$CONFIG" --deep >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
t1=$(date +%s.%N)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
# Findings (the bombs are invalid) exit 3; anything else is a failure.
[ "$rc" -eq 3 ] || die "run exited $rc, want 3 (findings): $(tail -n5 "$WORK/run.err")"
read -r u s m < <(tail -n1 "$WORK/run.time")
"$EA" report -c "$CONFIG" --format json -o "$WORK/report.json" 2>"$WORK/report.err" || [ -s "$WORK/report.json" ] ||
	die "report: $(tail -n5 "$WORK/report.err")"
"$WORLD_BIN" -check "$WORK/report.json" -expect "$EXPECT" || die "verdicts differ from the expected ones (above)"
stop_world
LOG_SENT=$(cat "$LOG_STATS" 2>/dev/null || echo "unknown")

# --- 5. report ----------------------------------------------------------------
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
rss=$((m / 1024))
echo
echo "adversarial: $N pointers ($BOMBS unsigned bombs, $SIGNED_BOMBS signed bombs, $GONE gone with a 512 MiB log, $GOOD good), evidence-auditd $REV, $(nproc) cores"
echo "load average at start: $LOAD_START, at end: $LOAD_END"
printf '%-22s %8s %12s %12s\n' phase wall_s client_cpu_s peak_rss
printf '%-22s %8s %12s %9sMiB\n' "run --deep" "$wall" "$cpu" "$rss"
echo "the 512 MiB log: $LOG_SENT (bytes it got out before the auditor hung up)"
if [ "$rss" -lt "$RSS_TARGET_MIB" ]; then
	echo "peak RSS $rss MiB < $RSS_TARGET_MIB MiB: target met; every verdict as expected"
else
	echo "peak RSS $rss MiB >= $RSS_TARGET_MIB MiB: target NOT met (verdicts as expected)"
fi
