#!/bin/sh
# Runs beside ProxySQL in the ProxySQL container (start.sh starts it): keeps each `mysql_servers` row
# at the connection budget for the number of tasks that actually run, and, when reads fall back to
# the writer, keeps the writer's reader row light after a failover.
#
# Why: the static budget divides the database's connections by the most tasks that can ever run
# (maxCapacity x 2 for a deployment), so with the usual two tasks each one may use a small part of
# what the database accepts, and pooled clients queue for it. Here every task counts the tasks that
# run and takes the share for that count, computed at synth time (`# cdk-proxysql server_shares=`
# line of the rendered configuration: `writer_hg,reader_hg,reader_weight,full:small,...` with one
# `full:small` pair for 1, 2, ... tasks, the last being the static budget the file renders).
#
# How it counts: every task's monitor logs in to the writer as the same monitor user, from the
# task's own address, and checks read_only every few seconds; a user without the PROCESS privilege
# still sees its own user's threads. So the number of distinct client addresses among the monitor
# user's threads that did something in the last 30 s is the number of tasks running (this program's
# own query counts its own task). No AWS API, no task role permission, no extra dependency.
#
# The order keeps the database's limit:
# - a count that grew lowers the share at once (at most one poll, 2 s, after the new task's monitor
#   first logs in, long before the load balancer sends the new task any client: its health check
#   needs two passes 10 s apart);
# - a count that fell raises the share only after it has held for 6 s (the stopped task's
#   connections close with its ProxySQL);
# - a task that cannot count (no writer ONLINE, login refused, a timeout) goes back to the static
#   share after 10 s and stays there until it can: that share is safe for the most tasks.
# ProxySQL applies a lower `max_connections` to new borrows at once and closes connections above it
# as they come back to the pool (with multiplexing, at the end of each statement).
#
# Environment (from start.sh): FLEET_CONF (the rendered configuration), FLEET_ADMIN_CLIENT and
# FLEET_MONITOR_CLIENT (mysql option files with the admin and the monitor credentials, 0600),
# FLEET_CA (the backend CA file; may not exist), FLEET_CHILD (ProxySQL's pid: the loop ends with it).
set -u
log() { printf 'proxysql-fleet-share: %s\n' "$*" >&2; }
line=$(sed -n 's/^# cdk-proxysql server_shares=\([0-9,:]*\)$/\1/p' "$FLEET_CONF")
[ -n "$line" ] || exit 0
w=$(printf '%s' "$line" | cut -d, -f1)
r=$(printf '%s' "$line" | cut -d, -f2)
heavy=$(printf '%s' "$line" | cut -d, -f3)
budgets=$(printf '%s' "$line" | cut -d, -f4-)
most=$(printf '%s' "$budgets" | awk -F, '{ print NF }')
static=$(printf '%s' "$budgets" | cut -d, -f"$most")
admin() { timeout 5 mysql --defaults-file="$FLEET_ADMIN_CLIENT" -N -B -e "$1" </dev/null 2>/dev/null; }
# The client address is the host column up to its last colon (IPv6 addresses hold colons too).
count_sql="SELECT COUNT(DISTINCT SUBSTRING(host, 1, LENGTH(host) - LOCATE(':', REVERSE(host)))) FROM information_schema.PROCESSLIST WHERE user = SUBSTRING_INDEX(USER(), '@', 1) AND time < 30"
# count: print the number of running tasks, or fail.
count() {
  # shellcheck disable=SC2046 # three words, split on purpose
  set -- $(admin "SELECT hostname, port, use_ssl FROM runtime_mysql_servers WHERE hostgroup_id=$w AND status='ONLINE' ORDER BY weight DESC LIMIT 1")
  [ $# -eq 3 ] || return 1
  if [ "$3" = 1 ] && [ -s "$FLEET_CA" ]; then
    timeout 5 mysql --defaults-file="$FLEET_MONITOR_CLIENT" -h "$1" -P "$2" --connect-timeout=3 --ssl-ca="$FLEET_CA" --ssl-verify-server-cert -N -B -e "$count_sql" </dev/null
  elif [ "$3" = 1 ]; then
    timeout 5 mysql --defaults-file="$FLEET_MONITOR_CLIENT" -h "$1" -P "$2" --connect-timeout=3 --ssl -N -B -e "$count_sql" </dev/null
  else
    timeout 5 mysql --defaults-file="$FLEET_MONITOR_CLIENT" -h "$1" -P "$2" --connect-timeout=3 -N -B -e "$count_sql" </dev/null
  fi
}
is_writer="EXISTS (SELECT 1 FROM %s x WHERE x.hostgroup_id=$w AND x.hostname=s.hostname AND x.port=s.port)"
# apply FULL SMALL: make the rows right, if they are not. With reads falling back to the writer, the
# writer keeps SMALL of its FULL for reads in its reader row of weight 1 and every other reader has
# the readers' weight and FULL; this only while a writer is ONLINE: with none (the primary down),
# the monitor assumes the old writer is read-only and lists it as a reader, where it must keep its
# weight of 1, and then only a row above FULL is lowered to it. Without fallback every row has FULL.
apply() {
  if [ "$heavy" -gt 0 ]; then
    # shellcheck disable=SC2059 # the %s are table names, filled in by printf on purpose
    online=$(printf "EXISTS (SELECT 1 FROM %s o WHERE o.hostgroup_id=$w AND o.status='ONLINE')" runtime_mysql_servers)
    # Two counts: the rows to fix, and among them the reader rows whose weight is wrong (a failover).
    # shellcheck disable=SC2059
    wrong=$(printf "SELECT COUNT(*), COALESCE(SUM($online AND s.hostgroup_id=$r AND CASE WHEN $is_writer THEN s.weight<>1 ELSE s.weight<>$heavy END), 0) FROM runtime_mysql_servers s WHERE ($online AND ((s.hostgroup_id=$r AND CASE WHEN $is_writer THEN s.weight<>1 OR s.max_connections<>$2 ELSE s.weight<>$heavy OR s.max_connections<>$1 END) OR (s.hostgroup_id=$w AND s.max_connections<>$(($1 - $2))))) OR (NOT $online AND s.hostgroup_id IN ($w, $r) AND s.max_connections>$1)" runtime_mysql_servers runtime_mysql_servers)
    # After SAVE ... FROM RUNTIME, mysql_servers holds what the runtime has, status included.
    online=$(printf "EXISTS (SELECT 1 FROM %s o WHERE o.hostgroup_id=$w AND o.status='ONLINE')" mysql_servers)
    # shellcheck disable=SC2059
    fix=$(printf "SAVE MYSQL SERVERS FROM RUNTIME; UPDATE mysql_servers AS s SET weight=1, max_connections=$2 WHERE s.hostgroup_id=$r AND $is_writer AND $online; UPDATE mysql_servers AS s SET weight=$heavy, max_connections=$1 WHERE s.hostgroup_id=$r AND NOT $is_writer AND $online; UPDATE mysql_servers SET max_connections=$(($1 - $2)) WHERE hostgroup_id=$w AND $online; UPDATE mysql_servers SET max_connections=$1 WHERE hostgroup_id IN ($w, $r) AND max_connections>$1 AND NOT $online; LOAD MYSQL SERVERS TO RUNTIME;" mysql_servers mysql_servers)
  else
    wrong="SELECT COUNT(*), 0 FROM runtime_mysql_servers WHERE hostgroup_id IN ($w, $r) AND max_connections<>$1"
    fix="SAVE MYSQL SERVERS FROM RUNTIME; UPDATE mysql_servers SET max_connections=$1 WHERE hostgroup_id IN ($w, $r); LOAD MYSQL SERVERS TO RUNTIME;"
  fi
  moved=
  counts=$(admin "$wrong") || return 1
  n=$(printf '%s' "$counts" | cut -f1)
  weights=$(printf '%s' "$counts" | cut -f2)
  [ "${n:-0}" -gt 0 ] || return 0
  admin "$fix" >/dev/null || return 1
  [ "${weights:-0}" -eq 0 ] || moved=1
}
now() { date +%s; }
current=$static
seen=0
seen_since=$(now)
counted_at=$(now)
counting=1
while kill -0 "$FLEET_CHILD" 2>/dev/null; do
  sleep 2
  want=$current
  if [ "$most" -gt 1 ]; then
    if tasks=$(count 2>/dev/null) && [ -n "$tasks" ] && [ "$tasks" -ge 1 ] 2>/dev/null; then
      [ "$counting" = 1 ] || log "counting the running tasks again"
      counting=1
      counted_at=$(now)
      [ "$tasks" -le "$most" ] || tasks=$most
      [ "$tasks" = "$seen" ] || { seen=$tasks; seen_since=$(now); }
      want=$(printf '%s' "$budgets" | cut -d, -f"$tasks")
      # A larger share waits until the smaller count has held for 6 s.
      if [ "${want%%:*}" -gt "${current%%:*}" ] && [ $(($(now) - seen_since)) -lt 6 ]; then want=$current; fi
    elif [ $(($(now) - counted_at)) -ge 10 ]; then
      [ "$counting" = 0 ] || log "cannot count the running tasks on the writer; using the share that is safe for $most tasks"
      counting=0
      seen=0
      want=$static
    fi
  fi
  # A failed apply is tried again at the next poll.
  if apply "${want%%:*}" "${want##*:}"; then
    if [ "$want" != "$current" ]; then
      log "$([ "$seen" -gt 0 ] && echo "$seen running tasks" || echo "tasks not counted"): ${want%%:*} backend connections per server and hostgroup (was ${current%%:*})"
    fi
    # Logged on its own: a failover can come in the same poll as a change of the share.
    [ -z "$moved" ] || log "reader weights moved to follow the writer"
    current=$want
  fi
done
