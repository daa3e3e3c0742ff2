#!/usr/bin/env bash
# Python, Java and Go consumer apps against the packaged library, compared with the TypeScript app.
#
# Needs dist/ from `npx projen package-all` (the wheel, the jar and the Go module that jsii-pacmak
# built) and a compiled tree (the bundled handlers in assets/). Builds a virtualenv with aws-cdk-lib
# and the wheel, installs the jar into a Maven repository under .tmp/, builds the Go app against
# dist/go (its go.mod replaces the module with that folder; the Go module and build caches are Go's
# defaults under $HOME, so a machine's second run downloads and compiles aws-cdk-go no more),
# synthesizes the same two stacks in TypeScript, Python, Java and Go, compares the templates and
# lints them with cfn-lint.
#
# Prints one line per check, `ok NAME` or `FAIL NAME`, and exits 1 if any check failed.
# Logs: .tmp/consumers/logs/. Templates: .tmp/consumers/{ts,python,java,go}/.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

CDK_VERSION=2.257.0
OUT="$ROOT/.tmp/consumers"
LOGS="$OUT/logs"
VENV="$HERE/python/.venv"
M2="$ROOT/.tmp/m2"
MVN=(mvn -B -q --no-transfer-progress "-Dmaven.repo.local=$M2")
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export TS_NODE_TRANSPILE_ONLY=1
START=$(date +%s)

rm -rf "$OUT/ts" "$OUT/python" "$OUT/java" "$OUT/go" "$OUT/go-app" "$LOGS"
mkdir -p "$LOGS"

failed=0
ok() { echo "ok $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1${2:+: $2}"
  if [ -f "$LOGS/$1.log" ]; then tail -n 30 "$LOGS/$1.log" | sed 's/^/    | /'; fi
}

wheel=$(ls dist/python/cdk_proxysql-*.whl 2>/dev/null | head -n 1)
jar=$(find dist/java -name 'cdk-proxysql-*.jar' -not -name '*-sources.jar' -not -name '*-javadoc.jar' 2>/dev/null | head -n 1)
# The Go app's go.mod replaces the cdk-proxysql module with this folder, which only a build makes.
gomod=dist/go/cdkproxysql/go.mod
if [ -z "$wheel" ] || [ -z "$jar" ] || [ ! -f "$gomod" ]; then
  fail dist-artifacts "no wheel, jar or $gomod under dist/; run npx projen package-all first"
  exit 1
fi
ok dist-artifacts
version=$(basename "$(dirname "$jar")")

# Each lane runs in the background and leaves its exit status in $LOGS/NAME.rc; the lanes are
# network-bound (PyPI, Maven Central, the Go module proxy) first and CPU-bound later, so they overlap well on 2 cores.
lane() {
  local name=$1; shift
  ( "$@" > "$LOGS/$name.log" 2>&1; echo $? > "$LOGS/$name.rc" )
}

python_lane() {
  lane python-venv sh -c "
    set -e
    [ -x '$VENV/bin/python' ] || python3 -m venv '$VENV'
    '$VENV/bin/pip' install -q --disable-pip-version-check 'aws-cdk-lib==$CDK_VERSION' 'constructs>=10.5.1,<11'
    # The same version number is rebuilt on every run, so the wheel is reinstalled, not skipped.
    '$VENV/bin/pip' install -q --disable-pip-version-check --force-reinstall --no-deps '$wheel'
    '$VENV/bin/pip' check"
  [ "$(cat "$LOGS/python-venv.rc")" = 0 ] || return
  lane python-synth "$VENV/bin/python" "$HERE/python/app.py" "$OUT/python"
}

java_lane() {
  lane java-install "${MVN[@]}" install:install-file "-Dfile=$ROOT/$jar" "-DpomFile=$ROOT/${jar%.jar}.pom"
  [ "$(cat "$LOGS/java-install.rc")" = 0 ] || return
  lane java-synth "${MVN[@]}" -f "$HERE/java/pom.xml" "-Dcdkproxysql.version=$version" compile exec:java "-Dexec.args=$OUT/java"
}

# go build uses go.mod and go.sum as committed (-mod=readonly): a requirement missing from them fails
# the build instead of being looked up.
go_lane() {
  if ! command -v go > /dev/null 2>&1; then
    echo "go is not on PATH (.ci/run adds /usr/local/go/bin)" > "$LOGS/go-build.log"; echo 1 > "$LOGS/go-build.rc"
    return
  fi
  lane go-build go -C "$HERE/go" build -mod=readonly -o "$OUT/go-app" .
  [ "$(cat "$LOGS/go-build.rc")" = 0 ] || return
  lane go-synth "$OUT/go-app" "$OUT/go"
}

ts_lane() {
  lane ts-synth npx ts-node --prefer-ts-exts "$HERE/ts-app.ts" "$OUT/ts"
}

python_lane & p1=$!
java_lane & p2=$!
ts_lane & p3=$!
go_lane & p4=$!
wait $p1 $p2 $p3 $p4

for name in ts-synth python-venv python-synth java-install java-synth go-build go-synth; do
  if [ ! -f "$LOGS/$name.rc" ]; then fail "$name" "not run (an earlier step of its lane failed)"
  elif [ "$(cat "$LOGS/$name.rc")" = 0 ]; then ok "$name"
  else fail "$name"; fi
done

# Template comparison: compare.ts prints its own ok/FAIL lines.
dirs=("ts=$OUT/ts")
[ -d "$OUT/python" ] && dirs+=("python=$OUT/python")
[ -d "$OUT/java" ] && dirs+=("java=$OUT/java")
[ -d "$OUT/go" ] && dirs+=("go=$OUT/go")
if [ ${#dirs[@]} -gt 1 ]; then
  npx ts-node --prefer-ts-exts "$HERE/compare.ts" "${dirs[@]}" > "$LOGS/compare.log" 2>&1
  compare_rc=$?
  grep -E '^(ok|FAIL) ' "$LOGS/compare.log"
  compare_fails=$(grep -c '^FAIL ' "$LOGS/compare.log")
  failed=$((failed + compare_fails))
  if [ "$compare_rc" -ne 0 ] && [ "$compare_fails" -eq 0 ]; then fail compare "compare.ts exited $compare_rc"; fi
fi

# cfn-lint over every consumer template: errors and warnings fail, except W3005 (see docs/development.md's
# Validation section).
if command -v cfn-lint > /dev/null 2>&1; then
  for lang in ts python java go; do
    [ -d "$OUT/$lang" ] || continue
    if cfn-lint --format parseable --ignore-checks W3005 -- "$OUT/$lang"/*.template.json > "$LOGS/cfn-lint-$lang.log" 2>&1; then
      ok "cfn-lint-$lang"
    else
      fail "cfn-lint-$lang"
    fi
  done
else
  fail cfn-lint "cfn-lint is not installed (.ci/run installs it into .tmp/ci-venv)"
fi

echo "consumers: $failed failed, $(( $(date +%s) - START )) s"
[ "$failed" -eq 0 ]
