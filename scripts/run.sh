#!/usr/bin/env bash
# Runs tandem from source on a fresh machine: installs the one build tool
# the etcd backend needs (protoc) if it is missing, then builds and runs
# `tandem run` with the given arguments (default: the single-node demo).
set -euo pipefail
cd "$(dirname "$0")/.."
if { ! command -v protoc >/dev/null 2>&1 || [ ! -f /usr/include/google/protobuf/descriptor.proto ]; } && [ -z "${PROTOC:-}" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "run: protoc is missing; install protobuf-compiler (needs root or sudo)" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "run: installing protobuf-compiler (protoc builds the etcd client)" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends protobuf-compiler libprotobuf-dev >/dev/null
fi
[ $# -eq 0 ] && set -- --config examples/demo.toml
exec cargo run --release -q -p tandem -- run "$@"
