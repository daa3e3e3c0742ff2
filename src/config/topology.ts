/**
 * What ProxySQL needs to know about the database behind it. Backends produce a `BackendTopology`;
 * the configuration engine turns it into `mysql_servers` plus the table that tells ProxySQL how to
 * find the writer (`mysql_aws_aurora_hostgroups` or `mysql_replication_hostgroups`).
 */

/** One MySQL server ProxySQL sends queries to. */
export interface ProxySqlServer {
  /**
   * Host name or IP address. May be a CDK token (e.g. an instance endpoint attribute): it is
   * rendered untouched and resolved by CloudFormation.
   */
  readonly host: string;

  /**
   * MySQL port of the server.
   * @default 3306
   */
  readonly port?: number;

  /**
   * Relative share of the queries of its hostgroup this server receives (ProxySQL `weight`).
   * @default 1
   */
  readonly weight?: number;

  /**
   * Most backend connections ProxySQL opens to this server (ProxySQL `max_connections`). Keep the
   * sum over all ProxySQL tasks below the database's own `max_connections`.
   * @default 1000 (ProxySQL's default)
   */
  readonly maxConnections?: number;

  /**
   * Connect to this server with TLS (ProxySQL `use_ssl`).
   * @default false
   */
  readonly useSsl?: boolean;
}

/**
 * Which server variable ProxySQL's monitor reads to tell writers from readers
 * (`mysql_replication_hostgroups.check_type`). A server that reports 1 goes to the reader hostgroup.
 */
export class ReplicationCheck {
  /** `SELECT @@global.read_only` — classic MySQL / RDS MySQL replicas. */
  public static readonly READ_ONLY = new ReplicationCheck('read_only');
  /** `SELECT @@global.innodb_read_only` — Aurora MySQL (its replicas set innodb_read_only). */
  public static readonly INNODB_READ_ONLY = new ReplicationCheck('innodb_read_only');
  /** `SELECT @@global.super_read_only`. */
  public static readonly SUPER_READ_ONLY = new ReplicationCheck('super_read_only');
  /** Reader when either `read_only` or `innodb_read_only` is 1. */
  public static readonly READ_ONLY_OR_INNODB_READ_ONLY = new ReplicationCheck('read_only|innodb_read_only');
  /** Reader only when both `read_only` and `innodb_read_only` are 1. */
  public static readonly READ_ONLY_AND_INNODB_READ_ONLY = new ReplicationCheck('read_only&innodb_read_only');

  /** The `check_type` string ProxySQL expects. */
  public readonly value: string;

  private constructor(value: string) {
    this.value = value;
  }
}

/**
 * Aurora topology discovery (`mysql_aws_aurora_hostgroups`): ProxySQL's monitor reads
 * `INFORMATION_SCHEMA.REPLICA_HOST_STATUS` on the servers it knows and moves instances between the
 * writer and reader hostgroups itself, so a failover is followed within seconds.
 */
export interface AuroraDiscovery {
  /**
   * The common suffix of the cluster's instance endpoints, starting with a dot, e.g.
   * `.abcdefghijkl.eu-west-1.rds.amazonaws.com` (instance endpoints are `<instance-id><domainName>`).
   * May be a CDK token.
   */
  readonly domainName: string;

  /**
   * Port of the Aurora instances (`aurora_port`).
   * @default 3306
   */
  readonly port?: number;

  /**
   * A reader lagging more than this is shunned (`max_lag_ms`, 10–600000).
   * @default 600000 (ProxySQL's default: lag alone never shuns a reader)
   */
  readonly maxLagMs?: number;

  /**
   * How often the monitor reads the topology (`check_interval_ms`, 100–600000).
   * @default 1000 (a failover is noticed within about a second)
   */
  readonly checkIntervalMs?: number;

  /**
   * Timeout of one topology read (`check_timeout_ms`, 80–3000).
   * @default 800
   */
  readonly checkTimeoutMs?: number;

  /**
   * Also send reads to the writer (`writer_is_also_reader`).
   * @default false - reads stay off the writer so it keeps its capacity for writes
   */
  readonly writerIsAlsoReader?: boolean;

  /**
   * Weight given to a reader that discovery adds (`new_reader_weight`).
   * @default 1
   */
  readonly newReaderWeight?: number;

  /**
   * Consecutive lag readings over `maxLagMs` before a reader is shunned (`lag_num_checks`, 1–16).
   * @default 1
   */
  readonly lagNumChecks?: number;

  /**
   * Lag added to each reading (`add_lag_ms`).
   * @default 30
   */
  readonly addLagMs?: number;

  /**
   * Lower bound of a lag reading (`min_lag_ms`).
   * @default 30
   */
  readonly minLagMs?: number;
}

/**
 * The servers behind ProxySQL and how it learns which one is the writer. Backends produce this.
 */
export interface BackendTopology {
  /** The writer (primary). For Aurora, the writer instance endpoint (not the cluster endpoint). */
  readonly writer: ProxySqlServer;

  /**
   * Read replicas, put in the reader hostgroup only. With Aurora discovery list the reader
   * instances as seeds (discovery adds new ones itself).
   * @default - no readers: the default rules then send every query to the writer
   */
  readonly readers?: ProxySqlServer[];

  /**
   * Aurora topology discovery. Takes precedence over `replicationCheck`.
   * @default - no Aurora discovery
   */
  readonly auroraDiscovery?: AuroraDiscovery;

  /**
   * Move servers between writer and reader hostgroups by their read_only state
   * (`mysql_replication_hostgroups`). Without it and without Aurora discovery, servers stay where
   * they are listed (plain endpoints).
   * @default - no read_only checks
   */
  readonly replicationCheck?: ReplicationCheck;

  /**
   * Whether ProxySQL can read the readers' replication lag (`SHOW REPLICA STATUS`) on the servers
   * it is given. False when the servers are endpoints that hide the instances (Aurora's reader
   * endpoint), where the lag query has nothing to answer.
   * @default true
   */
  readonly measuresReplicationLag?: boolean;

  /**
   * MySQL version ProxySQL announces to clients (`mysql-server_version`). Drivers pick features
   * from it, so it should match the backend.
   * @default '8.0.39'
   */
  readonly serverVersion?: string;

  /**
   * The character set of a session whose client names none (`mysql-default_charset`).
   * @default - ProxySQL's default (utf8)
   */
  readonly defaultCharset?: string;

  /**
   * The collation ProxySQL advertises in its handshake and gives a session whose client names none
   * (`mysql-default_collation_connection`).
   * @default - ProxySQL's default (utf8_general_ci)
   */
  readonly defaultCollation?: string;
}
