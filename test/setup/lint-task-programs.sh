#!/usr/bin/env bash
# Lints the programs that run in the ProxySQL task (src/task-programs): shellcheck in POSIX sh mode
# at its strictest severity (style) over every .sh file, and a parse of every .awk file as POSIX awk
# (gawk --posix; the image runs mawk, which has no parse-only mode). Any finding fails.
# Run: npx projen lint:task-programs (CI runs it as a step of its own).
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=src/task-programs

for tool in shellcheck gawk; do
  command -v "$tool" >/dev/null 2>&1 || { echo "lint-task-programs: $tool not found; install it: apt-get install -y $tool" >&2; exit 1; }
done

# The linters must find the faults of known-bad programs, or a clean run below proves nothing.
if printf 'cd $1\n' | shellcheck --shell=sh --severity=style - >/dev/null 2>&1; then
  echo "lint-task-programs: shellcheck passed a known-bad program" >&2; exit 1
fi
if gawk --posix -o/dev/null -- 'BEGIN { x = ( }' 2>/dev/null; then
  echo "lint-task-programs: gawk parsed a known-bad program" >&2; exit 1
fi

shopt -s nullglob
sh_files=("$dir"/*.sh)
awk_files=("$dir"/*.awk)
[ ${#sh_files[@]} -gt 0 ] && [ ${#awk_files[@]} -gt 0 ] || { echo "lint-task-programs: no programs in $dir" >&2; exit 1; }

rc=0
shellcheck --shell=sh --severity=style --format=gcc "${sh_files[@]}" || rc=1
for f in "${awk_files[@]}"; do
  gawk --posix -o/dev/null -f "$f" || { echo "$f: not a POSIX awk program" >&2; rc=1; }
done
if [ "$rc" -eq 0 ]; then
  echo "lint-task-programs: ${#sh_files[@]} shell and ${#awk_files[@]} awk programs clean"
fi
exit "$rc"
