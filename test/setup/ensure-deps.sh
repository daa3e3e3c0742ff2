#!/usr/bin/env bash
# What the tests need from the system, installed when this user can, otherwise named with the exact
# command, before any test runs (the first step of `npx projen test`, see .projenrc.ts):
#   mariadb-server  a real MariaDB for the bootstrap and demo handler tests (test/fixtures/mariadb.ts)
#   libconfig-dev   libconfig, the parser ProxySQL reads its config file with (test/fixtures/libconfig.ts)
#   gcc             a C compiler for the libconfig validator
#   gawk            parses the task's awk programs (test/config/task-programs.test.ts); the image runs mawk
# Quiet and quick when everything is there.
set -uo pipefail

missing=()
have_binary() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]
}
{ have_binary mariadbd && have_binary mariadb-install-db; } || missing+=(mariadb-server)
[ -f /usr/include/libconfig.h ] || missing+=(libconfig-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v gawk >/dev/null 2>&1 || missing+=(gawk)
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: the tests need a MariaDB server (mariadbd, mariadb-install-db), the libconfig headers," >&2
  echo "a C compiler (cc) and gawk. This is not a Debian/Ubuntu system: install them with its package manager," >&2
  echo "then run npx projen test again." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "ensure-deps: the tests need ${missing[*]}, and this user can neither install packages nor sudo" >&2
  echo "without a password. Run this, then npx projen test again:" >&2
  echo "" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  echo "" >&2
  exit 1
fi

echo "ensure-deps: installing ${missing[*]} (needed by the tests)"
# DPkg::Lock::Timeout makes install wait for another apt/dpkg run, but apt-get update takes the
# package lists lock without waiting (seen with apt 2.6), so update is retried for as long.
deadline=$(( $(date +%s) + 900 ))
until "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=900 update -qq; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ensure-deps: apt-get update kept failing for 15 minutes" >&2
    exit 1
  fi
  echo "ensure-deps: apt-get update failed (another apt run holding the lists lock?); retrying in 10 s"
  sleep 10
done
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" || {
  echo "ensure-deps: could not install ${missing[*]}; the command was:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
}
