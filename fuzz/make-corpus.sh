#!/usr/bin/env bash
# Regenerates fuzz/corpus/{codec,session,client} (see fuzz/corpus/README.md):
#  - hand-made seeds (every 9P2000.L message) and P9Client's script against our server (Gofer.Fuzz seeds);
#  - diod's own tools (diodls, diodcat, dioddate, diodshowmount) against diod, recorded through a loopback
#    proxy (Gofer.Fuzz proxy) and derived (Gofer.Fuzz derive: whole frames, Tattach aname -> "").
#  - with --kernel (or GOFER_CORPUS_KERNEL=1): the Linux kernel's files too (fuzz/make-kernel-corpus.sh: boots the
#    guest suite under QEMU, a few minutes); without it the linux-* files are kept as they are.
# Needs: diod (Debian package; scripts/deps.sh installs it). Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=${GOFER_CORPUS_KERNEL:-0}
for a in "$@"; do
  case "$a" in
    --kernel) kernel=1 ;;
    *) echo "usage: fuzz/make-corpus.sh [--kernel]" >&2; exit 2 ;;
  esac
done
corpus=fuzz/corpus
dotnet build fuzz/Gofer.Fuzz -c Release -nologo -v q >/dev/null
F=(dotnet fuzz/Gofer.Fuzz/bin/Release/net10.0/Gofer.Fuzz.dll)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for t in codec session client; do
  mkdir -p "$corpus/$t"
  rm -f "$corpus/$t"/seed-* "$corpus/$t"/diod-*
  "${F[@]}" seeds "$t" "$corpus/$t"
done

# diod over the same tree the session target serves.
export_dir=$("${F[@]}" tree "$work/root")
dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
diod -f -n -N -l "127.0.0.1:$dport" -e "$export_dir" >"$work/diod.log" 2>&1 &
pids+=($!)
"${F[@]}" proxy "$work/port" "127.0.0.1:$dport" "$work/rec" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.2; done
pport=$(cat "$work/port")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$dport") 2>/dev/null && break; sleep 0.2; done
s="127.0.0.1:$pport"

# One connection per command, in this order; the name says what the tool did. Not the FIFO: diod opens it and
# blocks (our server refuses to open FIFOs; the seeds cover that).
names=()
run() { local name=$1; shift; timeout 30 "$@" >/dev/null 2>&1 || true; names+=("$name"); }
run diodls-root        diodls -s "$s" -a "$export_dir" /
run diodls-long        diodls -l -s "$s" -a "$export_dir" / sub
run diodcat-files      diodcat -s "$s" -a "$export_dir" hello.txt sub/data.bin sub/empty
run diodcat-links      diodcat -s "$s" -a "$export_dir" link-in link-out link-abs nope
run diodcat-msize      diodcat -m 4096 -s "$s" -a "$export_dir" sub/data.bin
run dioddate           dioddate -s "$s"
run diodshowmount      diodshowmount -s "$s"
sleep 1
kill "${pids[1]}" 2>/dev/null || true

i=0
for name in "${names[@]}"; do
  i=$((i + 1))
  f="$work/rec/conn-$i.c2s"
  [[ -s "$f" ]] || { echo "make-corpus: no traffic recorded for $name" >&2; continue; }
  "${F[@]}" derive "$f" "$corpus/session/diod-$name"
  cp "$corpus/session/diod-$name" "$corpus/codec/diod-$name"
  # The server side of diod's answers is codec input too (replies decode through the same code).
  cp "$work/rec/conn-$i.s2c" "$corpus/codec/diod-$name.replies"
done

if [[ "$kernel" == 1 ]]; then
  fuzz/make-kernel-corpus.sh
fi

# Drop duplicates (same bytes under two names), keep the first name.
for t in codec session client; do
  (cd "$corpus/$t" && sha256sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm -f --)
done
du -sh "$corpus"
for t in codec session client; do
  "${F[@]}" "$t" replay "$corpus/$t"
done
