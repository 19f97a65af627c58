#!/usr/bin/env bash
# Fuzzing prerequisites, kept out of scripts/deps.sh because the test run does not need them (it replays the corpus
# without an engine): AFL++ from Debian, and the SharpFuzz instrumenter as a local dotnet tool in fuzz/.tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v afl-fuzz >/dev/null; then
  echo "fuzz: installing afl++" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq afl++ >/dev/null
fi
if [[ ! -x fuzz/.tools/sharpfuzz ]]; then
  echo "fuzz: installing SharpFuzz.CommandLine 2.3.0" >&2
  dotnet tool install --tool-path fuzz/.tools SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi
