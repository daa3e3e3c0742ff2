#!/bin/sh
# The `credentials` sidecar's command (the official AWS CLI image, with `sh -c` as its entry point):
# keeps a copy of each user and monitor secret's version stages in the task volume that the
# ProxySQL container reads (credentials.sh applies them through the admin interface).
#
# Every PROXYSQL_CREDENTIALS_INTERVAL seconds it asks Secrets Manager for each secret's version
# stages (DescribeSecret: one call per secret); only when they changed does it read the value of
# each stage the secret has (GetSecretValue of AWSCURRENT, AWSPENDING, AWSPREVIOUS). It writes the
# entry's whole file anew and renames it into place, so the reader never sees half a rotation: per
# stage a line `#stage NAME`, then the SecretString. Values go from the CLI's stdout into the file
# (mode 0600): never on a command line or in a log line. The task role may read exactly these
# secrets. Failures are logged (the entry and the CLI's error, which names the secret, not a value)
# and tried again at the next poll; this container is not essential, so nothing here can stop
# ProxySQL, which keeps what it has.
#
# Environment: PROXYSQL_CREDENTIALS_SECRETS (`entry=secret-arn` words: user0=..., monitor=...),
# PROXYSQL_CREDENTIALS_DIR (the task volume), PROXYSQL_CREDENTIALS_INTERVAL (seconds).
set -u
umask 077
log() { printf 'proxysql-credentials-fetch: %s\n' "$*" >&2; }
dir="$PROXYSQL_CREDENTIALS_DIR"
interval="${PROXYSQL_CREDENTIALS_INTERVAL:-20}"
case "$interval" in ''|*[!0-9]*|0) log "PROXYSQL_CREDENTIALS_INTERVAL is not a whole number of seconds above 0; using 20"; interval=20;; esac
mkdir -p "$dir" || { log "cannot create $dir"; exit 1; }
trap 'exit 0' TERM INT
# fetch ENTRY ARN: refresh the entry's file when the secret's stages changed.
fetch() {
  stages=$(aws secretsmanager describe-secret --secret-id "$2" --query 'VersionIdsToStages' --output json 2>"$dir/.$1.err") || {
    log "cannot describe the secret of $1: $(tail -n 1 "$dir/.$1.err")"; return 1; }
  [ -f "$dir/.$1.stages" ] && [ "$(cat "$dir/.$1.stages")" = "$stages" ] && [ -f "$dir/$1" ] && return 0
  : >"$dir/.$1.tmp" || return 1
  for stage in AWSCURRENT AWSPENDING AWSPREVIOUS; do
    printf '%s' "$stages" | grep -q "\"$stage\"" || continue
    printf '#stage %s\n' "$stage" >>"$dir/.$1.tmp"
    aws secretsmanager get-secret-value --secret-id "$2" --version-stage "$stage" --query SecretString --output text >>"$dir/.$1.tmp" 2>"$dir/.$1.err" || {
      log "cannot read $stage of the secret of $1: $(tail -n 1 "$dir/.$1.err")"; rm -f "$dir/.$1.tmp"; return 1; }
  done
  mv -f "$dir/.$1.tmp" "$dir/$1" && printf '%s' "$stages" >"$dir/.$1.stages" || return 1
  log "$1: stages $(printf '%s' "$stages" | tr -d ' \n' | grep -o 'AWS[A-Z]*' | sort | tr '\n' ' ')written"
}
while :; do
  for pair in $PROXYSQL_CREDENTIALS_SECRETS; do
    fetch "${pair%%=*}" "${pair#*=}"
  done
  sleep "$interval" &
  wait $!
done
