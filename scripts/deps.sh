#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, only when missing.
# CI starts from a clean machine: nothing may be installed by hand.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# gcc + libc6-dev: the guest workload (tests/Gofer.Interop.Tests/Guest/guest) is built static on the host.
for pkg in diod qemu-system-x86 busybox-static cpio kmod tshark attr gcc libc6-dev; do
  have "$pkg" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
