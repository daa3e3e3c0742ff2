/**
 * The commands of the two small side containers of a task, both run from the ProxySQL image:
 * `src/task-programs/metrics.sh` (container `metrics`: ProxySQL's statistics as CloudWatch Embedded
 * Metric Format lines, by `emf.awk`) and `query-log.sh` (container `query-log`: ProxySQL's JSON
 * events log to stdout); see each file for what it does and why. The metric catalog
 * (`./metrics`) is the one source of what the sidecar reads and publishes and what the helpers,
 * the dashboard and the alarms read.
 */
import { METRICS } from './metrics';
import { ADMIN_CLIENT_AWK } from './start-script';
import { taskProgram } from './task-programs';

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
const GLOBAL_VARIABLES = METRICS.filter((m) => m.from.startsWith('stats_mysql_global.')).map((m) => m.source);

/**
 * Pinned and waiting sessions per hostgroup, from the processlist (`proc hostgroup pinned waiting
 * longestWaitMs`). Pinned: each backend connection an idle session (`Sleep`) holds, read from
 * `extended_info` (the configuration sets `mysql-show_processlist_extended=1`) because a session
 * holds one per hostgroup and the plain columns show only its current one; the `LIKE` keeps the
 * JSON parsing to sessions that hold one (only a backend connection's JSON has `MultiplexDisabled`).
 * Without `extended_info` (a raw variable turned it off) the current backend is counted. Waiting:
 * sessions in `Connect`, which in 2.7 is a statement waiting for a backend connection of its
 * hostgroup (from the pool, or one being opened); `time_ms` is the time since the client's last
 * packet, i.e. since it sent the statement.
 */
const PROCESSLIST_SQL = "SELECT 'proc', hg, SUM(pinned), SUM(waiting), MAX(waited) FROM ("
  + "SELECT CAST(json_extract(b.value, '$.hostgroup_id') AS INT) AS hg, 1 AS pinned, 0 AS waiting, 0 AS waited "
  + "FROM stats_mysql_processlist p, json_each(p.extended_info, '$.backends') b "
  + "WHERE p.command = 'Sleep' AND p.extended_info LIKE '%\"MultiplexDisabled\"%' AND json_extract(b.value, '$.conn') IS NOT NULL "
  + "UNION ALL SELECT hostgroup, 1, 0, 0 FROM stats_mysql_processlist WHERE command = 'Sleep' AND srv_host IS NOT NULL AND extended_info IS NULL "
  + "UNION ALL SELECT hostgroup, 0, 1, time_ms FROM stats_mysql_processlist WHERE command = 'Connect'"
  + ') GROUP BY hg;';

/**
 * One admin round trip; `@SINCE@` is the monitor watermark (the newest `time_start_us` seen so far).
 * Rows: `srv hostgroup status count max_connections`, `pool hostgroup server ConnUsed ConnFree ConnERR Queries`,
 * `proc hostgroup pinned waiting longestWaitMs`, `global name value`, `mon errors denied watermark`.
 */
export const METRICS_SQL = [
  "SELECT 'srv', hostgroup_id, status, COUNT(*), SUM(max_connections) FROM runtime_mysql_servers GROUP BY hostgroup_id, status;",
  "SELECT 'pool', hostgroup, srv_host || ':' || srv_port, ConnUsed, ConnFree, ConnERR, Queries FROM stats_mysql_connection_pool;",
  PROCESSLIST_SQL,
  `SELECT 'global', Variable_Name, Variable_Value FROM stats_mysql_global WHERE Variable_Name IN (${GLOBAL_VARIABLES.map((v) => `'${v}'`).join(', ')});`,
  "SELECT 'mon', COUNT(e), COALESCE(SUM(e LIKE '%Access denied%'), 0), COALESCE(MAX(t), @SINCE@) FROM ("
  + 'SELECT time_start_us AS t, connect_error AS e FROM monitor.mysql_server_connect_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, ping_error FROM monitor.mysql_server_ping_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, error FROM monitor.mysql_server_read_only_log WHERE time_start_us > @SINCE@ '
  + 'UNION ALL SELECT time_start_us, error FROM monitor.mysql_server_aws_aurora_log WHERE time_start_us > @SINCE@);',
].join(' ');

/** The catalog as emf.awk reads it: `name unit kind perRole source` records, `;`-separated. */
const CATALOG = METRICS.map((m) => [m.name, m.unit, m.kind, m.perRole ? 1 : 0, m.source].join(' ')).join(';');

/** `metrics.sh` with its inputs: run as `['sh', '-c', METRICS_SCRIPT]`. */
export const METRICS_PROGRAM = taskProgram('metrics.sh', {
  ADMIN_CLIENT_AWK,
  EMF_AWK: taskProgram('emf.awk').command,
  METRICS_SQL,
  METRICS_CATALOG: CATALOG,
});

/** The metrics sidecar's command, run as `['sh', '-c', METRICS_SCRIPT]`. */
export const METRICS_SCRIPT = METRICS_PROGRAM.command;

/** The query log container's command, run as `['sh', '-c', QUERY_LOG_SCRIPT]`. */
export const QUERY_LOG_SCRIPT = taskProgram('query-log.sh').command;
