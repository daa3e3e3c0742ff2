import { Duration, Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ProxySqlConfigOptions } from './options';
import { QueryRuleOptions, QueryRules, RuleDestination } from './query-rules';
import { findUnsupportedRe2Construct } from './re2-check';
import { BackendTopology, ProxySqlServer } from './topology';
import { DatabasePrivilege, ProxySqlUserOptions } from './users';
import { DATABASE_PRIVILEGES, normalizePrivilege } from '../bootstrap/privileges';

/** Env var (not secret) that carries the rendered template to the start script. */
export const TEMPLATE_ENV = 'PROXYSQL_CONFIG_TEMPLATE';
/** Env vars holding the admin credentials; the start script also uses them for `PROXYSQL PAUSE`. */
export const ADMIN_USERNAME_ENV = 'PROXYSQL_SECRET_ADMIN_USERNAME';
export const ADMIN_PASSWORD_ENV = 'PROXYSQL_SECRET_ADMIN_PASSWORD';
/**
 * Env vars (ECS secrets) with the client-facing certificate, its key and the issuing CA's
 * certificate; the start script writes them to `proxysql-{cert,key,ca}.pem` in the datadir.
 */
export const TLS_CERTIFICATE_ENV = 'PROXYSQL_TLS_CERTIFICATE';
export const TLS_PRIVATE_KEY_ENV = 'PROXYSQL_TLS_PRIVATE_KEY';
export const TLS_CHAIN_ENV = 'PROXYSQL_TLS_CERTIFICATE_CHAIN';
/** Env var (not secret: CA certificates are public) with the CAs backend certificates must chain to. */
export const BACKEND_CA_ENV = 'PROXYSQL_BACKEND_CA';
/** Where the start script puts the path of the file it wrote `PROXYSQL_BACKEND_CA` to. */
export const BACKEND_CA_FILE_PLACEHOLDER = '%{PROXYSQL_BACKEND_CA_FILE}';

/**
 * How the start script must escape a secret before it goes into the file. ProxySQL pastes config
 * values into SQL text without escaping (lib/ProxySQL_Config.cpp): `mysql_users` username and
 * password inside '...' (Read_MySQL_Users_from_configfile), global variables inside "..."
 * (Read_Global_Variables_from_configfile). SQLite reads a doubled quote inside a quoted literal
 * as one quote, so the script doubles the quote of the context and the value arrives intact.
 * This depends on ProxySQL NOT escaping (true for 2.7 and 3.0): keep the image pinned, and re-run
 * the start-script tests' SQLite check against the source of any new ProxySQL version.
 */
export enum SecretQuoting {
  /** Pasted inside '...': double `'`. */
  SINGLE = 'sq',
  /** Pasted inside "...": double `"`. */
  DOUBLE = 'dq',
  /**
   * admin_credentials: `:`/`;` are refused because they separate credentials, and `"` because
   * ProxySQL re-pastes runtime admin variables into SQL unescaped when it saves them.
   */
  ADMIN = 'adm',
}

/** The placeholder the start script replaces with the escaped value of env var `name`. */
export function placeholder(envVar: string, quoting: SecretQuoting): string {
  return `%{${envVar}:${quoting}}`;
}
const PLACEHOLDER_MARKER = '%{PROXYSQL_SECRET_';

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

/** An ECS secret to map to an env var of the container. */
export interface SecretReference {
  readonly secret: secretsmanager.ISecret;
  readonly field: string;
}

/** What the container needs. */
export interface RenderedConfig {
  /** libconfig text with placeholders instead of secret values. */
  readonly template: string;
  /** Env var → secret field; map each with `ecs.Secret.fromSecretsManager(secret, field)`. */
  readonly secretEnvironment: { [envVar: string]: SecretReference };
  /** Plain env vars the start script and health check read (includes the template). */
  readonly environment: { [envVar: string]: string };
  readonly trafficPort: number;
  readonly adminPort: number;
  readonly restApiPort?: number;
}

/** See `ProxySqlConfiguration.hostgroups`. */
export interface HostgroupFacts {
  readonly writer: number;
  readonly readers: number;
  readonly hasReaders: boolean;
  readonly writerCapacity?: number;
  readonly readersCapacity?: number;
  readonly writerRowsInReaders: number;
}

/** Defaults, each explained in the JSDoc of `ProxySqlConfigOptions` and in the README. */
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

/** Why a hostgroup id cannot be a token. */
const HOSTGROUP_TOKEN = 'must be a concrete number, not a token: hostgroup ids are compared at synth time (writer and readers must differ; users and rules must name one of them)';

/** Weight of a reader against the writer's 1 in the reader hostgroup (`readsFallBackToWriter`). */
const FALLBACK_READER_WEIGHT = 1000;

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
const TYPED_ADMIN_VARIABLES: { [name: string]: string } = {
  admin_credentials: 'the admin secret',
  mysql_ifaces: 'adminPort',
  restapi_enabled: 'restApi',
  restapi_port: 'restApiPort',
};

/** Escape a plain (non-secret) string for a libconfig "..." string. Tokens pass through untouched. */
function lcString(value: string): string {
  if (Token.isUnresolved(value)) return `"${value}"`;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r')}"`;
}

/**
 * The ProxySQL configuration: validated on construction, rendered to libconfig by `render()`.
 */
export class ProxySqlConfiguration {
  private readonly props: ProxySqlConfigurationProps;
  private readonly ctx: string;
  private readonly writerHg: number;
  private readonly readerHg: number;
  private readonly trafficPort: number;
  private readonly adminPort: number;
  private readonly restApiPort?: number;
  private readonly users: Array<{ secret: secretsmanager.ISecret; path: string; options: ProxySqlUserOptions }>;
  private readonly rules: Array<{ id: number; path: string; rule: QueryRuleOptions; builtIn: boolean }>;
  private readonly hasReaders: boolean;

  constructor(props: ProxySqlConfigurationProps) {
    this.props = props;
    this.ctx = props.context ?? 'ProxySqlFargate';
    const o = props.options;
    this.writerHg = o.writerHostgroup ?? DEFAULTS.writerHostgroup;
    this.readerHg = o.readerHostgroup ?? DEFAULTS.readerHostgroup;
    this.trafficPort = o.trafficPort ?? DEFAULTS.trafficPort;
    this.adminPort = o.adminPort ?? DEFAULTS.adminPort;
    this.restApiPort = o.restApi ? (o.restApiPort ?? DEFAULTS.restApiPort) : undefined;
    this.hasReaders = (props.topology.readers ?? []).length > 0;

    if (o.users && o.users.length > 0) {
      this.users = o.users.map((u, i) => ({ secret: u.secret, path: `users[${i}]`, options: u.options }));
    } else {
      this.users = (props.defaultUsers ?? []).map((secret, i) => ({ secret, path: `defaultUsers[${i}]`, options: {} }));
    }
    this.rules = (o.queryRules ?? QueryRules.readWriteSplit())._resolve();
    this.validate();
  }

  private fail(path: string, rule: string, value: unknown): never {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new Error(`${this.ctx}: ${path} ${rule} (got ${shown})`);
  }

  /**
   * A number the configuration compares or computes with at synth time cannot wait for
   * CloudFormation: refuse a token by name rather than render a wrong value.
   */
  private concrete(path: string, value: number | undefined, rule: string): void {
    if (value !== undefined && Token.isUnresolved(value)) {
      throw new Error(`${this.ctx}: ${path} ${rule} (got a token)`);
    }
  }

  private int(path: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `must be an integer from ${min} to ${max}`, value);
    }
  }

  /** A string ProxySQL pastes into SQL inside `quote`: that quote would silently drop the row. */
  private sqlSafe(path: string, value: string | undefined, quote: '"' | '\''): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (value.includes(quote)) {
      this.fail(path, `must not contain ${quote} (ProxySQL pastes it into SQL unescaped and would drop the entry)`, value);
    }
    if (value.includes(PLACEHOLDER_MARKER)) this.fail(path, `must not contain "${PLACEHOLDER_MARKER}"`, value);
    if (/[\u0000-\u001f]/.test(value)) this.fail(path, 'must not contain control characters', value);
  }

  private validate(): void {
    const o = this.props.options;
    const t = this.props.topology;
    this.concrete('writerHostgroup', o.writerHostgroup, HOSTGROUP_TOKEN);
    this.concrete('readerHostgroup', o.readerHostgroup, HOSTGROUP_TOKEN);
    this.int('writerHostgroup', o.writerHostgroup, 0, 2147483647);
    this.int('readerHostgroup', o.readerHostgroup, 0, 2147483647);
    if (this.writerHg === this.readerHg) {
      this.fail('readerHostgroup', 'must differ from writerHostgroup', this.readerHg);
    }
    this.int('trafficPort', o.trafficPort, 1, 65535);
    this.int('adminPort', o.adminPort, 1, 65535);
    this.int('restApiPort', o.restApiPort, 1, 65535);
    if (this.adminPort === this.trafficPort) this.fail('adminPort', 'must differ from trafficPort', this.adminPort);
    if (this.restApiPort !== undefined && (this.restApiPort === this.trafficPort || this.restApiPort === this.adminPort)) {
      this.fail('restApiPort', 'must differ from trafficPort and adminPort', this.restApiPort);
    }
    this.int('workerThreads', o.workerThreads, 1, DEFAULTS.maxWorkerThreads);
    this.int('maxClientConnections', o.maxClientConnections, 1, 1_000_000);
    this.int('serverMaxConnections', this.props.serverMaxConnections, 1, 10_000);
    if (this.readerFallback() && (this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections) < 2) {
      this.fail('readsFallBackToWriter', 'needs a connection budget of at least 2 per server (the writer keeps one for reads); lower maxCapacity, raise databaseMaxConnections, or set readsFallBackToWriter: false',
        this.props.serverMaxConnections);
    }
    this.int('connectionMaxAgeMs', o.connectionMaxAgeMs, 0, 86_400_000);
    if (o.maxReplicationLag) {
      if (o.maxReplicationLag.isUnresolved()) this.fail('maxReplicationLag', 'must be a literal duration', 'a token');
      const seconds = o.maxReplicationLag.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
        this.fail('maxReplicationLag', 'must be whole seconds from 1 to 600', seconds);
      }
    }
    if (o.borrowTimeout) {
      if (o.borrowTimeout.isUnresolved()) this.fail('borrowTimeout', 'must be a literal duration', 'a token');
      const seconds = o.borrowTimeout.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
        this.fail('borrowTimeout', 'must be whole seconds from 1 to 3600', seconds);
      }
    }
    if (o.idleClientTimeout) {
      if (o.idleClientTimeout.isUnresolved()) {
        this.fail('idleClientTimeout', 'must be a literal duration (it sets the listener and ProxySQL alike)', 'a token');
      }
      const seconds = o.idleClientTimeout.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > 6000) {
        this.fail('idleClientTimeout', 'must be whole seconds from 60 to 6000 (the load balancer\'s TCP idle timeout range)', seconds);
      }
    }
    this.validateTls();
    this.int('monitorConnectIntervalMs', o.monitorConnectIntervalMs, 100, 604_800_000);
    this.int('monitorPingIntervalMs', o.monitorPingIntervalMs, 100, 604_800_000);
    this.int('monitorReadOnlyIntervalMs', o.monitorReadOnlyIntervalMs, 100, 604_800_000);
    this.int('monitorReadOnlyTimeoutMs', o.monitorReadOnlyTimeoutMs, 100, 600_000);
    if (!Token.isUnresolved(this.props.vcpus) && !(this.props.vcpus > 0)) this.fail('cpu', 'must be positive', this.props.vcpus);
    if (!Token.isUnresolved(this.props.memoryMiB) && !(this.props.memoryMiB > 0)) this.fail('memoryLimitMiB', 'must be positive', this.props.memoryMiB);
    if (o.workerThreads === undefined) {
      this.concrete('cpu', this.props.vcpus, 'may be a token only when workerThreads is given: the default workerThreads (one per vCPU) is computed from it at synth time');
    }
    if (o.maxClientConnections === undefined) {
      this.concrete('memoryLimitMiB', this.props.memoryMiB, 'may be a token only when maxClientConnections is given: the default maxClientConnections is computed from it at synth time');
    }

    // Topology
    this.server('topology.writer', t.writer);
    (t.readers ?? []).forEach((r, i) => this.server(`topology.readers[${i}]`, r));
    this.sqlSafe('topology.serverVersion', t.serverVersion, '"');
    if (t.serverVersion !== undefined && !Token.isUnresolved(t.serverVersion) && !/^\d+\.\d+\.\d+/.test(t.serverVersion)) {
      this.fail('topology.serverVersion', 'must start with a version like 8.0.39', t.serverVersion);
    }
    const a = t.auroraDiscovery;
    if (a) {
      this.sqlSafe('topology.auroraDiscovery.domainName', a.domainName, '\'');
      if (!Token.isUnresolved(a.domainName) && !a.domainName.startsWith('.')) {
        this.fail('topology.auroraDiscovery.domainName', 'must start with "." (instance endpoints are <instance-id><domainName>)', a.domainName);
      }
      this.int('topology.auroraDiscovery.port', a.port, 1, 65535);
      this.int('topology.auroraDiscovery.maxLagMs', a.maxLagMs, 10, 600_000);
      this.int('topology.auroraDiscovery.checkIntervalMs', a.checkIntervalMs, 100, 600_000);
      this.int('topology.auroraDiscovery.checkTimeoutMs', a.checkTimeoutMs, 80, 3000);
      this.int('topology.auroraDiscovery.lagNumChecks', a.lagNumChecks, 1, 16);
      this.int('topology.auroraDiscovery.newReaderWeight', a.newReaderWeight, 0, 10_000_000);
      this.int('topology.auroraDiscovery.addLagMs', a.addLagMs, 0, 600_000);
      this.int('topology.auroraDiscovery.minLagMs', a.minLagMs, 0, 600_000);
      if (a.checkTimeoutMs !== undefined && a.checkIntervalMs !== undefined
        && !Token.isUnresolved(a.checkTimeoutMs) && !Token.isUnresolved(a.checkIntervalMs) && a.checkTimeoutMs >= a.checkIntervalMs) {
        this.fail('topology.auroraDiscovery.checkTimeoutMs', `must be less than checkIntervalMs (${a.checkIntervalMs})`, a.checkTimeoutMs);
      }
    }

    // Users
    if (this.users.length === 0) {
      this.fail('users', 'must name at least one user (or the backend must provide its application user)', '[]');
    }
    const seen = new Map<string, string>();
    for (const u of this.users) {
      const key = u.secret.secretArn;
      const earlier = seen.get(key);
      if (earlier) this.fail(u.path, `uses the same secret as ${earlier}: usernames must be unique`, key);
      seen.set(key, u.path);
      this.int(`${u.path}.maxConnections`, u.options.maxConnections, 1, 10_000_000);
      const hg = u.options.defaultHostgroup;
      this.concrete(`${u.path}.defaultHostgroup`, hg, HOSTGROUP_TOKEN);
      if (hg !== undefined && !Token.isUnresolved(hg) && hg !== this.writerHg && hg !== this.readerHg) {
        this.fail(`${u.path}.defaultHostgroup`, `must be the writer (${this.writerHg}) or reader (${this.readerHg}) hostgroup`, hg);
      }
      this.sqlSafe(`${u.path}.defaultSchema`, u.options.defaultSchema, '\'');
      this.privileges(`${u.path}.privileges`, u.options.privileges);
    }
    if (seen.has(this.props.adminSecret.secretArn) || seen.has(this.props.monitorSecret.secretArn)) {
      this.fail('users', 'must not include the admin or monitor secret', 'a shared secret');
    }

    // Query rules
    if (this.rules.filter(r => r.path.startsWith('queryRules.before')).length > 899) {
      this.fail('queryRules', 'may hold at most 899 rules before the defaults', this.rules.length);
    }
    for (const { path, rule, builtIn } of this.rules) {
      if (builtIn) continue;
      const label = rule.comment ? `${path} (${JSON.stringify(rule.comment)})` : path;
      if (!Token.isUnresolved(rule.match)) {
        if (rule.match.length === 0) this.fail(`${label}.match`, 'must not be empty', rule.match);
        const bad = findUnsupportedRe2Construct(rule.match);
        if (bad) this.fail(`${label}.match`, `uses ${bad}, which ProxySQL's regex engine (RE2) does not support`, rule.match);
      }
      this.sqlSafe(`${label}.match`, rule.match, '"');
      this.sqlSafe(`${label}.comment`, rule.comment, '"');
      this.int(`${label}.cacheTtlMs`, rule.cacheTtlMs, 0, 2147483647);
      this.int(`${label}.timeoutMs`, rule.timeoutMs, 0, 2147483647);
      this.destination(`${label}.destination`, rule.destination);
      this.destination(`${label}.mirror`, rule.mirror);
    }

    // Raw variables
    this.raw('rawMysqlVariables', o.rawMysqlVariables, TYPED_MYSQL_VARIABLES, FIXED_MYSQL_VARIABLES);
    this.raw('rawAdminVariables', o.rawAdminVariables, TYPED_ADMIN_VARIABLES, {});
    if (this.props.adminListenAddress !== undefined) this.sqlSafe('adminListenAddress', this.props.adminListenAddress, '"');
  }

  /** The bootstrap's grant list: database-level privileges only, so nothing global is ever granted. */
  private privileges(path: string, privileges: DatabasePrivilege[] | undefined): void {
    if (privileges === undefined) return;
    if (privileges.length === 0) this.fail(path, 'must list at least one privilege (leave it unset for DatabasePrivilege.ALL)', '[]');
    privileges.forEach((p, j) => {
      if (Token.isUnresolved(p.name)) return;
      if (!DATABASE_PRIVILEGES.includes(normalizePrivilege(p.name))) {
        this.fail(`${path}[${j}]`, `must be a database-level privilege: one of ${DATABASE_PRIVILEGES.join(', ')}`, p.name);
      }
    });
  }

  private server(path: string, s: ProxySqlServer): void {
    if (!Token.isUnresolved(s.host) && s.host.trim() === '') this.fail(`${path}.host`, 'must not be empty', s.host);
    if (!Token.isUnresolved(s.host) && (/[[\]\s/]/.test(s.host) || (s.host.match(/:/g) ?? []).length === 1)) {
      this.fail(`${path}.host`, 'must be a bare host name or IP address (no brackets, port, scheme or spaces; the port goes in port)', s.host);
    }
    this.sqlSafe(`${path}.host`, s.host, '"');
    this.int(`${path}.port`, s.port, 1, 65535);
    this.int(`${path}.weight`, s.weight, 0, 10_000_000);
    this.int(`${path}.maxConnections`, s.maxConnections, 0, 10_000);
  }

  private destination(path: string, d: RuleDestination | undefined): void {
    if (!d) return;
    if (d.kind === 'hostgroup') {
      const id = d.hostgroupId!;
      this.concrete(`${path} (RuleDestination.hostgroup)`, id, HOSTGROUP_TOKEN);
      if (!Token.isUnresolved(id) && id !== this.writerHg && id !== this.readerHg) {
        this.fail(path, `must be a known hostgroup: writer ${this.writerHg} or readers ${this.readerHg}`, id);
      }
    }
    const id = this.hostgroupOf(d);
    if (id === this.readerHg && !this.hasReaders) {
      this.fail(path, 'sends queries to the readers, but the backend has no readers', d.kind);
    }
  }

  /** TLS towards clients: what requireTls and tlsCertificate need. */
  private validateTls(): void {
    const o = this.props.options;
    if (o.frontendTls === false) {
      if (o.requireTls) this.fail('requireTls', 'needs frontendTls (ProxySQL cannot require TLS it does not offer); drop frontendTls: false', 'requireTls true with frontendTls false');
      if (o.tlsCertificate) this.fail('tlsCertificate', 'needs frontendTls (a certificate is only presented when TLS is offered); drop frontendTls: false', 'a certificate with frontendTls false');
    }
    if (o.requireTls) {
      this.users.forEach((u) => {
        if (u.options.useSsl === false) this.fail(`${u.path}.useSsl`, 'must not be false when requireTls is true (requireTls requires TLS of every user)', false);
      });
    }
  }

  private raw(path: string, vars: { [name: string]: string } | undefined,
    typed: { [name: string]: string }, fixed: { [name: string]: string }): void {
    for (const [name, value] of Object.entries(vars ?? {})) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) {
        this.fail(`${path}.${name}`, 'must be a variable name without its prefix (lower case letters, digits, _)', name);
      }
      if (typed[name]) this.fail(`${path}.${name}`, `is set by ${typed[name]}; use that instead`, value);
      if (fixed[name]) this.fail(`${path}.${name}`, `cannot be overridden: ${fixed[name]}`, value);
      if (typeof value !== 'string') this.fail(`${path}.${name}`, 'must be a string', value);
      this.sqlSafe(`${path}.${name}`, value, '"');
    }
  }

  private hostgroupOf(d: RuleDestination): number {
    if (d.kind === 'writer') return this.writerHg;
    if (d.kind === 'readers') return this.readerHg;
    return d.hostgroupId!;
  }

  /** Whether the writer is a low-weight reader of last resort (see `readsFallBackToWriter`). */
  private readerFallback(): boolean {
    const t = this.props.topology;
    const o = this.props.options;
    const equalReads = t.auroraDiscovery ? !!t.auroraDiscovery.writerIsAlsoReader : !!o.writerIsAlsoReader;
    return this.hasReaders && !equalReads && (o.readsFallBackToWriter ?? true);
  }

  /** The `mysql_servers` rows as rendered: [hostgroup, server with its weight and budget]. */
  private serverRows(): Array<[number, ProxySqlServer]> {
    const t = this.props.topology;
    const fallback = this.readerFallback();
    const full = this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections;
    const small = Math.max(1, Math.floor(full / 4));
    return [
      [this.writerHg, fallback ? { ...t.writer, maxConnections: t.writer.maxConnections ?? full - small } : t.writer],
      ...(fallback
        ? [[this.readerHg, { ...t.writer, weight: 1, maxConnections: t.writer.maxConnections ?? small }] as [number, ProxySqlServer]]
        : []),
      ...(t.readers ?? []).map(r => [this.readerHg, fallback ? { ...r, weight: r.weight ?? FALLBACK_READER_WEIGHT } : r] as [number, ProxySqlServer]),
    ];
  }

  /** `mysql-max_connections`: client connections one task accepts (a token when given as one). */
  public get maxClientConnections(): number {
    const o = this.props.options;
    return o.maxClientConnections ?? Math.min(DEFAULTS.maxClientConnections,
      Math.max(DEFAULTS.minClientConnections, Math.floor((this.props.memoryMiB - DEFAULTS.reservedMemoryMiB) * DEFAULTS.connectionsPerMiB)));
  }

  /**
   * What the metrics, dashboard and alarms need to know of the hostgroups: their ids, the backend
   * connections one task may open in each (undefined when Aurora discovery adds servers at run
   * time, or a cap is a token), and how many rows of the reader hostgroup are the writer itself
   * (listed there for fallback reads or `writerIsAlsoReader`).
   */
  public get hostgroups(): HostgroupFacts {
    const rows = this.serverRows();
    const t = this.props.topology;
    const o = this.props.options;
    const cap = (hg: number): number | undefined => {
      if (t.auroraDiscovery && hg === this.readerHg) return undefined;
      const caps = rows.filter(([h]) => h === hg)
        .map(([, s]) => s.maxConnections ?? this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections);
      return caps.some((c) => Token.isUnresolved(c)) ? undefined : caps.reduce((a, b) => a + b, 0);
    };
    const writerAlsoReader = t.auroraDiscovery ? !!t.auroraDiscovery.writerIsAlsoReader : !!o.writerIsAlsoReader;
    return {
      writer: this.writerHg,
      readers: this.readerHg,
      hasReaders: this.hasReaders,
      writerCapacity: cap(this.writerHg),
      readersCapacity: this.hasReaders ? cap(this.readerHg) : undefined,
      writerRowsInReaders: this.hasReaders && (this.readerFallback() || writerAlsoReader) ? 1 : 0,
    };
  }

  /** The secrets of the users ProxySQL is configured with (for the database bootstrap). */
  public get userSecrets(): secretsmanager.ISecret[] {
    return this.users.map(u => u.secret);
  }

  /**
   * The users ProxySQL is configured with and the prop that named each: `users[i]`, or
   * `defaultUsers[i]` for a backend's application users.
   */
  public get userEntries(): ReadonlyArray<{ readonly secret: secretsmanager.ISecret; readonly path: string; readonly options: ProxySqlUserOptions }> {
    return this.users;
  }

  /** Render the libconfig template and the env vars the container needs. */
  public render(): RenderedConfig {
    const o = this.props.options;
    const t = this.props.topology;
    const secretEnvironment: { [envVar: string]: SecretReference } = {};
    const secretRef = (envVar: string, secret: secretsmanager.ISecret, field: string, quoting: SecretQuoting) => {
      secretEnvironment[envVar] = { secret, field };
      return placeholder(envVar, quoting);
    };
    const lines: string[] = [];
    const push = (...s: string[]) => lines.push(...s);
    // Raw variables replace a default of the same name (the typed ones are refused in validate()):
    // libconfig rejects a group that names a setting twice.
    const withRaw = (entries: Array<[string, string | number | boolean | undefined]>, raw: { [name: string]: string } | undefined) => {
      const rawEntries = Object.entries(raw ?? {});
      return [...entries.filter(([k]) => !rawEntries.some(([r]) => r === k)), ...rawEntries];
    };
    const kv = (entries: Array<[string, string | number | boolean | undefined]>, indent: string) =>
      entries.filter(([, v]) => v !== undefined).map(([k, v]) => `${indent}${k}=${typeof v === 'string' ? lcString(v) : String(v)}`);

    push('# ProxySQL configuration rendered by cdk-proxysql. Secrets are placeholders filled in at start-up.');
    // Read by the start script so the stop handler and the health check need no extra env var.
    push(`# cdk-proxysql admin_port=${this.adminPort}`);

    // admin
    const tlsCertificate = o.tlsCertificate;
    if (tlsCertificate) {
      secretEnvironment[TLS_CERTIFICATE_ENV] = { secret: tlsCertificate.secret, field: tlsCertificate.certificateField };
      secretEnvironment[TLS_PRIVATE_KEY_ENV] = { secret: tlsCertificate.secret, field: tlsCertificate.privateKeyField };
      secretEnvironment[TLS_CHAIN_ENV] = { secret: tlsCertificate.secret, field: tlsCertificate.certificateChainField };
    }
    const adminCreds = `${secretRef(ADMIN_USERNAME_ENV, this.props.adminSecret, 'username', SecretQuoting.ADMIN)}:${secretRef(ADMIN_PASSWORD_ENV, this.props.adminSecret, 'password', SecretQuoting.ADMIN)}`;
    push('admin_variables=');
    push('{');
    push(`  admin_credentials="${adminCreds}"`);
    if (!(o.rawAdminVariables ?? {}).stats_credentials) {
      // ProxySQL's default stats user is stats:stats; replace it with <admin user>_stats and the
      // admin password so no well-known credential exists when the admin port is opened.
      push(`  stats_credentials="${placeholder(ADMIN_USERNAME_ENV, SecretQuoting.ADMIN)}_stats:${placeholder(ADMIN_PASSWORD_ENV, SecretQuoting.ADMIN)}"`);
    }
    push(...kv(withRaw([
      ['mysql_ifaces', `${this.props.adminListenAddress ?? '127.0.0.1'}:${this.adminPort}`],
      ['restapi_enabled', this.restApiPort !== undefined],
      ['restapi_port', this.restApiPort],
      ['web_enabled', false],
    ], o.rawAdminVariables), '  '));
    push('}');

    // mysql
    const maxConn = this.maxClientConnections;
    const threads = o.workerThreads ?? Math.min(DEFAULTS.maxWorkerThreads, Math.max(1, Math.floor(this.props.vcpus)));
    push('mysql_variables=');
    push('{');
    push(`  monitor_username="${secretRef('PROXYSQL_SECRET_MONITOR_USERNAME', this.props.monitorSecret, 'username', SecretQuoting.DOUBLE)}"`);
    push(`  monitor_password="${secretRef('PROXYSQL_SECRET_MONITOR_PASSWORD', this.props.monitorSecret, 'password', SecretQuoting.DOUBLE)}"`);
    push(...kv(withRaw([
      ['threads', threads],
      ['max_connections', maxConn],
      ['interfaces', `0.0.0.0:${this.trafficPort}`],
      ['server_version', t.serverVersion ?? DEFAULTS.serverVersion],
      ['have_ssl', o.frontendTls ?? true],
      // The file the start script writes from BACKEND_CA_ENV. ProxySQL 2.7 then verifies the chain of
      // every TLS backend connection (monitor included) but not the host name (measured on 2.7.1).
      ['ssl_p2s_ca', this.props.backendCa !== undefined ? BACKEND_CA_FILE_PLACEHOLDER : undefined],
      ['connection_max_age_ms', o.connectionMaxAgeMs ?? DEFAULTS.connectionMaxAgeMs],
      ['wait_timeout', (o.idleClientTimeout ?? DEFAULTS.idleClientTimeout).toMilliseconds()],
      ['connect_timeout_server_max', (o.borrowTimeout ?? DEFAULTS.borrowTimeout).toMilliseconds()],
      ['monitor_enabled', true],
      ['monitor_connect_interval', o.monitorConnectIntervalMs ?? DEFAULTS.monitorConnectIntervalMs],
      ['monitor_ping_interval', o.monitorPingIntervalMs ?? DEFAULTS.monitorPingIntervalMs],
      ['monitor_read_only_interval', o.monitorReadOnlyIntervalMs ?? DEFAULTS.monitorReadOnlyIntervalMs],
      ['monitor_read_only_timeout', o.monitorReadOnlyTimeoutMs ?? DEFAULTS.monitorReadOnlyTimeoutMs],
      ['monitor_writer_is_also_reader', (o.writerIsAlsoReader ?? false) || (this.readerFallback() && !t.auroraDiscovery)],
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
      // A server shunned after connection errors is tried again after this many seconds (ProxySQL's
      // default is 10): reads return to a recovered replica within a few seconds.
      ['shun_recovery_time_sec', DEFAULTS.shunRecoveryTimeSec],
      // The NLB's TCP health check connects and closes without a handshake; ProxySQL would log
      // every probe as "Closing unhealthy client connection" (several lines per task every 10 s).
      // The same warning also names clients that drop a connection without COM_QUIT, so a raw
      // variable may turn it back on.
      ['log_unhealthy_connections', false],
      // Query rules run on RE2 (ProxySQL's default engine is PCRE): the engine the synth checks
      // rules against and the README documents, linear in the statement's length, and reading
      // UTF-8 characters rather than bytes.
      ['query_processor_regex', 2],
      // The stop handler reads each session's open transaction from the processlist's
      // extended_info (stats_mysql_global's Active_Transactions lags by up to two seconds).
      ['show_processlist_extended', 1],
      // The query log: every statement (default_log=1, no rule needs `log=1`) as one JSON object
      // a line (format 2).
      ['eventslog_filename', this.props.queryLogFile],
      ['eventslog_format', this.props.queryLogFile !== undefined ? 2 : undefined],
      ['eventslog_default_log', this.props.queryLogFile !== undefined ? 1 : undefined],
    ], o.rawMysqlVariables), '  '));
    push('}');

    // servers
    // Reads fall back to the writer: it is also a reader with weight 1 against the readers' 1000,
    // and keeps a quarter of its budget for such reads (the rows of one server share its budget).
    const fallback = this.readerFallback();
    const full = this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections;
    const small = Math.max(1, Math.floor(full / 4));
    const servers = this.serverRows();
    if (fallback) {
      // Read by the start script, which moves the weights to the new writer after a failover.
      push(`# cdk-proxysql reader_fallback=${this.writerHg},${this.readerHg},${small},${full},${FALLBACK_READER_WEIGHT}`);
    }
    // Replication lag is measured on read replicas (SHOW REPLICA STATUS); every row carries the
    // limit, so a server keeps it when a failover moves it between hostgroups (a primary reports
    // no replication and is never shunned for lag).
    const maxLag = o.maxReplicationLag ?? DEFAULTS.maxReplicationLag;
    const lagSeconds = t.replicationCheck && !t.auroraDiscovery && t.measuresReplicationLag !== false ? maxLag.toSeconds() : 0;
    push('mysql_servers=');
    push('(');
    push(servers.map(([hg, s]) => '  { ' + kv([
      ['hostgroup_id', hg],
      ['hostname', s.host],
      ['port', s.port ?? 3306],
      ['weight', s.weight ?? 1],
      ['max_connections', s.maxConnections ?? this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections],
      ['max_replication_lag', lagSeconds],
      ['use_ssl', s.useSsl ? 1 : 0],
    ], '').join(', ') + ' }').join(',\n'));
    push(')');

    const a = t.auroraDiscovery;
    if (a) {
      push('mysql_aws_aurora_hostgroups=');
      push('(');
      push('  { ' + kv([
        ['writer_hostgroup', this.writerHg],
        ['reader_hostgroup', this.readerHg],
        ['active', 1],
        ['aurora_port', a.port ?? 3306],
        ['domain_name', a.domainName],
        ['max_lag_ms', a.maxLagMs ?? maxLag.toMilliseconds()],
        ['check_interval_ms', a.checkIntervalMs ?? 1000],
        ['check_timeout_ms', a.checkTimeoutMs ?? 800],
        ['writer_is_also_reader', a.writerIsAlsoReader || this.readerFallback() ? 1 : 0],
        ['new_reader_weight', a.newReaderWeight ?? (this.readerFallback() ? FALLBACK_READER_WEIGHT : 1)],
        ['add_lag_ms', a.addLagMs ?? 30],
        ['min_lag_ms', a.minLagMs ?? 30],
        ['lag_num_checks', a.lagNumChecks ?? 1],
        ['comment', 'cdk-proxysql aurora discovery'],
      ], '').join(', ') + ' }');
      push(')');
      // Instances discovery adds later take their settings from the hostgroups' servers_defaults,
      // which ProxySQL 2.7 cannot read from the config file: the start script applies this line
      // through the admin interface once ProxySQL is up.
      const defaults = (weight?: number) => JSON.stringify({
        ...(weight !== undefined ? { weight } : {}),
        max_connections: this.props.serverMaxConnections ?? DEFAULTS.serverMaxConnections,
        use_ssl: t.writer.useSsl ? 1 : 0,
      });
      const readerDefaults = defaults(this.readerFallback() ? (a.newReaderWeight ?? FALLBACK_READER_WEIGHT) : undefined);
      push(`# cdk-proxysql after_start=INSERT OR REPLACE INTO mysql_hostgroup_attributes (hostgroup_id, servers_defaults) VALUES (${this.writerHg}, '${defaults()}'), (${this.readerHg}, '${readerDefaults}'); LOAD MYSQL SERVERS TO RUNTIME;`);
    } else if (t.replicationCheck) {
      push('mysql_replication_hostgroups=');
      push('(');
      push('  { ' + kv([
        ['writer_hostgroup', this.writerHg],
        ['reader_hostgroup', this.readerHg],
        ['check_type', t.replicationCheck.value],
        ['comment', 'cdk-proxysql read_only check'],
      ], '').join(', ') + ' }');
      push(')');
    }

    // users
    push('mysql_users=');
    push('(');
    push(this.users.map((u, i) => {
      const uo = u.options;
      return '  { ' + [
        `username="${secretRef(`PROXYSQL_SECRET_USER_${i}_USERNAME`, u.secret, 'username', SecretQuoting.SINGLE)}"`,
        `password="${secretRef(`PROXYSQL_SECRET_USER_${i}_PASSWORD`, u.secret, 'password', SecretQuoting.SINGLE)}"`,
        ...kv([
          ['active', 1],
          ['default_hostgroup', uo.defaultHostgroup ?? this.writerHg],
          ['transaction_persistent', uo.transactionPersistent === false ? 0 : 1],
          ['fast_forward', uo.fastForward ? 1 : 0],
          ['use_ssl', (uo.useSsl ?? o.requireTls) ? 1 : 0],
          ['max_connections', uo.maxConnections ?? 10000],
          ['default_schema', uo.defaultSchema],
        ], ''),
      ].join(', ') + ' }';
    }).join(',\n'));
    push(')');

    // rules: built-in rules aimed at the readers are left out when there are none, so those
    // statements fall through to the default hostgroup (the writer) instead of an empty hostgroup.
    const rules = this.rules.filter(r => !(r.builtIn && r.rule.destination === RuleDestination.READERS && !this.hasReaders));
    if (rules.length > 0) {
      push('mysql_query_rules=');
      push('(');
      push(rules.map(({ id, rule }) => '  { ' + kv([
        ['rule_id', id],
        ['active', 1],
        ['match_digest', rule.match],
        ['re_modifiers', rule.caseSensitive ? '' : 'CASELESS'],
        ['destination_hostgroup', rule.destination ? this.hostgroupOf(rule.destination) : undefined],
        ['cache_ttl', rule.cacheTtlMs],
        ['multiplex', rule.multiplex === undefined ? undefined : (rule.multiplex ? 1 : 0)],
        ['timeout', rule.timeoutMs],
        ['mirror_hostgroup', rule.mirror ? this.hostgroupOf(rule.mirror) : undefined],
        ['apply', rule.apply === false ? 0 : 1],
        ['comment', rule.comment],
      ], '').join(', ') + ' }').join(',\n'));
      push(')');
    }

    const template = lines.join('\n') + '\n';
    return {
      template,
      secretEnvironment,
      environment: {
        [TEMPLATE_ENV]: template,
        ...(this.props.backendCa !== undefined ? { [BACKEND_CA_ENV]: this.props.backendCa } : {}),
      },
      trafficPort: this.trafficPort,
      adminPort: this.adminPort,
      restApiPort: this.restApiPort,
    };
  }
}
