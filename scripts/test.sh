#!/usr/bin/env bash
# The test command: installs what the tests need, builds, runs every test project,
# and ends with one line 'N passed, N failed, N skipped'.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "deps: install failed" >&2; exit 1; }
dotnet build Gofer.sln -c Release -nologo -v q || exit 1
log=$(mktemp)
dotnet test Gofer.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12").
awk '/(Passed|Failed)!.*Total:/ {
       for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1));
         if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$rc"
