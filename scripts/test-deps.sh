#!/usr/bin/env bash
# Installs the system packages tandem's tests drive (real SIP peers, etcd,
# protoc...). Idempotent and quiet: a package is installed only when the
# command it provides is missing. Needs root (or sudo) and Debian's apt.
set -euo pipefail

# command -> Debian package. Extend this list when a test needs a new peer.
declare -A NEEDS=(
  [sipp]=sip-tester
  [baresip]=baresip-core
  [chromium]=chromium
  [ip]=iproute2
  [node]=nodejs
  [npm]=npm
  [etcd]=etcd-server
  [protoc]=protobuf-compiler
  [dig]=dnsutils
)

missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDS[$cmd]}")
done
# protoc's well-known types (google/protobuf/*.proto), which the etcd
# client's build imports; Debian only recommends them with protoc.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "test-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
