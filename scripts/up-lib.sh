# up-lib.sh — sourced by the *-up.sh scripts, never run. The caller defines
# log and write_state, and sets RUN (its run directory) and DOWN (the
# script that stops what it started).

# fail says what went wrong with the last lines of every server log, writes
# the state so that DOWN can stop what was started, runs DOWN and exits 1.
fail() {
	log "$*"
	log "logs in $RUN/logs:"
	tail -n 20 "$RUN"/logs/*.log >&2 || true
	write_state
	"$DOWN" || true
	exit 1
}

# wait_for WHAT SECONDS COMMAND... polls COMMAND until it succeeds, or fails
# naming WHAT after SECONDS.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "$what not ready after ${secs}s"
		sleep 0.1
	done
}
