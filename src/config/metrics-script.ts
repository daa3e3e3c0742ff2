/**
 * The commands of the two small side containers of a task, both built from the ProxySQL image:
 *
 * - `METRICS_SCRIPT` (container `metrics`): every interval, reads ProxySQL's `stats` and `monitor`
 *   tables through the admin interface on 127.0.0.1 and prints CloudWatch Embedded Metric Format
 *   lines to stdout, which the awslogs driver sends to the task's log stream; CloudWatch Logs
 *   extracts the metrics, so the container needs no IAM permission of its own.
 * - `QUERY_LOG_SCRIPT` (container `query-log`): copies ProxySQL's JSON events log from the volume
 *   it shares with the ProxySQL container to stdout, into the query log group.
 *
 * POSIX sh (dash in the image), mawk, coreutils and the `mysql` client: no jq, python or curl. The
 * admin password reaches `mysql` only through a 0600 option file (as in the start script).
 */
import { HostgroupRole, METRICS, METRICS_NAMESPACE, PROXY_NAME_DIMENSION, ROLE_DIMENSION } from './metrics';
import { shQuote, writeAdminClientFile } from './start-script';

/** Env var with the seconds between two samples (the `metricsInterval` prop). */
export const METRICS_INTERVAL_ENV = 'PROXYSQL_METRICS_INTERVAL_SECONDS';
/** Env var with the value of the `ProxyName` dimension. */
export const METRICS_PROXY_NAME_ENV = 'PROXYSQL_METRICS_PROXY_NAME';
/** Env var with `<writer hostgroup>,<reader hostgroup>`. */
export const METRICS_HOSTGROUPS_ENV = 'PROXYSQL_METRICS_HOSTGROUPS';
/** Env var with the admin interface's port on 127.0.0.1. */
export const ADMIN_PORT_ENV = 'PROXYSQL_ADMIN_PORT';
/** Env var with the folder holding ProxySQL's events log (the shared volume's mount point). */
export const QUERY_LOG_DIR_ENV = 'PROXYSQL_QUERY_LOG_DIR';
/** Base name of the events log; ProxySQL appends `.00000001`, `.00000002`, ... as it rotates. */
export const QUERY_LOG_BASENAME = 'queries.log';

/** Names of `stats_mysql_global` rows the catalog reads (its `source` keys that are variable names). */
const GLOBAL_VARIABLES = METRICS.filter((m) => /^[A-Z]/.test(m.source)
  && !['ConnUsed', 'ConnFree', 'ConnERR', 'Queries'].includes(m.source)).map((m) => m.source);

/**
 * One admin round trip; `@SINCE@` is the monitor watermark (the newest `time_start_us` seen so far).
 * Rows: `srv hostgroup status count`, `pool hostgroup server ConnUsed ConnFree ConnERR Queries`,
 * `global name value`, `mon errors denied watermark`.
 */
export const METRICS_SQL = [
  "SELECT 'srv', hostgroup_id, status, COUNT(*) FROM runtime_mysql_servers GROUP BY hostgroup_id, status;",
  "SELECT 'pool', hostgroup, srv_host || ':' || srv_port, ConnUsed, ConnFree, ConnERR, Queries FROM stats_mysql_connection_pool;",
  `SELECT 'global', Variable_Name, Variable_Value FROM stats_mysql_global WHERE Variable_Name IN (${GLOBAL_VARIABLES.map((v) => `'${v}'`).join(', ')});`,
  "SELECT 'mon', COUNT(e), COALESCE(SUM(e LIKE '%Access denied%'), 0), COALESCE(MAX(t), @SINCE@) FROM ("
  + 'SELECT time_start_us AS t, connect_error AS e FROM monitor.mysql_server_connect_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, ping_error FROM monitor.mysql_server_ping_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, error FROM monitor.mysql_server_read_only_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, error FROM monitor.mysql_server_aws_aurora_log WHERE time_start_us > @SINCE@);',
].join(' ');

/** The catalog as the awk program reads it: `name unit kind perRole source` records, `;`-separated. */
const CATALOG = METRICS.map((m) => [m.name, m.unit, m.kind, m.perRole ? 1 : 0, m.source].join(' ')).join(';');

/**
 * awk program: reads the previous sample's counters from `statefile`, the sample on stdin, prints
 * one EMF line per hostgroup role and one for the task, and writes the counters to `statefile.new`
 * and the monitor watermark to `sincefile`. Numbers go through printf "%.0f": mawk prints larger
 * integers in %.6g otherwise (1.73283e+15). Counter deltas are per key (a server row of the pool,
 * a global variable); a key new since the last sample counts from zero, and a counter that went
 * backwards (a pool row recreated) counts from zero too, so no delta is ever negative.
 */
const EMF_AWK = String.raw`
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function num(v) { return sprintf("%.0f", v) }
function counter(key, role, source, v,    d) {
  cur[key] = v
  if (first == 1) return
  d = (key in prev) ? v - prev[key] : v
  if (d < 0) d = v
  val[role SUBSEP source] += d
}
BEGIN {
  FS = "\t"
  n = split(catalog, specs, ";")
  while ((getline line < statefile) > 0) { split(line, kv, "\t"); prev[kv[1]] = kv[2] }
  close(statefile)
  # From ENVIRON, not -v: awk would interpret backslashes in a -v value.
  name = ENVIRON["${METRICS_PROXY_NAME_ENV}"]
  if (name == "") name = "proxysql"
  hostgroups = ENVIRON["${METRICS_HOSTGROUPS_ENV}"]
  if (hostgroups == "") hostgroups = "10,20"
  split(hostgroups, hg, ",")
  role[hg[1]] = "${HostgroupRole.WRITER}"; role[hg[2]] = "${HostgroupRole.READERS}"
  roles[1] = "${HostgroupRole.WRITER}"; roles[2] = "${HostgroupRole.READERS}"; roles[3] = ""
  since = ""
}
$1 == "srv" && ($2 in role) { val[role[$2] SUBSEP ($3 == "ONLINE" ? "online" : "offline")] += $4 }
$1 == "pool" && ($2 in role) {
  r = role[$2]
  val[r SUBSEP "ConnUsed"] += $4; val[r SUBSEP "ConnFree"] += $5
  counter("ConnERR/" $2 "/" $3, r, "ConnERR", $6)
  counter("Queries/" $2 "/" $3, r, "Queries", $7)
}
$1 == "global" { g[$2] = $3 }
$1 == "mon" { val["" SUBSEP "monErrors"] = $2; val["" SUBSEP "monDenied"] = $3; since = $4 }
END {
  val["" SUBSEP "writer"] = val["${HostgroupRole.WRITER}" SUBSEP "online"] > 0 ? 1 : 0
  for (i = 1; i <= n; i++) {
    split(specs[i], s, " ")
    if (!s[4] && s[3] == "gauge" && (s[5] in g)) val["" SUBSEP s[5]] = g[s[5]]
    if (!s[4] && s[3] == "counter" && (s[5] in g)) counter(s[5], "", s[5], g[s[5]])
  }
  for (k = 1; k <= 3; k++) {
    r = roles[k]
    defs = ""; members = ""
    for (i = 1; i <= n; i++) {
      split(specs[i], s, " ")
      if ((s[4] == 1) != (r != "")) continue
      if (first == 1 && s[3] != "gauge") continue
      defs = defs (defs == "" ? "" : ",") "{\"Name\":" jstr(s[1]) ",\"Unit\":" jstr(s[2]) "}"
      members = members ",\"" s[1] "\":" num(val[r SUBSEP s[5]] + 0)
    }
    if (defs == "") continue
    dims = "\"${PROXY_NAME_DIMENSION}\"" (r != "" ? ",\"${ROLE_DIMENSION}\"" : "")
    printf "{\"_aws\":{\"Timestamp\":%s,\"CloudWatchMetrics\":[{\"Namespace\":\"${METRICS_NAMESPACE}\",\"Dimensions\":[[%s]],\"Metrics\":[%s]}]},\"${PROXY_NAME_DIMENSION}\":%s%s%s}\n", ts, dims, defs, jstr(name), (r != "" ? ",\"${ROLE_DIMENSION}\":" jstr(r) : ""), members
  }
  for (key in cur) printf "%s\t%s\n", key, num(cur[key]) > (statefile ".new")
  if (since != "") print since > sincefile
}
`;

/**
 * The metrics sidecar's command, run as `['sh', '-c', METRICS_SCRIPT]`.
 *
 * Waits for nothing: a sample the admin interface does not answer is skipped with one line on
 * stderr (no EMF is printed, so alarms see missing data, not zeros). Exits at once on SIGTERM
 * (ECS stops it before the ProxySQL container, which depends on nothing it does).
 */
export const METRICS_SCRIPT = `set -u
umask 077
log() { printf 'proxysql-metrics: %s\\n' "$*" >&2; }
interval="\${${METRICS_INTERVAL_ENV}:-60}"
case "$interval" in ''|*[!0-9]*|0) log "${METRICS_INTERVAL_ENV} is not a positive whole number of seconds; using 60"; interval=60;; esac
tmp=$(mktemp -d) || { log "cannot create a temporary folder"; exit 1; }
trap 'rm -rf "$tmp"; exit 0' TERM INT
client="$tmp/admin-client.cnf"
${writeAdminClientFile(`"\${${ADMIN_PORT_ENV}:-6032}"`, '$client')}
sql=${shQuote(METRICS_SQL)}
since=0
first=1
: >"$tmp/state"
while :; do
  ts=$(date +%s%3N)
  if timeout 10 mysql --defaults-file="$client" -N -B -e "$(printf '%s' "$sql" | sed "s/@SINCE@/$since/g")" </dev/null >"$tmp/sample" 2>"$tmp/error"; then
    rm -f "$tmp/state.new"
    if LC_ALL=C awk -v first="$first" -v ts="$ts" \\
      -v catalog=${shQuote(CATALOG)} -v statefile="$tmp/state" -v sincefile="$tmp/since" ${shQuote(EMF_AWK)} <"$tmp/sample"; then
      mv -f "$tmp/state.new" "$tmp/state" 2>/dev/null || : >"$tmp/state"
      since=$(cat "$tmp/since" 2>/dev/null || echo "$since")
      case "$since" in ''|*[!0-9]*) since=0;; esac
      first=0
    fi
  else
    log "no sample: the admin interface did not answer ($(head -c 300 "$tmp/error" | tr '\\n' ' '))"
  fi
  sleep "$interval" & wait $!
done
`;

/**
 * The query log container's command, run as `['sh', '-c', QUERY_LOG_SCRIPT]`: follows the newest
 * `queries.log.NNNNNNNN` in the shared folder and prints its lines; when ProxySQL rotates to a new
 * file (at `mysql-eventslog_filesize`), it lets the old one finish for 2 s, then deletes it so the
 * task's storage does not fill up.
 */
export const QUERY_LOG_SCRIPT = `set -u
dir="\${${QUERY_LOG_DIR_ENV}:-/var/log/proxysql-queries}"
cur=
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 0' TERM INT
while :; do
  f=$(ls -1 "$dir" 2>/dev/null | grep '^${QUERY_LOG_BASENAME.replace(/\./g, '\\.')}\\.[0-9][0-9]*$' | sort | tail -n 1)
  if [ -n "$f" ] && [ "$f" != "$cur" ]; then
    if [ -n "$pid" ]; then sleep 2; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$dir/$cur"; fi
    tail -n +1 -F "$dir/$f" 2>/dev/null &
    pid=$!
    cur=$f
  fi
  sleep 2 & wait $!
done
`;
