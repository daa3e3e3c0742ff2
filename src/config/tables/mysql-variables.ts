/**
 * `mysql_variables`: the client side (threads, connections, timeouts, TLS), the monitor, the query
 * processor and the query log.
 */
import { Token } from 'aws-cdk-lib';
import { Checks } from './checks';
import { kv, Template } from './libconfig';
import { checkRawVariables, withRaw } from './raw-variables';
import { BACKEND_CA_FILE_PLACEHOLDER, SecretQuoting } from '../environment';
import { ConfigModel, DEFAULTS } from '../model';

/**
 * `mysql-keep_multiplexing_variables`: system variables a `SELECT @@...` may read without ProxySQL
 * pinning the backend connection to the client for the rest of its life. ProxySQL's own list
 * (tx_isolation, transaction_isolation, version) plus what popular drivers read on every new
 * connection: Connector/J 8.x/9.x (its connect query, for MySQL 8 and for MariaDB), SQLAlchemy
 * (lower_case_table_names, sql_mode, the isolation level), go-sql-driver (max_allowed_packet), MariaDB
 * Connector/C++ (max_allowed_packet, system_time_zone, time_zone, auto_increment_increment), Rust's
 * mysql crate (max_allowed_packet, wait_timeout, socket).
 * Each is safe to read on any connection: the session's character sets, collation, sql_mode,
 * time_zone, net_write_timeout, auto_increment_increment and isolation are tracked by ProxySQL and
 * set on whichever connection runs the client's next statement; the others are server settings, the
 * same on every connection to a server (wait_timeout and interactive_timeout are the server's
 * defaults: the client's idle limit is ProxySQL's mysql-wait_timeout). ProxySQL matches each name
 * as a prefix of the variable read.
 */
export const KEEP_MULTIPLEXING_VARIABLES = [
  'tx_isolation', 'transaction_isolation', 'version',
  'auto_increment_increment', 'character_set_client', 'character_set_connection', 'character_set_results',
  'character_set_server', 'collation_server', 'collation_connection', 'init_connect', 'interactive_timeout',
  'license', 'lower_case_table_names', 'max_allowed_packet', 'net_write_timeout', 'performance_schema',
  'query_cache_size', 'query_cache_type', 'socket', 'sql_mode', 'system_time_zone', 'time_zone', 'wait_timeout',
];

/** Typed mysql variables that the raw escape hatch may not override, with the prop to use instead. */
const TYPED_MYSQL_VARIABLES: { [name: string]: string } = {
  threads: 'workerThreads',
  max_connections: 'maxClientConnections',
  connection_max_age_ms: 'connectionMaxAgeMs',
  wait_timeout: 'idleClientTimeout',
  connect_timeout_server_max: 'borrowTimeout',
  monitor_connect_interval: 'monitorConnectIntervalMs',
  monitor_ping_interval: 'monitorPingIntervalMs',
  monitor_read_only_interval: 'monitorReadOnlyIntervalMs',
  monitor_read_only_timeout: 'monitorReadOnlyTimeoutMs',
  monitor_writer_is_also_reader: 'writerIsAlsoReader',
  have_ssl: 'frontendTls',
  eventslog_filename: 'queryLog',
  eventslog_format: 'queryLog',
  eventslog_default_log: 'queryLog',
  ssl_p2s_ca: 'the backend (serverCaPem; the Amazon RDS CAs for Aurora and RDS)',
  interfaces: 'trafficPort',
  server_version: 'the backend topology (serverVersion)',
  monitor_username: 'the monitor secret',
  monitor_password: 'the monitor secret',
};
/** Mysql variables the task itself depends on, with the reason; no prop changes them. */
const FIXED_MYSQL_VARIABLES: { [name: string]: string } = {
  show_processlist_extended: 'the stop handler reads open transactions from the processlist\'s extended_info',
  query_processor_regex: 'query rules are checked at synth against RE2, the engine this value (2) selects',
};

export function validateMysqlVariables(m: ConfigModel, c: Checks): void {
  const o = m.options;
  const { vcpus, memoryMiB } = m.props;
  c.int('workerThreads', o.workerThreads, 1, DEFAULTS.maxWorkerThreads);
  c.int('maxClientConnections', o.maxClientConnections, 1, 1_000_000);
  c.int('connectionMaxAgeMs', o.connectionMaxAgeMs, 0, 86_400_000);
  c.wholeSeconds('borrowTimeout', o.borrowTimeout, 1, 3600);
  c.wholeSeconds('idleClientTimeout', o.idleClientTimeout, 60, 6000, {
    token: 'it sets the listener and ProxySQL alike',
    range: 'the load balancer\'s TCP idle timeout range',
  });
  validateFrontendTls(m, c);
  c.int('monitorConnectIntervalMs', o.monitorConnectIntervalMs, 100, 604_800_000);
  c.int('monitorPingIntervalMs', o.monitorPingIntervalMs, 100, 604_800_000);
  c.int('monitorReadOnlyIntervalMs', o.monitorReadOnlyIntervalMs, 100, 604_800_000);
  c.int('monitorReadOnlyTimeoutMs', o.monitorReadOnlyTimeoutMs, 100, 600_000);
  if (!Token.isUnresolved(vcpus) && !(vcpus > 0)) c.fail('cpu', 'must be positive', vcpus);
  if (!Token.isUnresolved(memoryMiB) && !(memoryMiB > 0)) c.fail('memoryLimitMiB', 'must be positive', memoryMiB);
  if (o.workerThreads === undefined) {
    c.concrete('cpu', vcpus, 'may be a token only when workerThreads is given: the default workerThreads (one per vCPU) is computed from it at synth time');
  }
  if (o.maxClientConnections === undefined) {
    c.concrete('memoryLimitMiB', memoryMiB, 'may be a token only when maxClientConnections is given: the default maxClientConnections is computed from it at synth time');
  }
  const version = m.topology.serverVersion;
  c.sqlSafe('topology.serverVersion', version, '"');
  c.sqlSafe('topology.defaultCharset', m.topology.defaultCharset, '"');
  c.sqlSafe('topology.defaultCollation', m.topology.defaultCollation, '"');
  if (version !== undefined && !Token.isUnresolved(version) && !/^\d+\.\d+\.\d+/.test(version)) {
    c.fail('topology.serverVersion', 'must start with a version like 8.0.39', version);
  }
  checkRawVariables(c, 'rawMysqlVariables', o.rawMysqlVariables, TYPED_MYSQL_VARIABLES, FIXED_MYSQL_VARIABLES);
}

/** TLS towards clients: what requireTls and tlsCertificate need. */
function validateFrontendTls(m: ConfigModel, c: Checks): void {
  const o = m.options;
  if (o.frontendTls === false) {
    if (o.requireTls) c.fail('requireTls', 'needs frontendTls (ProxySQL cannot require TLS it does not offer); drop frontendTls: false', 'requireTls true with frontendTls false');
    if (o.tlsCertificate) c.fail('tlsCertificate', 'needs frontendTls (a certificate is only presented when TLS is offered); drop frontendTls: false', 'a certificate with frontendTls false');
  }
  if (o.requireTls) {
    m.users.forEach((u) => {
      if (u.options.useSsl === false) c.fail(`${u.path}.useSsl`, 'must not be false when requireTls is true (requireTls requires TLS of every user)', false);
    });
  }
}

/** `mysql-max_connections`: client connections one task accepts (a token when given as one). */
export function maxClientConnections(m: ConfigModel): number {
  return m.options.maxClientConnections ?? Math.min(DEFAULTS.maxClientConnections,
    Math.max(DEFAULTS.minClientConnections, Math.floor((m.props.memoryMiB - DEFAULTS.reservedMemoryMiB) * DEFAULTS.connectionsPerMiB)));
}

export function renderMysqlVariables(m: ConfigModel, out: Template): void {
  const o = m.options;
  const t = m.topology;
  const { monitorSecret, queryLogFile } = m.props;
  out.group('mysql_variables', [
    `  monitor_username="${out.secret('PROXYSQL_SECRET_MONITOR_USERNAME', monitorSecret, 'username', SecretQuoting.DOUBLE)}"`,
    `  monitor_password="${out.secret('PROXYSQL_SECRET_MONITOR_PASSWORD', monitorSecret, 'password', SecretQuoting.DOUBLE)}"`,
    ...kv(withRaw([
      ['threads', o.workerThreads ?? Math.min(DEFAULTS.maxWorkerThreads, Math.max(1, Math.floor(m.props.vcpus)))],
      ['max_connections', maxClientConnections(m)],
      ['interfaces', `0.0.0.0:${m.trafficPort}`],
      ['server_version', t.serverVersion ?? DEFAULTS.serverVersion],
      // What the engine (ProxySqlEngine) says; ProxySQL's own defaults (utf8, utf8_general_ci) when unset.
      ['default_charset', t.defaultCharset],
      ['default_collation_connection', t.defaultCollation],
      ['have_ssl', o.frontendTls ?? true],
      // The file the start script writes from BACKEND_CA_ENV. ProxySQL 2.7 then verifies the chain of
      // every TLS backend connection (monitor included) but not the host name (measured on 2.7.1).
      ['ssl_p2s_ca', m.props.backendCa !== undefined ? BACKEND_CA_FILE_PLACEHOLDER : undefined],
      ['connection_max_age_ms', o.connectionMaxAgeMs ?? DEFAULTS.connectionMaxAgeMs],
      ['wait_timeout', (o.idleClientTimeout ?? DEFAULTS.idleClientTimeout).toMilliseconds()],
      ['connect_timeout_server_max', (o.borrowTimeout ?? DEFAULTS.borrowTimeout).toMilliseconds()],
      ['monitor_enabled', true],
      ['monitor_connect_interval', o.monitorConnectIntervalMs ?? DEFAULTS.monitorConnectIntervalMs],
      ['monitor_ping_interval', o.monitorPingIntervalMs ?? DEFAULTS.monitorPingIntervalMs],
      ['monitor_read_only_interval', o.monitorReadOnlyIntervalMs ?? DEFAULTS.monitorReadOnlyIntervalMs],
      ['monitor_read_only_timeout', o.monitorReadOnlyTimeoutMs ?? DEFAULTS.monitorReadOnlyTimeoutMs],
      ['monitor_writer_is_also_reader', (o.writerIsAlsoReader ?? false) || (m.readerFallback && !t.auroraDiscovery)],
      ['monitor_replication_lag_interval', DEFAULTS.monitorReplicationLagIntervalMs],
      // A replica reports no lag (NULL) both when its replication broke and when its primary is
      // down; ProxySQL's default counts NULL as 60 s, which shunned every replica the moment the
      // writer died (measured), when its data is the freshest there is. Availability wins: NULL
      // counts as no lag.
      ['monitor_slave_lag_when_null', 0],
      // ProxySQL's default (1) locks a session to the writer after `SET @var = ...` and then
      // refuses every read the rules send to the readers ("connection is locked to hostgroup 10
      // but trying to reach hostgroup 20"). The rules already keep reads of user variables on the
      // writer, whose connection keeps the variable (it is not multiplexed away).
      ['set_query_lock_on_hostgroup', 0],
      // ProxySQL's default (5 statements or 10 s) keeps the writer connection attached to a session
      // after every INSERT that made an auto-increment id, so that a following statement using
      // LAST_INSERT_ID() in an expression runs where the id was made. A pooled client that inserts and
      // goes idle then holds a writer connection for 10 s: with a budget of a few writer connections
      // per task, 100 such clients queued into `Max connect timeout` errors (measured). With 0 the
      // connection goes back at once; `SELECT LAST_INSERT_ID()` and `SELECT @@identity` are still
      // answered by ProxySQL from the session, and the OK packet's id (what drivers return) is
      // always right; the forms it cannot answer are listed in docs/configuration.md.
      ['auto_increment_delay_multiplex', 0],
      // Drivers read these on every new connection (Connector/J: 19 to 21 in one SELECT); without
      // them every pooled client connection pinned a reader connection for its life (measured).
      ['keep_multiplexing_variables', KEEP_MULTIPLEXING_VARIABLES.join(',')],
      // A server shunned after connection errors is tried again after this many seconds (ProxySQL's
      // default is 10): reads return to a recovered replica within a few seconds.
      ['shun_recovery_time_sec', DEFAULTS.shunRecoveryTimeSec],
      // The NLB's TCP health check connects and closes without a handshake; ProxySQL would log
      // every probe as "Closing unhealthy client connection" (several lines per task every 10 s).
      // The same warning also names clients that drop a connection without COM_QUIT, so a raw
      // variable may turn it back on.
      ['log_unhealthy_connections', false],
      // Query rules run on RE2 (ProxySQL's default engine is PCRE): the engine the synth checks
      // rules against and docs/configuration.md documents, linear in the statement's length, and reading
      // UTF-8 characters rather than bytes.
      ['query_processor_regex', 2],
      // The stop handler reads each session's open transaction from the processlist's
      // extended_info (stats_mysql_global's Active_Transactions lags by up to two seconds).
      ['show_processlist_extended', 1],
      // The query log: every statement (default_log=1, no rule needs `log=1`) as one JSON object
      // a line (format 2).
      ['eventslog_filename', queryLogFile],
      ['eventslog_format', queryLogFile !== undefined ? 2 : undefined],
      ['eventslog_default_log', queryLogFile !== undefined ? 1 : undefined],
    ], o.rawMysqlVariables), '  '),
  ]);
}
