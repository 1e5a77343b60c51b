#!/usr/bin/env bash
# compare-cosign.sh — DESIGN.md "Targets", against the peer: one
# `evidence-auditd run --deep` over N pointers must be >= 20x faster than a
# loop of `cosign verify-attestation` over the same N bundles (same registry,
# same run), and the normal (fast-path) run >= 100x.
#
# Usage (from anywhere in the repository; slow: not part of .ci/run):
#
#   bench/compare-cosign.sh                 # N=200
#   N=50 LOAD_MAX=3 bench/compare-cosign.sh
#
# What it does:
#   1. builds evidence-auditd from the working tree into .ci/bin/ (ignored);
#   2. builds cosign v2.6.5 from the Go module proxy into .ci/bin/cosign
#      (`go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5`; skipped
#      when .ci/bin/cosign already reports v2.6.5; ~several minutes cold on
#      2 cores). Neither binary is ever committed;
#   3. starts bench/cmd/world: a sandbox world of N good pointers (private CA,
#      Rekor v1 compatible log, in-process OCI registry with the Referrers
#      API, git repository, trusted_root.json) whose bundles are Sigstore
#      bundles v0.3 attached as OCI 1.1 referrers. With REGISTRY=debian it
#      first starts Debian's docker-registry (CNCF distribution 2.8, no
#      Referrers API: the sha256-<hex> tag schema) on a free loopback port
#      with a throw-away storage directory and the packaged configuration's
#      storage settings (in-memory blob descriptor cache; without its
#      htpasswd and all-interfaces listener), and the world copies every
#      bundle and signature there and names it in every pointer (notes:
#      real-components.md); `apt-get install -y docker-registry` first;
#   4. waits (up to MAX_WAIT seconds) for the 1-minute load average to drop
#      below LOAD_MAX, since the machine's 2 cores are shared;
#   5. times, one after the other against that one world:
#      (a) a loop of `cosign verify-attestation --new-bundle-format` over the
#          N pointers, one process per pointer, each with its own identity;
#          every single verification must succeed (exit 0, the v3 predicate
#          printed), or the script fails: a comparison against failing
#          verifications means nothing;
#      (b) one `evidence-auditd run --deep` (must exit 0 and report N verified);
#      (c) one normal `evidence-auditd run` (the fast path, after (b));
#   6. prints wall time, client CPU (user+sys of the process tree, from
#      /usr/bin/time) and peak RSS per phase, per-bundle figures, the CPU the
#      servers (the world process: in-process registry and log; and Debian's
#      registry when used) spent in each phase, the load average, the share
#      of the machine's CPU time left idle during the phase (near 0 %: both
#      cores were busy, with the auditor, the servers or other work), and
#      the ratios.
#
# cosign's flags for this private Sigstore (no TUF, no CT log, plain HTTP):
#   --trusted-root WORLD/trusted_root.json --new-bundle-format
#   --allow-http-registry --allow-insecure-registry --insecure-ignore-sct
#   --certificate-identity ID --certificate-oidc-issuer ISSUER
#   --type https://aicr.run/recipe-evidence/v3
# With --new-bundle-format the log entry is checked offline from the bundle
# (inclusion proof, checkpoint, SET), so --rekor-url is not needed.
#
# Environment:
#   N          pointers (default 200)
#   LOAD_MAX   wait for a 1-minute load average below this (default 2)
#   MAX_WAIT   give up waiting after this many seconds and measure anyway,
#              saying so (default 900)
#   WORK       scratch directory (default: a fresh mktemp -d, removed at exit
#              unless KEEP=1)
#   REFERRERS_API  true (default) or false: the registry serves the OCI 1.1
#              Referrers API, or only the sha256-<hex> tag schema (the
#              in-process registry only: Debian's has no Referrers API)
#   REGISTRY   sandbox (default) or debian
#   ARCHIVE    off (default) or on: whether evidence-auditd keeps its archive
#              (SPEC §9; on by default in a real configuration). Off, the
#              deep run does what cosign does — fetch and verify — and not
#              the one-time copy of every bundle into the archive, which a
#              first deep run with the archive on also pays
set -euo pipefail

N=${N:-200}
LOAD_MAX=${LOAD_MAX:-2}
MAX_WAIT=${MAX_WAIT:-900}
REFERRERS_API=${REFERRERS_API:-true}
REGISTRY=${REGISTRY:-sandbox}
ARCHIVE=${ARCHIVE:-off}
case $ARCHIVE in
off) export EVIDENCE_AUDITD_ARCHIVE_ENABLED=false ;;
on) export EVIDENCE_AUDITD_ARCHIVE_ENABLED=true ;;
*) echo "ARCHIVE=$ARCHIVE: want off or on" >&2; exit 2 ;;
esac
COSIGN_VERSION=v2.6.5
PREDICATE_TYPE=https://aicr.run/recipe-evidence/v3

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
BIN=$ROOT/.ci/bin
mkdir -p "$BIN"
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/compare-cosign.XXXXXX)
	[ "${KEEP:-0}" = 1 ] || CLEAN_WORK=1
fi
mkdir -p "$WORK"

# shellcheck source=bench/lib.sh
. bench/lib.sh
now() { date +%s.%N; }
# ticks of CPU (user+sys) the process $1 has used so far
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# ticks of CPU of the servers: the world process and Debian's registry
server_ticks() {
	local t
	t=$(proc_ticks "$WORLD_PID")
	if [ -n "$DREG_PID" ]; then t=$((t + $(proc_ticks "$DREG_PID"))); fi
	echo "$t"
}
TCK=$(getconf CLK_TCK)

WORLD_PID=
DREG_PID=
cleanup() {
	if [ -n "$WORLD_PID" ] && kill -0 "$WORLD_PID" 2>/dev/null; then
		kill -TERM "$WORLD_PID" 2>/dev/null || true
		wait "$WORLD_PID" 2>/dev/null || true
	fi
	if [ -n "$DREG_PID" ] && kill -0 "$DREG_PID" 2>/dev/null; then
		kill -TERM "$DREG_PID" 2>/dev/null || true
		wait "$DREG_PID" 2>/dev/null || true
	fi
	if [ "${CLEAN_WORK:-0}" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. evidence-auditd -------------------------------------------------------
build_ea

# --- 2. cosign ----------------------------------------------------------------
COSIGN=$BIN/cosign
if [ -x "$COSIGN" ] && "$COSIGN" version 2>/dev/null | grep -q "GitVersion:.*$COSIGN_VERSION"; then
	log "cosign $COSIGN_VERSION cached at $COSIGN"
else
	log "building cosign $COSIGN_VERSION from the module proxy -> $COSIGN (slow)"
	GOBIN=$BIN GOFLAGS=-buildvcs=false go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
	"$COSIGN" version 2>/dev/null | grep -q "GitVersion:.*$COSIGN_VERSION" || die "built cosign does not report $COSIGN_VERSION"
fi

# --- 3. the world -------------------------------------------------------------
WORLD_ARGS=(-referrers-api="$REFERRERS_API")
REGISTRY_LABEL="in-process sandbox (Referrers API: $REFERRERS_API)"
case $REGISTRY in
sandbox) ;;
debian)
	command -v docker-registry >/dev/null || die "Debian's registry is not installed: apt-get install -y docker-registry"
	port=5000
	while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	mkdir -p "$WORK/registry.d/data"
	cat >"$WORK/registry.d/config.yml" <<-EOF
		version: 0.1
		log:
		  level: error
		storage:
		  cache:
		    blobdescriptor: inmemory
		  filesystem:
		    rootdirectory: $WORK/registry.d/data
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$port
	EOF
	docker-registry serve "$WORK/registry.d/config.yml" >"$WORK/registry.log" 2>&1 &
	DREG_PID=$!
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" && break
		kill -0 "$DREG_PID" 2>/dev/null || { cat "$WORK/registry.log" >&2; die "docker-registry exited"; }
		sleep 0.1
	done
	curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" || die "docker-registry not ready on 127.0.0.1:$port"
	REFERRERS_API=false
	WORLD_ARGS=(-referrers-api=false -registry "127.0.0.1:$port")
	REGISTRY_LABEL="Debian docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null || echo '?') on 127.0.0.1:$port (tag schema)"
	;;
*) die "REGISTRY=$REGISTRY: want sandbox or debian" ;;
esac
WORLD_BIN=$WORK/world
go build -o "$WORLD_BIN" ./bench/cmd/world
WDIR=$WORK/world.d
log "building a world of $N pointers in $WDIR ($REGISTRY registry)"
"$WORLD_BIN" -dir "$WDIR" -n "$N" "${WORLD_ARGS[@]}" 2>"$WORK/world.log" &
WORLD_PID=$!
for _ in $(seq 600); do
	[ -f "$WDIR/ready" ] && break
	kill -0 "$WORLD_PID" 2>/dev/null || { cat "$WORK/world.log" >&2; die "world exited"; }
	sleep 0.2
done
[ -f "$WDIR/ready" ] || die "world not ready after 120 s"
# shellcheck disable=SC1091
. "$WDIR/world.env"
[ "$(wc -l <"$WDIR/pointers.txt")" -eq "$N" ] || die "pointers.txt does not list $N pointers"

# cosign must not reach the public-good TUF repository or the user's cache.
export HOME=$WORK/home TUF_ROOT=$WORK/tuf
mkdir -p "$HOME" "$TUF_ROOT"

cosign_verify() { # REF IDENTITY ISSUER
	"$COSIGN" verify-attestation \
		--trusted-root "$TRUSTED_ROOT" --new-bundle-format \
		--allow-http-registry --allow-insecure-registry --insecure-ignore-sct \
		--certificate-identity "$2" --certificate-oidc-issuer "$3" \
		--type "$PREDICATE_TYPE" "$1"
}
export -f cosign_verify
export COSIGN TRUSTED_ROOT PREDICATE_TYPE

# Untimed check of the flags on the first pointer (and warm page cache).
read -r ref id iss <"$WDIR/pointers.txt"
if ! cosign_verify "$ref" "$id" "$iss" >"$WORK/cosign-probe.out" 2>"$WORK/cosign-probe.err"; then
	cat "$WORK/cosign-probe.err" >&2
	die "cosign verify-attestation fails on $ref: see above"
fi
grep -q '"payloadType"' "$WORK/cosign-probe.out" || die "cosign printed no attestation for $ref"
"$EA" version >/dev/null 2>&1 || "$EA" --help >/dev/null 2>&1 || true

# --- 4. a quiet machine -------------------------------------------------------
wait_quiet 60

# --- 5. the three phases ------------------------------------------------------
# measure NAME CMD...: runs CMD under /usr/bin/time; records wall seconds,
# client CPU seconds (user+sys of CMD and every child it waited for), peak
# RSS (KiB) and the world process's CPU seconds over the phase.
# idle ticks (idle + iowait) of the whole machine so far, and all ticks
machine_ticks() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
declare -A WALL CPU RSS SRV LOADAT IDLE
measure() {
	local name=$1
	shift
	local t0 t1 s0 s1 rc=0
	s0=$(server_ticks)
	read -r i0 a0 < <(machine_ticks)
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	t1=$(now)
	s1=$(server_ticks)
	read -r i1 a1 < <(machine_ticks)
	IDLE[$name]=$(awk -v i="$((i1 - i0))" -v a="$((a1 - a0))" 'BEGIN { printf "%.0f%%", (a > 0) ? 100 * i / a : 0 }')
	LOADAT[$name]=$(cut -d' ' -f1 /proc/loadavg)
	read -r u s m < <(tail -n1 "$WORK/$name.time")
	WALL[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	CPU[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
	RSS[$name]=$m
	SRV[$name]=$(awk -v a="$s0" -v b="$s1" -v t="$TCK" 'BEGIN { printf "%.3f", (b - a) / t }')
	log "$name: ${WALL[$name]} s wall, ${CPU[$name]} s client CPU, load ${LOADAT[$name]} (exit $rc)"
	return "$rc"
}

# (a) the cosign loop: one process per pointer, sequential, as a CI script
# would do it. Each verification's output goes to its own file; the loop
# counts failures instead of stopping, so that all N are attempted.
COSIGN_LOOP='
fail=0; i=0
while read -r ref id iss; do
	i=$((i + 1))
	if cosign_verify "$ref" "$id" "$iss" >"$OUT/$i.out" 2>"$OUT/$i.err" &&
		grep -q "\"payloadType\"" "$OUT/$i.out"; then :; else
		fail=$((fail + 1)); echo "FAILED $ref" >&2
	fi
done <"$POINTERS"
echo "$i $fail" >"$OUT/summary"
[ "$fail" -eq 0 ]'
mkdir -p "$WORK/cosign.d"
log "(a) cosign verify-attestation x $N"
OUT=$WORK/cosign.d POINTERS=$WDIR/pointers.txt measure cosign bash -c "$COSIGN_LOOP" ||
	die "cosign failed for $(cut -d' ' -f2 "$WORK/cosign.d/summary") of $N bundles (see $WORK/cosign.err)"
read -r tried failed <"$WORK/cosign.d/summary"
[ "$tried" -eq "$N" ] && [ "$failed" -eq 0 ] || die "cosign verified $((tried - failed)) of $N"
# Every output must be a v3 statement about its own digest.
ok=0
i=0
while read -r ref _ _; do
	i=$((i + 1))
	dig=${ref##*@sha256:}
	payload=$(grep -o '"payload":"[^"]*"' "$WORK/cosign.d/$i.out" | head -n1 | cut -d'"' -f4 | base64 -d 2>/dev/null || true)
	case $payload in *"$PREDICATE_TYPE"*"$dig"* | *"$dig"*"$PREDICATE_TYPE"*) ok=$((ok + 1)) ;; esac
done <"$WDIR/pointers.txt"
[ "$ok" -eq "$N" ] || die "only $ok of $N cosign outputs are v3 statements about their digest"

# evidence-auditd's summary must show every pointer verified.
check_run() { # NAME
	grep -Eq "^$N pointer versions: $N verified, 0 verified-with-failures, (0 archived, )?0 rekor-only, 0 invalid, 0 no-verdict" "$WORK/$1.out" ||
		die "$1: summary does not report $N verified: $(cat "$WORK/$1.out")"
}
log "(b) evidence-auditd run --deep"
measure deep "$EA" run -c "$CONFIG" --deep || die "deep run failed: $(tail -n5 "$WORK/deep.err")"
check_run deep
log "(c) evidence-auditd run (fast path)"
measure fast "$EA" run -c "$CONFIG" || die "fast-path run failed: $(tail -n5 "$WORK/fast.err")"
check_run fast
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 6. report ----------------------------------------------------------------
ms() { awk -v x="$1" -v n="$N" 'BEGIN { printf "%.2f", 1000 * x / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo
echo "compare-cosign: N=$N pointers, cosign $COSIGN_VERSION vs evidence-auditd $REV, $(nproc) cores"
echo "registry: $REGISTRY_LABEL; evidence-auditd's archive: $ARCHIVE; load average at start: $LOAD_START, at end: $LOAD_END"
printf '%-26s %9s %11s %10s %12s %10s %12s %6s %5s\n' phase wall_s ms/bundle client_cpu cpu_ms/bundle peak_rss server_cpu_s load1 idle
for p in cosign deep fast; do
	case $p in cosign) label="cosign loop (a)" ;; deep) label="evidence-auditd --deep (b)" ;; fast) label="evidence-auditd fast (c)" ;; esac
	printf '%-26s %9s %11s %10s %12s %8sMiB %12s %6s %5s\n' "$label" "${WALL[$p]}" "$(ms "${WALL[$p]}")" "${CPU[$p]}" \
		"$(ms "${CPU[$p]}")" "$((RSS[$p] / 1024))" "${SRV[$p]}" "${LOADAT[$p]}" "${IDLE[$p]}"
done
echo "speed-up (wall): deep $(ratio "${WALL[cosign]}" "${WALL[deep]}")x (target >= 20x), fast path $(ratio "${WALL[cosign]}" "${WALL[fast]}")x (target >= 100x)"
echo "client CPU ratio: deep $(ratio "${CPU[cosign]}" "${CPU[deep]}")x, fast path $(ratio "${CPU[cosign]}" "${CPU[fast]}")x"
echo "every one of the $N cosign verifications succeeded; both evidence-auditd runs reported $N verified"
