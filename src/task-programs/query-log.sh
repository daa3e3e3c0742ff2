#!/bin/sh
# The query log container's command (container `query-log`, same image, non-essential): follows the
# newest `queries.log.NNNNNNNN` that ProxySQL writes into the folder it shares with this container
# (PROXYSQL_QUERY_LOG_DIR) and prints its lines to stdout, into the query log group. When ProxySQL
# rotates to a new file (at `mysql-eventslog_filesize`), it lets the old one finish for 2 s, then
# deletes it so the task's storage does not fill up.
#
# Comment lines and blank lines are not part of the container command.
set -u
dir="${PROXYSQL_QUERY_LOG_DIR:-/var/log/proxysql-queries}"
cur=
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 0' TERM INT
while :; do
  # shellcheck disable=SC2010 # ProxySQL names these files itself: no spaces or newlines
  f=$(ls -1 "$dir" 2>/dev/null | grep '^queries\.log\.[0-9][0-9]*$' | sort | tail -n 1)
  if [ -n "$f" ] && [ "$f" != "$cur" ]; then
    if [ -n "$pid" ]; then sleep 2; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$dir/$cur"; fi
    tail -n +1 -F "$dir/$f" 2>/dev/null &
    pid=$!
    cur=$f
  fi
  sleep 2 & wait $!
done
