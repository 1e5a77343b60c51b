# lib.sh — what the bench/ scripts share; sourced, never run. Each script
# sets LOAD_MAX and MAX_WAIT before calling wait_quiet, and BIN before
# build_ea.

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# build_ea builds evidence-auditd from the working tree into $BIN unless EA
# names a binary already; sets EA and REV (the commit, +dirty when the tree
# differs).
build_ea() {
	if [ -n "${EA:-}" ]; then
		REV="$EA"
		return
	fi
	EA=$BIN/evidence-auditd-bench
	REV=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')
	log "building evidence-auditd ($REV) -> $EA"
	CGO_ENABLED=0 go build -trimpath -o "$EA" ./cmd/evidence-auditd
}

# wait_quiet waits, in steps of STEP seconds (default 60), up to MAX_WAIT
# seconds for the 1-minute load average to drop below LOAD_MAX — the
# machine's 2 cores are shared — then measures anyway; sets LOAD_START.
wait_quiet() {
	local step=${1:-60} waited=0
	while awk -v l="$(load1)" -v m="$LOAD_MAX" 'BEGIN { exit !(l >= m) }'; do
		if [ "$waited" -ge "$MAX_WAIT" ]; then
			log "load $(load1) still >= $LOAD_MAX after ${waited}s: measuring anyway"
			break
		fi
		log "load $(load1) >= $LOAD_MAX: waiting (${waited}s of ${MAX_WAIT}s)"
		sleep "$step"
		waited=$((waited + step))
	done
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
}
