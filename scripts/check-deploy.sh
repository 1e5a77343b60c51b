#!/usr/bin/env bash
# Checks the deployment files without a cluster or a container engine:
#   - deploy/evidence-auditd.service passes `systemd-analyze verify` with no
#     warning at all (unknown keys and bad values only warn);
#   - the Kubernetes manifests decode strictly into k8s.io/api types
#     (go test ./deploy/);
#   - the Dockerfile builds a static, non-root image.
# Called by .ci/run; needs systemd-analyze (Debian package systemd).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-analyze missing: apt-get install -y systemd" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "-- systemd-analyze verify deploy/evidence-auditd.service"
# verify checks that ExecStart's binary exists: point the unit at a fresh build.
CGO_ENABLED=0 go build -o "$tmp/evidence-auditd" ./cmd/evidence-auditd
mkdir "$tmp/unit"
sed "s|/usr/local/bin/evidence-auditd|$tmp/evidence-auditd|g" deploy/evidence-auditd.service >"$tmp/unit/evidence-auditd.service"
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp/unit/evidence-auditd.service" 2>&1) || {
	echo "$out" >&2
	exit 1
}
# Lines about other units (systemd's own, on a machine not booted with it) are not ours.
ours=$(printf '%s\n' "$out" | grep -F "evidence-auditd.service" || true)
if [ -n "$ours" ]; then
	echo "$ours" >&2
	echo "systemd-analyze verify: warnings in deploy/evidence-auditd.service" >&2
	exit 1
fi
for key in DynamicUser=yes StateDirectory=evidence-auditd ProtectSystem=strict NoNewPrivileges=yes \
	ProtectHome=yes PrivateTmp=yes RestrictAddressFamilies= SystemCallFilter=@system-service \
	'CapabilityBoundingSet=$' LoadCredential=; do
	grep -q "^$key" deploy/evidence-auditd.service || {
		echo "deploy/evidence-auditd.service lacks $key" >&2
		exit 1
	}
done

echo "-- Kubernetes manifests (strict k8s.io/api decoding)"
go test -count=1 ./deploy/

echo "-- Dockerfile"
for want in 'CGO_ENABLED=0' '^USER 65532' '^FROM gcr.io/distroless/static' ' AS build'; do
	grep -Eq "$want" deploy/Dockerfile || {
		echo "deploy/Dockerfile lacks $want" >&2
		exit 1
	}
done
echo "deploy files OK"
