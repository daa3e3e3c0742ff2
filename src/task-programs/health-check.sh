#!/bin/sh
# The ProxySQL container's health check (`CMD-SHELL`): fails only for a fault in the task itself.
#
# It passes when the admin interface answers a read of `runtime_mysql_servers` within its connect
# timeout. To answer it the admin thread takes the hostgroup manager's lock, which every query
# routed through the proxy needs too, so a ProxySQL that is gone, not listening or wedged fails the
# check; the rows themselves are not looked at.
#
# Database-side faults never fail it: no server in the writer hostgroup, SHUNNED servers, a monitor
# user that cannot log in. Replacing tasks fixes none of them, and they hit every task at once: with
# 3 retries every 10 s, a check that required a writer (measured on 2.7.1: failing from the 5th
# second after the primary stopped) would have ECS replace the whole fleet during any writer outage
# longer than ~30 s, killing reads that still worked through the replicas. ProxySQL logs those
# faults itself (`missed 3 read_only checks. Assuming read_only=1`, `is returning "Access denied"
# for monitoring user`, shunning messages); metrics and alarms are the place to act on them.
#
# It reads the option file start.sh wrote. ECS runs it as one line: keep it to one command line.
d="${PROXYSQL_CONFIG_DIR:-/var/lib/proxysql}"; mysql --defaults-file="$d/admin-client.cnf" --connect-timeout=3 -N -B -e "SELECT COUNT(*) FROM runtime_mysql_servers" </dev/null >/dev/null
