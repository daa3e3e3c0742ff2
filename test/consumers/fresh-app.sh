#!/usr/bin/env bash
# A fresh CDK app on the npm tarball, as a user would start one: `npm init -y`, then `npm install` of
# dist/js/*.tgz with only aws-cdk-lib, constructs and cdk-nag from the registry, then
# fresh-app/app.js (plain JavaScript, run with node) synthesizes a default AuroraBackend and
# ProxySqlFargate, runs cdk-nag and checks that the task programs and the bundled handler came from
# the installed package.
#
# Usage: test/consumers/fresh-app.sh [TARBALL]. Needs dist/js/*.tgz from `npx projen package:js` (or
# package-all). The app lives in .tmp/fresh-app/ (git-ignored), inside the repository: Node.js would fall back to the repository's node_modules for
# anything the package lacks, so app.js checks that every module it loaded came from its own.
# Prints one line per check, `ok NAME` or `FAIL NAME`, and exits 1 if any check failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
APP="$ROOT/.tmp/fresh-app"
CDK_VERSION=2.257.0
START=$(date +%s)

failed=0
ok() { echo "ok $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1${2:+: $2}"
  if [ -f "$APP.$1.log" ]; then tail -n 30 "$APP.$1.log" | sed 's/^/    | /'; fi
}

# An argument names another tarball (e.g. a repacked one, to see a check fail).
tgz=${1:-$(ls "$ROOT"/dist/js/*.tgz 2>/dev/null)}
if [ "$(printf '%s\n' "$tgz" | grep -c .)" -ne 1 ]; then
  fail fresh-app-tarball "expected one dist/js/*.tgz; run npx projen package:js first"
  exit 1
fi

rm -rf "$APP" && mkdir -p "$APP" && cp "$HERE/fresh-app/app.js" "$APP/"
cd "$APP" || exit 1
# The tarball is installed from its path; npm takes its peers (aws-cdk-lib, constructs) from the ones
# named here. The same version number is rebuilt on every run, so nothing may come from a lock file.
if npm init -y > "$APP.fresh-app-install.log" 2>&1 &&
   npm install --no-audit --no-fund "$tgz" "aws-cdk-lib@$CDK_VERSION" 'constructs@^10' 'cdk-nag@^3' >> "$APP.fresh-app-install.log" 2>&1; then
  ok fresh-app-install
else
  fail fresh-app-install
  exit 1
fi
# Only what was asked for sits at the top of node_modules' dependency list, and npm sees no missing or
# invalid peer.
deps=$(node -p "Object.keys(require('./package.json').dependencies).sort().join(' ')")
if [ "$deps" = "aws-cdk-lib cdk-nag cdk-proxysql constructs" ] && npm ls > "$APP.fresh-app-deps.log" 2>&1; then
  ok fresh-app-deps
else
  fail fresh-app-deps "dependencies: $deps"
fi

node app.js "$APP/cdk.out" > "$APP.fresh-app-synth.log" 2>&1; rc=$?
grep -E '^(ok|FAIL) |^cdk-nag' "$APP.fresh-app-synth.log"
n_fail=$(grep -c '^FAIL ' "$APP.fresh-app-synth.log")
failed=$((failed + n_fail))
if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then fail fresh-app-synth "app.js exited $rc"; fi

echo "fresh-app: $failed failed, $(( $(date +%s) - START )) s"
[ "$failed" -eq 0 ]
