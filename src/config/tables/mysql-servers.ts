/**
 * `mysql_servers`: one row per server and hostgroup, with its weight and connection budget. When
 * reads fall back to the writer, the writer is also a low-weight row of the reader hostgroup.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { Checks } from './checks';
import { kv, row, Template } from './libconfig';
import { ConfigModel, DEFAULTS } from '../model';
import { ProxySqlServer } from '../topology';

/** Weight of a reader against the writer's 1 in the reader hostgroup (`readsFallBackToWriter`). */
export const FALLBACK_READER_WEIGHT = 1000;

export function validateMysqlServers(m: ConfigModel, c: Checks): void {
  const { serverMaxConnections } = m.props;
  c.int('serverMaxConnections', serverMaxConnections, 1, 10_000);
  const shares = m.props.fleetShares;
  const badShare = (s: number, i: number) => !Number.isInteger(s) || s < 1 || (i > 0 && s > shares![i - 1]);
  if (shares !== undefined && (shares.length === 0 || shares[shares.length - 1] !== serverBudget(m) || shares.some(badShare))) {
    c.fail('fleetShares', `must be whole numbers of at least 1, never growing, ending with serverMaxConnections (${serverBudget(m)})`, shares.length === 0 ? 'none' : shares);
  }
  if (m.readerFallback && (serverMaxConnections ?? DEFAULTS.serverMaxConnections) < 2) {
    c.fail('readsFallBackToWriter', 'needs a connection budget of at least 2 per server (the writer keeps one for reads); lower maxCapacity, raise databaseMaxConnections, or set readsFallBackToWriter: false',
      serverMaxConnections);
  }
  c.wholeSeconds('maxReplicationLag', m.options.maxReplicationLag, 1, 600);
  validateServer(c, 'topology.writer', m.topology.writer);
  (m.topology.readers ?? []).forEach((r, i) => validateServer(c, `topology.readers[${i}]`, r));
}

function validateServer(c: Checks, path: string, s: ProxySqlServer): void {
  if (!Token.isUnresolved(s.host) && s.host.trim() === '') c.fail(`${path}.host`, 'must not be empty', s.host);
  if (!Token.isUnresolved(s.host) && (/[[\]\s/]/.test(s.host) || (s.host.match(/:/g) ?? []).length === 1)) {
    c.fail(`${path}.host`, 'must be a bare host name or IP address (no brackets, port, scheme or spaces; the port goes in port)', s.host);
  }
  c.sqlSafe(`${path}.host`, s.host, '"');
  c.int(`${path}.port`, s.port, 1, 65535);
  c.int(`${path}.weight`, s.weight, 0, 10_000_000);
  c.int(`${path}.maxConnections`, s.maxConnections, 0, 10_000);
}

/** Backend connections of one row whose server sets none: the budget, or ProxySQL's default. */
export function serverBudget(m: ConfigModel): number {
  return m.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections;
}

/** The writer's budget kept for fallback reads out of a row budget of `full` (see `renderMysqlServers`). */
function fallbackShare(full: number): number {
  return Math.max(1, Math.floor(full / 4));
}

/** The writer hostgroup's row out of a server budget of `full`: a quarter goes to fallback reads. */
export function writerRowBudget(m: ConfigModel, full: number): number {
  return m.readerFallback ? full - fallbackShare(full) : full;
}

/**
 * The row budgets the task moves between as the number of running tasks changes: the fleet
 * shares, or only the static budget when a server sets its own `maxConnections` (then that is
 * what the server gets, whatever the fleet).
 */
function shareSteps(m: ConfigModel): number[] {
  const t = m.topology;
  const own = [t.writer, ...(t.readers ?? [])].some((s) => s.maxConnections !== undefined);
  return own || m.props.fleetShares === undefined ? [serverBudget(m)] : m.props.fleetShares;
}

export function maxReplicationLag(m: ConfigModel): Duration {
  return m.options.maxReplicationLag ?? DEFAULTS.maxReplicationLag;
}

/** The `mysql_servers` rows as rendered: [hostgroup, server with its weight and budget]. */
export function serverRows(m: ConfigModel): Array<[number, ProxySqlServer]> {
  const t = m.topology;
  const full = serverBudget(m);
  const small = fallbackShare(full);
  return [
    [m.writerHg, m.readerFallback ? { ...t.writer, maxConnections: t.writer.maxConnections ?? writerRowBudget(m, full) } : t.writer],
    ...(m.readerFallback
      ? [[m.readerHg, { ...t.writer, weight: 1, maxConnections: t.writer.maxConnections ?? small }] as [number, ProxySqlServer]]
      : []),
    ...(t.readers ?? []).map(r =>
      [m.readerHg, m.readerFallback ? { ...r, weight: r.weight ?? FALLBACK_READER_WEIGHT } : r] as [number, ProxySqlServer]),
  ];
}

export function renderMysqlServers(m: ConfigModel, out: Template): void {
  const t = m.topology;
  // Reads fall back to the writer: it is also a reader with weight 1 against the readers' 1000,
  // and keeps a quarter of its budget for such reads (the rows of one server share its budget).
  // Read by fleet-share.sh: the row budget for 1, 2, … running tasks (as `full:small`, the last
  // being the static budget rendered below), and with reads falling back to the writer, the weight
  // of the readers, which it moves to follow the writer after a failover.
  const steps = shareSteps(m);
  if (m.readerFallback || steps.length > 1) {
    const budgets = steps.map((full) => `${full}:${m.readerFallback ? fallbackShare(full) : 0}`).join(',');
    out.push(`# cdk-proxysql server_shares=${m.writerHg},${m.readerHg},${m.readerFallback ? FALLBACK_READER_WEIGHT : 0},${budgets}`);
  }
  // Replication lag is measured on read replicas (SHOW REPLICA STATUS); every row carries the
  // limit, so a server keeps it when a failover moves it between hostgroups (a primary reports
  // no replication and is never shunned for lag).
  const lagSeconds = t.replicationCheck && !t.auroraDiscovery && t.measuresReplicationLag !== false ? maxReplicationLag(m).toSeconds() : 0;
  out.list('mysql_servers', serverRows(m).map(([hg, s]) => row(kv([
    ['hostgroup_id', hg],
    ['hostname', s.host],
    ['port', s.port ?? 3306],
    ['weight', s.weight ?? 1],
    ['max_connections', s.maxConnections ?? serverBudget(m)],
    ['max_replication_lag', lagSeconds],
    ['use_ssl', s.useSsl ? 1 : 0],
  ], ''))));
}
