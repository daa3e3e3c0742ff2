/**
 * The configuration model: the props the construct hands over, and the same with every default
 * applied, which the tables under tables/ validate and render.
 */
import { Duration } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ProxySqlConfigOptions } from './options';
import { QueryRuleOptions, QueryRules } from './query-rules';
import { BackendTopology } from './topology';
import { ProxySqlUserOptions } from './users';

/** Where the configuration runs. */
export interface ProxySqlConfigurationProps {
  readonly options: ProxySqlConfigOptions;
  readonly topology: BackendTopology;
  /** Secret in the RDS JSON shape with the admin `username` and `password`. */
  readonly adminSecret: secretsmanager.ISecret;
  /** Secret in the RDS JSON shape with the monitor `username` and `password`. */
  readonly monitorSecret: secretsmanager.ISecret;
  /** Users to configure when `options.users` is empty (e.g. the backend's app user). */
  readonly defaultUsers?: secretsmanager.ISecret[];
  /**
   * vCPUs of the task (0.25 and up). A token (the task's `cpu` given as one) is accepted only with
   * `workerThreads`, which are otherwise computed from it.
   */
  readonly vcpus: number;
  /**
   * Memory of the task in MiB. A token is accepted only with `maxClientConnections`, which is
   * otherwise computed from it.
   */
  readonly memoryMiB: number;
  /**
   * Backend connections one task may open on one hostgroup row of a server (the connection
   * budget); a server given its own `maxConnections` keeps it.
   * @default 1000 (ProxySQL's default)
   */
  readonly serverMaxConnections?: number;
  /**
   * The share of each row when only n tasks run (`fleetShares[n - 1]`, n = 1 … the most tasks; the
   * last equals `serverMaxConnections`): the task counts the running tasks and moves between them
   * (`fleet-share.sh`). Not used for a server given its own `maxConnections`.
   * @default - every task keeps `serverMaxConnections`
   */
  readonly fleetShares?: number[];
  /**
   * Write ProxySQL's events log (every statement, as JSON) to this file name; ProxySQL appends a
   * number and rotates at `mysql-eventslog_filesize`. See `queryLog` of `ProxySqlFargate`.
   * @default - no events log
   */
  readonly queryLogFile?: string;
  /**
   * CA certificates (PEM, may be a token) that the database servers' certificates must chain to:
   * ProxySQL verifies every TLS backend connection against them (`mysql-ssl_p2s_ca`).
   * @default - backend certificates are not verified
   */
  readonly backendCa?: string;
  /** Address the admin interface listens on. @default '127.0.0.1' */
  readonly adminListenAddress?: string;
  /** Prefix of error messages, e.g. the construct name. @default 'ProxySqlFargate' */
  readonly context?: string;
}

/** Defaults, each explained in the JSDoc of `ProxySqlConfigOptions` and in docs/configuration.md. */
export const DEFAULTS = {
  writerHostgroup: 10,
  readerHostgroup: 20,
  trafficPort: 6033,
  adminPort: 6032,
  restApiPort: 6070,
  serverVersion: '8.0.39',
  connectionMaxAgeMs: 300_000,
  idleClientTimeout: Duration.minutes(30),
  borrowTimeout: Duration.seconds(30),
  maxReplicationLag: Duration.seconds(30),
  monitorReplicationLagIntervalMs: 1000,
  shunRecoveryTimeSec: 2,
  /** ProxySQL's own per-server default, used only when no budget is given. */
  serverMaxConnections: 1000,
  monitorConnectIntervalMs: 60_000,
  monitorPingIntervalMs: 10_000,
  monitorReadOnlyIntervalMs: 1_000,
  monitorReadOnlyTimeoutMs: 800,
  maxWorkerThreads: 256,
  /** Memory kept for ProxySQL itself (query digests, caches, threads) before sizing connections. */
  reservedMemoryMiB: 256,
  /** Client connections per MiB above the reserve (a 256 KiB budget per connection). */
  connectionsPerMiB: 4,
  minClientConnections: 256,
  maxClientConnections: 100_000,
};

/** A user ProxySQL is configured with, and the prop that named it (for error messages). */
export interface ConfiguredUser {
  readonly secret: secretsmanager.ISecret;
  readonly path: string;
  readonly options: ProxySqlUserOptions;
}

/** A query rule in evaluation order, with its stable id (see `QueryRules._resolve`). */
export interface ResolvedRule {
  readonly id: number;
  readonly path: string;
  readonly rule: QueryRuleOptions;
  readonly builtIn: boolean;
}

/** The props with their defaults applied: what every table reads. */
export interface ConfigModel {
  readonly props: ProxySqlConfigurationProps;
  /** `props.options` and `props.topology`, which every table reads. */
  readonly options: ProxySqlConfigOptions;
  readonly topology: BackendTopology;
  readonly writerHg: number;
  readonly readerHg: number;
  readonly trafficPort: number;
  readonly adminPort: number;
  /** Set only when the REST API is on. */
  readonly restApiPort?: number;
  readonly users: ConfiguredUser[];
  readonly rules: ResolvedRule[];
  readonly hasReaders: boolean;
  /**
   * Whether the writer is also a reader of equal weight: `writerIsAlsoReader`, or that of
   * `auroraDiscovery` with Aurora discovery.
   */
  readonly writerIsEqualReader: boolean;
  /** Whether the writer is a low-weight reader of last resort (see `readsFallBackToWriter`). */
  readonly readerFallback: boolean;
}

/** The model of `props` (not yet validated: `ProxySqlConfiguration` does that, table by table). */
export function resolveModel(props: ProxySqlConfigurationProps): ConfigModel {
  const o = props.options;
  const t = props.topology;
  const hasReaders = (t.readers ?? []).length > 0;
  const writerIsEqualReader = t.auroraDiscovery ? !!t.auroraDiscovery.writerIsAlsoReader : !!o.writerIsAlsoReader;
  const users = o.users && o.users.length > 0
    ? o.users.map((u, i) => ({ secret: u.secret, path: `users[${i}]`, options: u.options }))
    : (props.defaultUsers ?? []).map((secret, i) => ({ secret, path: `defaultUsers[${i}]`, options: {} }));
  return {
    props,
    options: o,
    topology: t,
    writerHg: o.writerHostgroup ?? DEFAULTS.writerHostgroup,
    readerHg: o.readerHostgroup ?? DEFAULTS.readerHostgroup,
    trafficPort: o.trafficPort ?? DEFAULTS.trafficPort,
    adminPort: o.adminPort ?? DEFAULTS.adminPort,
    restApiPort: o.restApi ? (o.restApiPort ?? DEFAULTS.restApiPort) : undefined,
    users,
    rules: (o.queryRules ?? QueryRules.readWriteSplit())._resolve(),
    hasReaders,
    writerIsEqualReader,
    readerFallback: hasReaders && !writerIsEqualReader && (o.readsFallBackToWriter ?? true),
  };
}
