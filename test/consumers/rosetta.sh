#!/usr/bin/env bash
# Every TypeScript example in the README (and in API doc comments) must compile against the real
# library and translate to Python and Java: `jsii-rosetta extract --strict` over the compiled
# assembly (.jsii, which carries the README), with the fixtures in rosetta/.
#
# Needs a fresh `npx projen compile` (the README is read from .jsii, not from README.md).
# Prints `ok rosetta-readme` or `FAIL rosetta-readme` and exits 1 on failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
LOG="$ROOT/.tmp/consumers/logs/rosetta.log"
mkdir -p "$(dirname "$LOG")"

if [ ! -f .jsii ]; then
  echo "FAIL rosetta-readme: no .jsii; run npx projen compile first"
  exit 1
fi
if [ README.md -nt .jsii ]; then
  echo "FAIL rosetta-readme: README.md is newer than .jsii; run npx projen compile first"
  exit 1
fi

# The implicit tablet lands next to .jsii; remove it unless it was there before, so the tree stays clean.
tablet_existed=0
[ -f .jsii.tabl.json ] && tablet_existed=1
npx jsii-rosetta extract --strict > "$LOG" 2>&1
rc=$?
count=$(node -e "try { const t = require('./.jsii.tabl.json'); console.log(Object.keys(t.snippets || {}).length); } catch { console.log(0); }")
[ "$tablet_existed" -eq 1 ] || rm -f .jsii.tabl.json

if [ "$rc" -eq 0 ]; then
  echo "ok rosetta-readme"
  echo "rosetta: $count example(s) compiled and translated (python, java, csharp, go)"
else
  echo "FAIL rosetta-readme"
  grep -v '^!!' "$LOG" | head -n 40 | sed 's/^/    | /'
  exit 1
fi
