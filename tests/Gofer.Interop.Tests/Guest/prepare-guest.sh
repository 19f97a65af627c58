#!/usr/bin/env bash
# Builds the test guest: a Debian kernel (with 9p as modules) and a busybox initramfs carrying the
# checker workload and /init, plus the host-side fdlaunch helper.
#
# usage: prepare-guest.sh [OUTDIR]        (default: tests/Gofer.Interop.Tests/.guest, git-ignored)
# env:   GOFER_GUEST_KERNEL_PKG=linux-image-…-amd64 to pin the kernel package (default: what
#        linux-image-amd64 depends on now; the -cloud- flavour lacks 9p and must not be used).
#
# Everything comes from Debian packages (apt-get download + dpkg -x) and the host's gcc.
# Outputs are cached: the script exits at once when OUTDIR/stamp matches the hash of this script,
# the guest sources and the kernel package name. Prints the output directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../.guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "prepare-guest: $*" >&2; }

# One preparer at a time (parallel test processes share the cache).
exec 9>"$out/.lock"
flock 9

debs="$out/debs"
mkdir -p "$debs"

resolve_kernel() {
  if [[ -n "${GOFER_GUEST_KERNEL_PKG:-}" ]]; then echo "$GOFER_GUEST_KERNEL_PKG"; return; fi
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  if [[ -z "$pkg" ]]; then
    # No package lists yet (fresh machine): fetch them once.
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  fi
  if [[ -z "$pkg" ]]; then
    # Offline but cached: reuse the kernel package downloaded before.
    pkg=$(cat "$out/kernel-pkg" 2>/dev/null || true)
  fi
  [[ -n "$pkg" ]] || { log "cannot resolve linux-image-amd64"; exit 1; }
  [[ "$pkg" != *cloud* ]] || { log "$pkg is the cloud flavour (no 9p): pin another with GOFER_GUEST_KERNEL_PKG"; exit 1; }
  echo "$pkg"
}

kpkg=$(resolve_kernel)
hash=$( { echo "$kpkg"; cat "$here/prepare-guest.sh"; for f in $(cd "$here/guest" && ls | sort); do echo "== $f"; cat "$here/guest/$f"; done; } | sha256sum | cut -c1-16)
if [[ -f "$out/stamp" && "$(cat "$out/stamp")" == "$hash" && -f "$out/vmlinuz" && -f "$out/initramfs.cpio.gz" && -x "$out/fdlaunch" && -x "$out/checker" ]]; then
  echo "$out"
  exit 0
fi
log "building guest ($kpkg, inputs $hash) in $out"
rm -f "$out/stamp"

fetch_deb() { # package -> path of its .deb in $debs
  local pkg=$1 f
  f=$(ls "$debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [[ -z "$f" ]]; then
    # _apt cannot write into root-owned folders: download in a world-writable temp dir.
    local tmp
    tmp=$(mktemp -d)
    chmod 777 "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg" >&2) || { rm -rf "$tmp"; log "apt-get download $pkg failed"; exit 1; }
    mv "$tmp"/*.deb "$debs/"
    rm -rf "$tmp"
    f=$(ls "$debs/${pkg}_"*.deb | head -n1)
  fi
  echo "$f"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kdeb=$(fetch_deb "$kpkg")
bdeb=$(fetch_deb busybox-static)
log "unpacking $(basename "$kdeb")"
dpkg -x "$kdeb" "$work/k"
dpkg -x "$bdeb" "$work/bb"
kver=$(ls "$work/k/lib/modules" | head -n1)
[[ -n "$kver" ]] || { log "no modules in $kdeb"; exit 1; }
depmod -b "$work/k" "$kver"

root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt,modules}
cp "$work/bb/bin/busybox" "$root/bin/busybox"
# Modules in load order: what modprobe would insmod for each, first occurrence kept.
: >"$root/modules.order"
for m in 9p 9pnet_fd virtio_pci virtio_net virtio_console; do
  modprobe -d "$work/k" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko")
  case "$ko" in
    *.ko.xz) xz -dc "$ko" >"$root/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko.zst) zstd -qdc "$ko" >"$root/modules/${name%.zst}"; name=${name%.zst} ;;
    *) cp "$ko" "$root/modules/$name" ;;
  esac
  echo "$name" >>"$root/modules.order"
done
log "modules: $(tr '\n' ' ' <"$root/modules.order")"

gcc -O2 -Wall -Wextra -Werror -static -o "$root/checker" "$here/guest/checker.c"
gcc -O2 -Wall -Wextra -Werror -static -o "$root/fdrelay" "$here/guest/fdrelay.c"
install -m 0755 "$here/guest/init.sh" "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$work/initramfs.cpio.gz"

gcc -O2 -Wall -Wextra -Werror -o "$work/fdlaunch" "$here/guest/fdlaunch.c"

install -m 0644 "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz"
install -m 0644 "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
install -m 0755 "$work/fdlaunch" "$out/fdlaunch"
# The same checker binary for host-side self-tests of the workload (GuestCheckerTests).
install -m 0755 "$root/checker" "$out/checker"
echo "$kpkg" >"$out/kernel-pkg"
echo "$kver" >"$out/kernel-version"
# Old kernel packages are not needed once a newer one is in use.
for f in "$debs"/linux-image-*.deb; do [[ "$f" == "$kdeb" ]] || rm -f "$f"; done
echo "$hash" >"$out/stamp"
log "done: kernel $kver, initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1)"
echo "$out"
