/**
 * How ProxySQL tells the writer from the readers: `mysql_aws_aurora_hostgroups` (Aurora discovery)
 * or `mysql_replication_hostgroups` (a read-only check); and what the metrics need to know of the
 * two hostgroups.
 */
import { Token } from 'aws-cdk-lib';
import { Checks } from './checks';
import { kv, row, Template } from './libconfig';
import { FALLBACK_READER_WEIGHT, maxReplicationLag, serverBudget } from './mysql-servers';
import { ConfigModel } from '../model';

/**
 * What the metrics, dashboard and alarms need to know of the hostgroups: their ids, whether there
 * are readers, and how many rows of the reader hostgroup are the writer itself
 * (listed there for fallback reads or `writerIsAlsoReader`).
 */
export interface HostgroupFacts {
  readonly writer: number;
  readonly readers: number;
  readonly hasReaders: boolean;
  readonly writerRowsInReaders: number;
}

export function validateHostgroups(m: ConfigModel, c: Checks): void {
  const a = m.topology.auroraDiscovery;
  if (!a) return;
  c.sqlSafe('topology.auroraDiscovery.domainName', a.domainName, '\'');
  if (!Token.isUnresolved(a.domainName) && !a.domainName.startsWith('.')) {
    c.fail('topology.auroraDiscovery.domainName', 'must start with "." (instance endpoints are <instance-id><domainName>)', a.domainName);
  }
  c.int('topology.auroraDiscovery.port', a.port, 1, 65535);
  c.int('topology.auroraDiscovery.maxLagMs', a.maxLagMs, 10, 600_000);
  c.int('topology.auroraDiscovery.checkIntervalMs', a.checkIntervalMs, 100, 600_000);
  c.int('topology.auroraDiscovery.checkTimeoutMs', a.checkTimeoutMs, 80, 3000);
  c.int('topology.auroraDiscovery.lagNumChecks', a.lagNumChecks, 1, 16);
  c.int('topology.auroraDiscovery.newReaderWeight', a.newReaderWeight, 0, 10_000_000);
  c.int('topology.auroraDiscovery.addLagMs', a.addLagMs, 0, 600_000);
  c.int('topology.auroraDiscovery.minLagMs', a.minLagMs, 0, 600_000);
  if (a.checkTimeoutMs !== undefined && a.checkIntervalMs !== undefined
    && !Token.isUnresolved(a.checkTimeoutMs) && !Token.isUnresolved(a.checkIntervalMs) && a.checkTimeoutMs >= a.checkIntervalMs) {
    c.fail('topology.auroraDiscovery.checkTimeoutMs', `must be less than checkIntervalMs (${a.checkIntervalMs})`, a.checkTimeoutMs);
  }
}

export function renderHostgroups(m: ConfigModel, out: Template): void {
  const t = m.topology;
  if (t.auroraDiscovery) {
    renderAuroraHostgroups(m, out);
  } else if (t.replicationCheck) {
    out.list('mysql_replication_hostgroups', [row(kv([
      ['writer_hostgroup', m.writerHg],
      ['reader_hostgroup', m.readerHg],
      ['check_type', t.replicationCheck.value],
      ['comment', 'cdk-proxysql read_only check'],
    ], ''))]);
  }
}

function renderAuroraHostgroups(m: ConfigModel, out: Template): void {
  const a = m.topology.auroraDiscovery!;
  out.list('mysql_aws_aurora_hostgroups', [row(kv([
    ['writer_hostgroup', m.writerHg],
    ['reader_hostgroup', m.readerHg],
    ['active', 1],
    ['aurora_port', a.port ?? 3306],
    ['domain_name', a.domainName],
    ['max_lag_ms', a.maxLagMs ?? maxReplicationLag(m).toMilliseconds()],
    ['check_interval_ms', a.checkIntervalMs ?? 1000],
    ['check_timeout_ms', a.checkTimeoutMs ?? 800],
    ['writer_is_also_reader', a.writerIsAlsoReader || m.readerFallback ? 1 : 0],
    ['new_reader_weight', a.newReaderWeight ?? (m.readerFallback ? FALLBACK_READER_WEIGHT : 1)],
    ['add_lag_ms', a.addLagMs ?? 30],
    ['min_lag_ms', a.minLagMs ?? 30],
    ['lag_num_checks', a.lagNumChecks ?? 1],
    ['comment', 'cdk-proxysql aurora discovery'],
  ], ''))]);
  // Instances discovery adds later take their settings from the hostgroups' servers_defaults,
  // which ProxySQL 2.7 cannot read from the config file: the start script applies this line
  // through the admin interface once ProxySQL is up.
  const defaults = (weight?: number) => JSON.stringify({
    ...(weight !== undefined ? { weight } : {}),
    max_connections: serverBudget(m),
    use_ssl: m.topology.writer.useSsl ? 1 : 0,
  });
  const readerDefaults = defaults(m.readerFallback ? (a.newReaderWeight ?? FALLBACK_READER_WEIGHT) : undefined);
  out.push(`# cdk-proxysql after_start=INSERT OR REPLACE INTO mysql_hostgroup_attributes (hostgroup_id, servers_defaults) VALUES (${m.writerHg}, '${defaults()}'), (${m.readerHg}, '${readerDefaults}'); LOAD MYSQL SERVERS TO RUNTIME;`);
}

/** The `HostgroupFacts` of `mysql_servers` as rendered. */
export function hostgroupFacts(m: ConfigModel): HostgroupFacts {
  return {
    writer: m.writerHg,
    readers: m.readerHg,
    hasReaders: m.hasReaders,
    writerRowsInReaders: m.hasReaders && (m.readerFallback || m.writerIsEqualReader) ? 1 : 0,
  };
}
