#!/usr/bin/env bash
# fuzz/run.sh <codec|session|client> [seconds=600]
# Runs AFL++ on one target for a given time: installs the tools if missing (fuzz/setup.sh), publishes Gofer.Fuzz
# into fuzz/.out/bin-<target>, instruments the assemblies under test with SharpFuzz, starts afl-fuzz from
# fuzz/corpus/<target>, then copies every crash and hang into fuzz/regressions/<target>/ (named by content hash)
# and prints AFL's figures (execs/s, paths, map density). Findings dir: fuzz/.out/<target>.
set -euo pipefail
target=${1:?usage: fuzz/run.sh <codec|session|client> [seconds]}
seconds=${2:-600}
cd "$(dirname "$0")/.."
bash fuzz/setup.sh

case "$target" in
  codec | client) instrument=(P9.Protocol.dll) ;;
  session) instrument=(P9.Protocol.dll gofer.dll) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac

bin=fuzz/.out/bin-$target
out=fuzz/.out/$target
rm -rf "$bin"
dotnet publish fuzz/Gofer.Fuzz -c Release -o "$bin" -nologo -v q >/dev/null
for dll in "${instrument[@]}"; do
  fuzz/.tools/sharpfuzz "$bin/$dll" >/dev/null
done

# dotnet is not an AFL-instrumented binary (the instrumentation is in the managed assemblies): skip the check.
# No CPU binding and no cpufreq/core_pattern checks: this runs on shared CI machines.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_AUTORESUME=1
# The session and client targets wait for replies: hangs are reported as findings by the target itself after
# GOFER_FUZZ_REPLY_TIMEOUT seconds, before AFL's own timeout (-t, ms).
export GOFER_FUZZ_REPLY_TIMEOUT=${GOFER_FUZZ_REPLY_TIMEOUT:-10}
timeout_ms=$(( (GOFER_FUZZ_REPLY_TIMEOUT + 10) * 1000 ))
afl-fuzz -V "$seconds" -x fuzz/9p.dict -i "fuzz/corpus/$target" -o "$out" -t "$timeout_ms" -m none \
  -- dotnet "$bin/Gofer.Fuzz.dll" "$target" afl || true

mkdir -p "fuzz/regressions/$target"
found=0
for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
  [[ -f "$f" ]] || continue
  kind=$(basename "$(dirname "$f")")
  h=$(sha256sum "$f" | cut -c1-16)
  [[ $kind == crashes ]] && kind=crash || kind=hang
  cp "$f" "fuzz/regressions/$target/$kind-$h"
  found=$((found + 1))
done
stats=$out/default/fuzzer_stats
if [[ -f "$stats" ]]; then
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|corpus_found|bitmap_cvg|saved_crashes|saved_hangs|stability)' "$stats"
fi
echo "fuzz/run.sh: $found crash/hang inputs copied to fuzz/regressions/$target (replay: Gofer.Fuzz $target replay fuzz/regressions/$target)"
