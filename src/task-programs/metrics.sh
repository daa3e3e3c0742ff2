#!/bin/sh
# The metrics sidecar's command (container `metrics`, same image as ProxySQL, non-essential): every
# interval, reads ProxySQL's `stats` and `monitor` tables through the admin interface on 127.0.0.1
# and prints CloudWatch Embedded Metric Format lines (emf.awk) to stdout, which the awslogs driver
# sends to the task's log stream; CloudWatch Logs extracts the metrics, so the container needs no
# IAM permission of its own.
#
# POSIX sh (dash in the image), mawk, coreutils and the `mysql` client: no jq, python or curl. The
# admin password reaches `mysql` only through a 0600 option file (admin-client.awk), as in start.sh.
#
# Inputs set ahead of this file in the container command (see src/config/task-programs.ts):
# ADMIN_CLIENT_AWK (admin-client.awk), EMF_AWK (emf.awk), METRICS_SQL (one admin round trip, from
# src/config/metrics-script.ts; `@SINCE@` is the monitor watermark) and METRICS_CATALOG (the catalog
# of src/config/metrics.ts, as emf.awk reads it).
# Environment: PROXYSQL_SECRET_ADMIN_USERNAME/PASSWORD, PROXYSQL_ADMIN_PORT (default 6032),
# PROXYSQL_METRICS_INTERVAL_SECONDS (default 60), and for emf.awk PROXYSQL_METRICS_PROXY_NAME and
# PROXYSQL_METRICS_HOSTGROUPS.
#
# Waits for nothing: a sample the admin interface does not answer is skipped with one line on stderr
# (no EMF is printed, so alarms see missing data, not zeros). Exits at once on SIGTERM (ECS stops it
# before the ProxySQL container, which depends on nothing it does).
#
# Comment lines and blank lines are not part of the container command.
set -u
umask 077
log() { printf 'proxysql-metrics: %s\n' "$*" >&2; }
interval="${PROXYSQL_METRICS_INTERVAL_SECONDS:-60}"
case "$interval" in ''|*[!0-9]*|0) log "PROXYSQL_METRICS_INTERVAL_SECONDS is not a positive whole number of seconds; using 60"; interval=60;; esac
tmp=$(mktemp -d) || { log "cannot create a temporary folder"; exit 1; }
trap 'rm -rf "$tmp"; exit 0' TERM INT
client="$tmp/admin-client.cnf"
# shellcheck disable=SC2015 # any failure is fatal
LC_ALL=C awk -v port="${PROXYSQL_ADMIN_PORT:-6032}" "$ADMIN_CLIENT_AWK" </dev/null >"$client.tmp" && chmod 600 "$client.tmp" && mv -f "$client.tmp" "$client" || { log "cannot write $client"; exit 1; }
sql="$METRICS_SQL"
since=0
first=1
: >"$tmp/state"
while :; do
  ts=$(date +%s%3N)
  if timeout 10 mysql --defaults-file="$client" -N -B -e "$(printf '%s' "$sql" | sed "s/@SINCE@/$since/g")" </dev/null >"$tmp/sample" 2>"$tmp/error"; then
    rm -f "$tmp/state.new"
    if LC_ALL=C awk -v first="$first" -v ts="$ts" \
      -v catalog="$METRICS_CATALOG" -v statefile="$tmp/state" -v sincefile="$tmp/since" "$EMF_AWK" <"$tmp/sample"; then
      mv -f "$tmp/state.new" "$tmp/state" 2>/dev/null || : >"$tmp/state"
      since=$(cat "$tmp/since" 2>/dev/null || echo "$since")
      case "$since" in ''|*[!0-9]*) since=0;; esac
      first=0
    fi
  else
    log "no sample: the admin interface did not answer ($(head -c 300 "$tmp/error" | tr '\n' ' '))"
  fi
  sleep "$interval" & wait $!
done
