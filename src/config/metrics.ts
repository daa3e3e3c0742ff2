/**
 * The one list of ProxySQL metrics the library publishes: namespace, names, units, dimensions and
 * where each value comes from. The sidecar's script (`metrics-script.ts`) is rendered from it, and
 * the metric helpers, the dashboard and the alarms of `ProxySqlFargate` read it; a test checks that
 * both sides agree.
 */

/** The CloudWatch namespace of every metric the sidecar publishes. */
export const METRICS_NAMESPACE = 'ProxySQL';
/** Dimension naming the proxy (one value per `ProxySqlFargate`, known at synth). */
export const PROXY_NAME_DIMENSION = 'ProxyName';
/** Dimension naming the hostgroup's role (`writer` or `readers`). */
export const ROLE_DIMENSION = 'Role';

/** The role of a ProxySQL hostgroup, a dimension of the per-hostgroup metrics. */
export enum HostgroupRole {
  /** The writer hostgroup (`writerHostgroup`, 10 by default). */
  WRITER = 'writer',
  /** The reader hostgroup (`readerHostgroup`, 20 by default). */
  READERS = 'readers',
}

/**
 * How a value is published:
 * - `gauge`: the value read at the sample;
 * - `counter`: the increase of a cumulative counter since the previous sample (per server row for
 *   the connection pool, so a server that moves between hostgroups does not produce a negative
 *   value); the first sample of a container publishes no counters;
 * - `events`: rows logged since the previous sample (the monitor's logs); none on the first sample.
 */
export type MetricKind = 'gauge' | 'counter' | 'events';

export interface MetricSpec {
  readonly name: string;
  readonly unit: 'Count' | 'Milliseconds' | 'None';
  readonly kind: MetricKind;
  /** Published once per hostgroup role (dimensions ProxyName, Role) or once per task (ProxyName). */
  readonly perRole: boolean;
  /** The key the sidecar's awk program fills (see `metrics-script.ts`). */
  readonly source: string;
  /**
   * Table and column, for docs/observability.md and the helpers' documentation. A `source` read
   * from `stats_mysql_global` is a variable name and `from` starts with `stats_mysql_global.`
   * (that is how `metrics-script.ts` knows which variables to select).
   */
  readonly from: string;
  /** The statistic helpers use unless told otherwise. */
  readonly statistic: 'Sum' | 'Average' | 'Minimum' | 'Maximum';
}

/** Every metric the sidecar publishes, in the order it prints them. */
export const METRICS: readonly MetricSpec[] = [
  // per hostgroup role
  { name: 'ServersOnline', unit: 'Count', kind: 'gauge', perRole: true, source: 'online', from: 'runtime_mysql_servers: rows with status ONLINE', statistic: 'Minimum' },
  { name: 'ServersNotOnline', unit: 'Count', kind: 'gauge', perRole: true, source: 'offline', from: 'runtime_mysql_servers: rows with another status (SHUNNED, OFFLINE_SOFT, OFFLINE_HARD)', statistic: 'Maximum' },
  { name: 'BackendConnectionsUsed', unit: 'Count', kind: 'gauge', perRole: true, source: 'ConnUsed', from: 'stats_mysql_connection_pool.ConnUsed (sum over the servers)', statistic: 'Maximum' },
  { name: 'BackendConnectionsFree', unit: 'Count', kind: 'gauge', perRole: true, source: 'ConnFree', from: 'stats_mysql_connection_pool.ConnFree (sum over the servers)', statistic: 'Minimum' },
  { name: 'BackendConnectionsLimit', unit: 'Count', kind: 'gauge', perRole: true, source: 'limit', from: 'runtime_mysql_servers.max_connections of the hostgroup\'s ONLINE rows (summed): what the task may open now, its share of the connection budget', statistic: 'Minimum' },
  { name: 'BackendConnectionErrors', unit: 'Count', kind: 'counter', perRole: true, source: 'ConnERR', from: 'stats_mysql_connection_pool.ConnERR (increase)', statistic: 'Sum' },
  { name: 'QueriesRouted', unit: 'Count', kind: 'counter', perRole: true, source: 'Queries', from: 'stats_mysql_connection_pool.Queries (increase)', statistic: 'Sum' },
  // Pinning and waiting (RDS Proxy's DatabaseConnectionsCurrentlySessionPinned and BorrowLatency)
  { name: 'SessionsPinned', unit: 'Count', kind: 'gauge', perRole: true, source: 'pinned', from: 'stats_mysql_processlist: backend connections of the hostgroup held by idle client sessions (command Sleep, an entry of extended_info.backends with a conn)', statistic: 'Maximum' },
  { name: 'ClientsWaitingForConnection', unit: 'Count', kind: 'gauge', perRole: true, source: 'waiting', from: 'stats_mysql_processlist: sessions of the hostgroup with command Connect (waiting for a backend connection)', statistic: 'Maximum' },
  { name: 'ConnectionWaitMaxMs', unit: 'Milliseconds', kind: 'gauge', perRole: true, source: 'waitMs', from: 'stats_mysql_processlist.time_ms of those sessions: the longest wait at the sample', statistic: 'Maximum' },
  // per task
  { name: 'WriterAvailable', unit: 'None', kind: 'gauge', perRole: false, source: 'writer', from: 'runtime_mysql_servers: 1 when a server of the writer hostgroup is ONLINE, else 0', statistic: 'Minimum' },
  { name: 'MonitorCheckFailures', unit: 'Count', kind: 'events', perRole: false, source: 'monErrors', from: 'monitor.mysql_server_connect_log.connect_error, mysql_server_ping_log.ping_error, mysql_server_read_only_log.error: rows with an error', statistic: 'Sum' },
  { name: 'MonitorLoginFailures', unit: 'Count', kind: 'events', perRole: false, source: 'monDenied', from: 'the same monitor logs: errors containing "Access denied"', statistic: 'Sum' },
  { name: 'ClientConnectionsConnected', unit: 'Count', kind: 'gauge', perRole: false, source: 'Client_Connections_connected', from: 'stats_mysql_global.Client_Connections_connected', statistic: 'Maximum' },
  { name: 'ClientConnectionsCreated', unit: 'Count', kind: 'counter', perRole: false, source: 'Client_Connections_created', from: 'stats_mysql_global.Client_Connections_created (increase)', statistic: 'Sum' },
  { name: 'ClientConnectionsAborted', unit: 'Count', kind: 'counter', perRole: false, source: 'Client_Connections_aborted', from: 'stats_mysql_global.Client_Connections_aborted (increase)', statistic: 'Sum' },
  { name: 'ConnectTimeouts', unit: 'Count', kind: 'counter', perRole: false, source: 'max_connect_timeouts', from: 'stats_mysql_global.max_connect_timeouts (increase; statements failed with "Max connect timeout reached" after borrowTimeout)', statistic: 'Sum' },
  { name: 'Questions', unit: 'Count', kind: 'counter', perRole: false, source: 'Questions', from: 'stats_mysql_global.Questions (increase)', statistic: 'Sum' },
  { name: 'SlowQueries', unit: 'Count', kind: 'counter', perRole: false, source: 'Slow_queries', from: 'stats_mysql_global.Slow_queries (increase; mysql-long_query_time, 1 s by default)', statistic: 'Sum' },
];

/** The catalog entry of a metric, or an error naming it (a helper asked for a metric nobody emits). */
export function metricSpec(name: string): MetricSpec {
  const spec = METRICS.find((m) => m.name === name);
  if (!spec) throw new Error(`cdk-proxysql: no metric named ${name} is published by the metrics sidecar`);
  return spec;
}

/** The dimension names of a metric, in the order the sidecar declares them. */
export function dimensionNames(spec: MetricSpec): string[] {
  return spec.perRole ? [PROXY_NAME_DIMENSION, ROLE_DIMENSION] : [PROXY_NAME_DIMENSION];
}
