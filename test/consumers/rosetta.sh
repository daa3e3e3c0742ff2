#!/usr/bin/env bash
# Every TypeScript example in the README, in docs/*.md (and in API doc comments) must compile against
# the real library and translate to Python and Java: `jsii-rosetta extract --strict`, with the
# fixtures in rosetta/, over the compiled assembly (.jsii, which carries the README) to which
# rosetta-docs.ts adds each docs file as the readme of a submodule (rosetta reads examples from an
# assembly only). One run checks them all; the links between README.md and docs/ are checked too.
#
# Needs a fresh `npx projen compile` (the README is read from .jsii, not from README.md; the examples
# compile against lib/). Prints `ok NAME` or `FAIL NAME` for the README, each docs file and the links,
# and exits 1 on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export TS_NODE_TRANSPILE_ONLY=1
LOG="$ROOT/.tmp/consumers/logs/rosetta.log"
WORK="$ROOT/.tmp/rosetta"
mkdir -p "$(dirname "$LOG")"

if [ ! -f .jsii ]; then
  echo "FAIL rosetta-readme: no .jsii; run npx projen compile first"
  exit 1
fi
if [ README.md -nt .jsii ]; then
  echo "FAIL rosetta-readme: README.md is newer than .jsii; run npx projen compile first"
  exit 1
fi

if ! npx ts-node --prefer-ts-exts test/consumers/rosetta-docs.ts prepare "$WORK" > "$LOG" 2>&1; then
  echo "FAIL rosetta-prepare"
  sed 's/^/    | /' "$LOG" | head -n 40
  exit 1
fi
# The tablet lands next to the assembly copy, in .tmp/: the tree stays clean.
npx jsii-rosetta extract --strict "$WORK/.jsii" >> "$LOG" 2>&1
rc=$?
npx ts-node --prefer-ts-exts test/consumers/rosetta-docs.ts report "$WORK" "$LOG" "$rc"
