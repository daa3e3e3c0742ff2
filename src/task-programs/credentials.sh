#!/bin/sh
# Runs beside ProxySQL in the ProxySQL container (start.sh starts it when the task has the
# credentials sidecar): applies the secret values that sidecar keeps in the task volume through the
# admin interface, without a restart and without closing a client session.
#
# Every second it checks whether any entry's file changed (a checksum of the files, read through a
# pipe); then credentials.awk turns all of them into admin statements (the users of each entry,
# the monitor's login), which go to the admin client on stdin. A failed apply is tried again the
# next second; the monitor's option file for fleet-share.sh is replaced once the apply worked.
#
# Environment (from start.sh): CRED_DIR (the task volume), CRED_NAMES (the entries), CRED_ADMIN_CLIENT
# (the admin option file), CRED_MONITOR_CLIENT (the monitor's option file), CRED_CHILD (ProxySQL's
# pid: the loop ends with it).
set -u
umask 077
log() { printf 'proxysql-credentials: %s\n' "$*" >&2; }
applied=
while kill -0 "$CRED_CHILD" 2>/dev/null; do
  sleep 1
  sum=$(cd "$CRED_DIR" 2>/dev/null && for f in $CRED_NAMES; do [ -f "$f" ] && cat "$f"; echo "/$f"; done | cksum)
  [ "$sum" != "$applied" ] || continue
  rm -f "$CRED_MONITOR_CLIENT.tmp"
  sql=$(LC_ALL=C awk -v dir="$CRED_DIR" -v names="$CRED_NAMES" -v monitor_client="$CRED_MONITOR_CLIENT" "$CREDENTIALS_AWK" </dev/null)
  if [ -z "$sql" ]; then applied=$sum; continue; fi
  if printf '%s\n' "$sql" | timeout 5 mysql --defaults-file="$CRED_ADMIN_CLIENT" 2>/dev/null; then
    [ ! -f "$CRED_MONITOR_CLIENT.tmp" ] || mv -f "$CRED_MONITOR_CLIENT.tmp" "$CRED_MONITOR_CLIENT"
    applied=$sum
    log "applied the credentials of $(printf '%s\n' "$sql" | sed -n "s/^DELETE FROM mysql_users WHERE comment='cdk-proxysql:\([a-z0-9]*\)'.*/\1/p; s/^UPDATE global_variables .*'mysql-monitor_username';$/monitor/p" | tr '\n' ' ')through the admin interface"
  else
    log "could not apply the credentials through the admin interface; trying again"
  fi
done
