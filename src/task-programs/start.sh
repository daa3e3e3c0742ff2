#!/bin/sh
# The ProxySQL container's command (the image has no ENTRYPOINT): renders the configuration from the
# template and the secrets in the environment, runs ProxySQL, and turns SIGTERM into a graceful drain.
#
# POSIX sh (dash in the official Debian-based image) plus awk, sed, coreutils and the image's mysql
# client. Secret values are only ever read by awk from ENVIRON, so they never appear on a command
# line, in `set -x` output or in a log line.
#
# Inputs set ahead of this file in the container command (see src/config/task-programs.ts):
# RENDER_AWK (render-config.awk), PEM_AWK (pem.awk), ADMIN_CLIENT_AWK (admin-client.awk),
# FLEET_SHARE_SH (fleet-share.sh), CREDENTIALS_SH (credentials.sh), IN_FLIGHT_SQL and CLOSE_IDLE_SQL (src/config/start-script.ts: what
# counts as work in flight, and how idle client sessions are closed during the drain).
# Environment: PROXYSQL_CONFIG_TEMPLATE, the PROXYSQL_SECRET_* values, PROXYSQL_DRAIN_SECONDS
# (default 20), PROXYSQL_CONFIG_DIR and PROXYSQL_DATADIR (both default /var/lib/proxysql), and
# optionally PROXYSQL_CREDENTIALS_DIR and PROXYSQL_CREDENTIALS_NAMES (live credentials),
# PROXYSQL_TLS_CERTIFICATE, PROXYSQL_TLS_PRIVATE_KEY, PROXYSQL_TLS_CERTIFICATE_CHAIN and
# PROXYSQL_BACKEND_CA.
#
# - Renders `$PROXYSQL_CONFIG_DIR/proxysql.cnf` (mode 0600); refuses to start (non-zero exit) when a
#   value cannot be loaded byte for byte.
# - Writes a brought client certificate to `proxysql-{cert,key,ca}.pem` in the datadir and the
#   backend CA to `$PROXYSQL_CONFIG_DIR/backend-ca.pem` (all 0600), refusing to start (exit 4) when a
#   value is missing or holds no PEM of the right kind.
# - Writes `$PROXYSQL_CONFIG_DIR/admin-client.cnf` (0600) for the admin mysql client, and
#   `monitor-client.cnf` (0600) with the monitor's credentials for fleet-share.sh.
# - Runs `proxysql -f --initial --idle-threads -c FILE -D DATADIR` as a child: `--initial` makes the
#   file win over any proxysql.db left in a reused datadir.
# - On SIGTERM/SIGINT: `PROXYSQL PAUSE` through the admin interface (ProxySQL refuses new client
#   connections; sessions already open carry on), then CLOSE_IDLE_SQL: ProxySQL closes each client
#   session between two of its statements, outside a transaction, within about a second. The handler
#   waits until no client session is left (IN_FLIGHT_SQL, polled every half second), at most
#   PROXYSQL_DRAIN_SECONDS counted from the signal; then forwards SIGTERM and exits with ProxySQL's
#   status.
#
# Why close sessions rather than wait for them: ECS stops a task behind a load balancer in this order
# — deregister the target, wait the target group's deregistration delay (no new flows; existing ones
# keep working), and only then send SIGTERM. The target group leaves connection termination off, so
# pooled clients (a warm Lambda's connection) are still here at SIGTERM, busy every few milliseconds.
# Closed between two statements, a pooled connection is discarded by its pool before its next use
# and the client reconnects to a live task; a load balancer reset, or ProxySQL's own exit, lands in
# the middle of some statements (measured in test/dataplane/deploy.test.ts). A session with a
# statement running or a transaction open is closed as soon as that ends, so the drain time is the
# longest statement or transaction that survives a stop. No fixed wait: with nothing left the task
# exits at once (a fixed wait doubled the stop time, measured on 2.7.1).
#
# Comment lines and blank lines are for readers: they are not part of the container command.
# `A && B || { log; exit; }` below means "if either step fails", which is what shellcheck's SC2015
# warns about; the lines say so where they do it.
set -u
umask 077
log() { printf 'proxysql-start: %s\n' "$*" >&2; }
dir="${PROXYSQL_CONFIG_DIR:-/var/lib/proxysql}"
datadir="${PROXYSQL_DATADIR:-/var/lib/proxysql}"
conf="$dir/proxysql.cnf"
client="$dir/admin-client.cnf"
monitor_client="$dir/monitor-client.cnf"
drain="${PROXYSQL_DRAIN_SECONDS:-20}"
case "$drain" in ''|*[!0-9]*) log "PROXYSQL_DRAIN_SECONDS is not a whole number of seconds; using 20"; drain=20;; esac
mkdir -p "$dir" "$datadir" || { log "cannot create $dir or $datadir"; exit 1; }
if [ -z "${PROXYSQL_CONFIG_TEMPLATE:-}" ]; then log "refusing to start: PROXYSQL_CONFIG_TEMPLATE is empty or not set"; exit 2; fi
rm -f "$conf.tmp" "$client.tmp" "$monitor_client.tmp"
# put_pem ENV KIND FILE: write one PEM value from the environment, mode 0600, or refuse to start.
put_pem() {
  # shellcheck disable=SC2015 # any failure removes the partial file and refuses to start
  LC_ALL=C awk -v name="$1" -v want="$2" "$PEM_AWK" </dev/null >"$3.tmp" && chmod 600 "$3.tmp" && mv -f "$3.tmp" "$3" || { rm -f "$3.tmp"; exit 4; }
}
# A brought certificate: ProxySQL loads proxysql-{cert,key,ca}.pem from its datadir and generates its
# own only when none of the three exists (with some missing it exits), so all three are written.
if [ -n "${PROXYSQL_TLS_CERTIFICATE+x}${PROXYSQL_TLS_PRIVATE_KEY+x}${PROXYSQL_TLS_CERTIFICATE_CHAIN+x}" ]; then
  put_pem PROXYSQL_TLS_CERTIFICATE CERTIFICATE "$datadir/proxysql-cert.pem"
  put_pem PROXYSQL_TLS_PRIVATE_KEY KEY "$datadir/proxysql-key.pem"
  put_pem PROXYSQL_TLS_CERTIFICATE_CHAIN CERTIFICATE "$datadir/proxysql-ca.pem"
  log "client TLS certificate written to $datadir"
fi
cafile="$dir/backend-ca.pem"
if [ -n "${PROXYSQL_BACKEND_CA:-}" ]; then put_pem PROXYSQL_BACKEND_CA CERTIFICATE "$cafile"; fi
if ! LC_ALL=C awk -v cafile="$cafile" "$RENDER_AWK" </dev/null >"$conf.tmp"; then rm -f "$conf.tmp"; exit 3; fi
# shellcheck disable=SC2015 # either step failing is fatal
chmod 600 "$conf.tmp" && mv -f "$conf.tmp" "$conf" || { log "cannot write $conf"; exit 1; }
port=$(sed -n 's/^# cdk-proxysql admin_port=\([0-9][0-9]*\)$/\1/p' "$conf")
# shellcheck disable=SC2015 # any failure is fatal
LC_ALL=C awk -v port="${port:-6032}" "$ADMIN_CLIENT_AWK" </dev/null >"$client.tmp" && chmod 600 "$client.tmp" && mv -f "$client.tmp" "$client" || { log "cannot write $client"; exit 1; }
log "configuration rendered to $conf; starting ProxySQL"
# A stop request that arrives before the stop handler is set up (below) is remembered and honoured
# then: without this, sh would die of it and leave ProxySQL running on its own.
stop_requested=
trap 'stop_requested=1' TERM INT
proxysql -f --initial --idle-threads -c "$conf" -D "$datadir" &
child=$!
# Settings ProxySQL cannot read from its config file, applied through the admin interface once it answers.
after=$(sed -n 's/^# cdk-proxysql after_start=//p' "$conf")
if [ -n "$after" ]; then
  (
    n=0
    until timeout 5 mysql --defaults-file="$client" -e "$after" </dev/null 2>/dev/null; do
      n=$((n + 1))
      if [ "$n" -ge 120 ]; then log "could not apply the after-start settings through the admin interface"; exit 1; fi
      sleep 0.5
    done
    log "after-start settings applied"
  ) &
fi
# The connection budget for the tasks that run, and the reader weights that follow the writer: see
# fleet-share.sh.
if grep -q '^# cdk-proxysql server_shares=' "$conf"; then
  # shellcheck disable=SC2015 # without the monitor's option file the program still keeps the weights right
  LC_ALL=C awk -v user=PROXYSQL_SECRET_MONITOR_USERNAME -v password=PROXYSQL_SECRET_MONITOR_PASSWORD "$ADMIN_CLIENT_AWK" </dev/null >"$monitor_client.tmp" && chmod 600 "$monitor_client.tmp" && mv -f "$monitor_client.tmp" "$monitor_client" || log "cannot write $monitor_client"
  FLEET_CONF="$conf" FLEET_ADMIN_CLIENT="$client" FLEET_MONITOR_CLIENT="$monitor_client" FLEET_CA="$cafile" FLEET_CHILD="$child" sh -c "$FLEET_SHARE_SH" &
fi
# Rotated secrets, applied live from what the credentials sidecar keeps in the task volume: see
# credentials.sh.
if [ -n "${PROXYSQL_CREDENTIALS_DIR:-}" ]; then
  CRED_DIR="$PROXYSQL_CREDENTIALS_DIR" CRED_NAMES="${PROXYSQL_CREDENTIALS_NAMES:-}" CRED_ADMIN_CLIENT="$client" CRED_MONITOR_CLIENT="$monitor_client" CRED_CHILD="$child" sh -c "$CREDENTIALS_SH" &
fi
stopping=
on_term() {
  [ -n "$stopping" ] && return
  stopping=1
  t0=$(date +%s)
  log "stop requested: PROXYSQL PAUSE, closing client sessions between statements, waiting up to ${drain}s for the last ones"
  if timeout 5 mysql --defaults-file="$client" -e 'PROXYSQL PAUSE' </dev/null; then
    closing=1
    timeout 5 mysql --defaults-file="$client" -e "$CLOSE_IDLE_SQL" </dev/null || { closing=; log "cannot lower mysql-wait_timeout; waiting for clients to leave by themselves"; }
    while :; do
      if busy=$(timeout 5 mysql --defaults-file="$client" -N -B -e "$IN_FLIGHT_SQL" </dev/null); then
        # shellcheck disable=SC2086 # three numbers, split on purpose
        set -- $busy
        [ "${3:-x}" = 0 ] && { log "no client session left $(( $(date +%s) - t0 ))s after the stop request; stopping ProxySQL"; break; }
        state="${3:-?} client sessions open (${1:-?} statements running, ${2:-?} idle transactions)"
      else
        state="no answer from the admin interface"
      fi
      if [ $(( $(date +%s) - t0 )) -ge "$drain" ]; then log "drain time up (${drain}s) with $state; stopping ProxySQL"; break; fi
      sleep 0.5
      # Loading the variables again wakes every worker for a maintenance pass, which is where idle
      # sessions are closed; without it, idle workers wait out their poll timeout first.
      [ -n "$closing" ] && timeout 5 mysql --defaults-file="$client" -e "$CLOSE_IDLE_SQL" </dev/null
    done
  else
    log "PROXYSQL PAUSE failed; stopping without a drain"
  fi
  kill -TERM "$child" 2>/dev/null
}
trap on_term TERM INT
[ -z "$stop_requested" ] || on_term
rc=0
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  rc=$?
done
log "ProxySQL exited with status $rc"
exit "$rc"
