#!/usr/bin/env bash
# End-to-end performance comparison: gofer vs diod vs p9ideal under p9load, start time, idle RSS, allocations per
# request, and the codec microbenchmarks. See tests/Gofer.Benchmarks/README.md.
#
#   scripts/bench.sh [--quick] [--jit] [--no-codec] [-- E2E-ARGS…]
#     --quick     smoke run: 1 s per cell, 5 spawns, no codec benchmarks
#     --jit       serve with the Release (JIT) build instead of the NativeAOT publish
#     --no-codec  skip the BenchmarkDotNet codec run
#     E2E-ARGS    passed to `Gofer.Benchmarks e2e` (e.g. -t 10 -w 1, --only getattr, --spawns 20, --no-start)
#
# Everything lands under artifacts/bench/ (tools, report latest.md); the AOT binary under artifacts/aot/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ART=$ROOT/artifacts/bench
# The shared tools sit beside the repository (../shared/tools), as on the project's machines and in CI.
TOOLS=${P9TOOLS:-$ROOT/../shared/tools}
[ -d "$TOOLS" ] || { echo "bench: no $TOOLS; set P9TOOLS to the directory holding p9load/ and p9ideal/" >&2; exit 2; }

quick=0 jit=0 codec=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; codec=0 ;;
    --jit) jit=1 ;;
    --no-codec) codec=0 ;;
    --) shift; break ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

command -v diod >/dev/null || [ -x /usr/sbin/diod ] || { echo "bench.sh: diod is not installed (apt-get install diod)" >&2; exit 2; }

# The tools' source directory is read-only and shared: build copies.
mkdir -p "$ART/tools"
for t in p9load p9ideal; do
  rm -rf "$ART/tools/$t.src"
  cp -r "$TOOLS/$t" "$ART/tools/$t.src"
  make -s -C "$ART/tools/$t.src" >/dev/null
  cp "$ART/tools/$t.src/$t" "$ART/tools/$t"
done

if [ $jit = 1 ]; then
  dotnet build src/Gofer -c Release -v q -nologo
  GOFER=$ROOT/src/Gofer/bin/Release/net10.0/gofer
else
  dotnet publish src/Gofer -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot -v q -nologo
  GOFER=$ROOT/artifacts/aot/gofer
fi

dotnet build tests/Gofer.Benchmarks -c Release -v q -nologo
BENCH=$ROOT/tests/Gofer.Benchmarks/bin/Release/net10.0/Gofer.Benchmarks.dll

args=(e2e --gofer "$GOFER" --p9load "$ART/tools/p9load" --p9ideal "$ART/tools/p9ideal" --out "$ART/latest.md")
[ $quick = 1 ] && args+=(--quick)

if [ $codec = 1 ]; then
  # 0 B allocated is the contract for every codec benchmark (MemoryDiagnoser's "Allocated" column).
  # In-process: BenchmarkDotNet's generated boilerplate project does not build within its timeout on a loaded
  # 2-core machine; allocation counting (per-thread allocated bytes) is exact in-process too.
  (cd "$ART" && dotnet "$BENCH" --filter '*Codec*' --job short --inProcess --memory --exporters github) || echo "bench.sh: codec benchmarks failed" >&2
fi

# Ctrl-C reaches the driver with the rest of the foreground process group; it kills every server and p9load it
# started, by PID. SIGTERM to this script is forwarded to the driver's PID.
dotnet "$BENCH" "${args[@]}" "$@" &
driver=$!
trap 'kill -TERM $driver 2>/dev/null' TERM INT
rc=0
wait $driver || rc=$?
trap - TERM INT

if [ $codec = 1 ]; then
  {
    echo
    echo "Codec microbenchmarks (BenchmarkDotNet, in-process, short job; the contract is Allocated = 0 B / '-'):"
    echo
    for f in "$ART"/BenchmarkDotNet.Artifacts/results/*Codec*-report-github.md; do
      [ -f "$f" ] && grep '^|' "$f" && echo
    done
  } | tee -a "$ART/latest.md"
fi
exit $rc
