#!/usr/bin/env bash
# Regenerates the Linux kernel's files of fuzz/corpus (linux-*, see fuzz/corpus/README.md):
#  - boots the guest suite's fd boot (tests/Gofer.Interop.Tests/Guest: a Debian kernel under QEMU mounts our
#    server with v9fs over trans=fd, runs guest/checker.c's POSIX workload, unmounts) with
#    GOFER_GUEST_RECORD_DIR set, so `gofer serve --record` writes the connection as pcapng;
#  - cuts that one connection into small self-contained pieces, one per group of checks, each prefixed with the
#    mount (Gofer.Fuzz split: whole frames, Tattach aname -> "", Twrite data cut to 64 bytes, 6 KiB per file);
#  - writes each piece to session/ and codec/, and the recorded replies to codec/NAME.replies.
# Needs what the guest suite needs (scripts/deps.sh: qemu-system-x86, busybox-static, gcc, ...; prepare-guest.sh
# downloads the kernel package). About two minutes plus the builds. Called by make-corpus.sh with --kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus
dotnet build tests/Gofer.Interop.Tests -c Release -nologo -v q >/dev/null
dotnet build fuzz/Gofer.Fuzz -c Release -nologo -v q >/dev/null
F=(dotnet fuzz/Gofer.Fuzz/bin/Release/net10.0/Gofer.Fuzz.dll)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The fd boot only: one mount (cache=none,access=user,msize=1048576,uname=root), every light check plus fsx_20000,
# one connection. The Tcp boot adds the heavy checks (a 256 MiB file, 10 000 entries) and takes ~30 minutes.
GOFER_GUEST_SERVER=gofer GOFER_GUEST_RECORD_DIR="$work/rec" \
  dotnet test tests/Gofer.Interop.Tests -c Release --no-build --nologo -v q \
  --filter "FullyQualifiedName~Guest.GuestKernelTests.Fd" >"$work/test.log" 2>&1 ||
  { tail -n 40 "$work/test.log" >&2; echo "make-kernel-corpus: the guest run failed" >&2; exit 1; }
shopt -s nullglob
captures=("$work"/rec/fd/*.pcapng)
((${#captures[@]} == 1)) || { echo "make-kernel-corpus: expected one recorded connection, got ${#captures[@]}" >&2; exit 1; }
log=tests/Gofer.Interop.Tests/.guest/logs/fd-gofer.log
echo "make-kernel-corpus: kernel $(cat tests/Gofer.Interop.Tests/.guest/kernel-version 2>/dev/null || echo '?'), $(grep -o 'MOUNT-OK .*' "$log" || true)"

# Pieces are named by the checker's check directories (guest/checker.c, in its order); a piece runs from the
# first request naming FROM to the first naming TO. The mount prefix ends before the first check (create_rw).
"${F[@]}" split "${captures[0]}" "$work/pieces" create_rw \
  'linux-mount=^..create_rw' \
  'linux-posix-rw=create_rw..truncate' \
  'linux-posix-truncate=truncate..mkdir_rmdir' \
  'linux-posix-mkdir=mkdir_rmdir..rename_dir' \
  'linux-posix-rename-dir=rename_dir..hardlink' \
  'linux-posix-links=hardlink..chmod' \
  'linux-posix-attrs=chmod..xattr' \
  'linux-posix-xattr=xattr..fcntl_lock' \
  'linux-posix-locks=fcntl_lock..mkfifo' \
  'linux-posix-misc=mkfifo..rmtree' \
  'linux-posix-rmtree=rmtree..fsx_2000' \
  'linux-posix-fsx=fsx_2000..fsx_20000' \
  'linux-umount=last:fd_none_user..$' \
  --max-bytes 6144 --max-write 64

rm -f "$corpus"/session/linux-* "$corpus"/codec/linux-*
for f in "$work"/pieces/*; do
  name=$(basename "$f")
  case "$name" in
    *.replies) cp "$f" "$corpus/codec/$name" ;;
    *) cp "$f" "$corpus/session/$name"; cp "$f" "$corpus/codec/$name" ;;
  esac
done
du -cb "$corpus"/session/linux-* "$corpus"/codec/linux-* | tail -n 1
