import { Duration } from 'aws-cdk-lib';
import { QueryRules } from './query-rules';
import { ProxySqlTlsCertificate } from './tls';
import { ProxySqlUser } from './users';

/**
 * Every user-facing setting of the ProxySQL configuration. `ProxySqlFargateProps` extends this, so
 * everything here is optional and has a documented default.
 */
export interface ProxySqlConfigOptions {
  /**
   * Users clients log in with (also used by ProxySQL on the backend).
   * @default - the backend's application user
   */
  readonly users?: ProxySqlUser[];

  /**
   * Query routing rules.
   * @default QueryRules.readWriteSplit()
   */
  readonly queryRules?: QueryRules;

  /**
   * Hostgroup id of the writer. Not a token: hostgroup ids are compared at synth time.
   * @default 10
   */
  readonly writerHostgroup?: number;

  /**
   * Hostgroup id of the readers. Not a token: hostgroup ids are compared at synth time.
   * @default 20
   */
  readonly readerHostgroup?: number;

  /**
   * ProxySQL worker threads (`mysql-threads`, 1–256).
   * @default - the task's vCPUs (at least 1): one worker per core, idle connections are handled by the idle threads
   */
  readonly workerThreads?: number;

  /**
   * Most client connections one ProxySQL task accepts (`mysql-max_connections`).
   * @default - sized from task memory: (memoryMiB - 256) * 4, between 256 and 100000 (256 MiB kept for ProxySQL itself, 256 KiB budget per client connection)
   */
  readonly maxClientConnections?: number;

  /**
   * How long a client connection may stay idle before the proxy closes it (RDS Proxy's name). One
   * value sets both the load balancer listener's TCP idle timeout and ProxySQL's client
   * `mysql-wait_timeout`, so a connection is never dropped silently by the one while the other
   * keeps its session (a frozen Lambda environment leaves connections idle for long). 60–6000 s,
   * whole seconds; not a token.
   * @default Duration.minutes(30) (RDS Proxy's default; the NLB's own default is 350 s)
   */
  readonly idleClientTimeout?: Duration;

  /**
   * A reader lagging further behind its writer than this takes no reads until it catches up. Read
   * replicas (RDS for MySQL, any MySQL): ProxySQL's monitor reads `Seconds_Behind_Master` every
   * second (`max_replication_lag` on every server). A replica that reports no figure (its
   * replication stopped, or its primary is down) is not shunned: ProxySQL cannot tell the two apart,
   * and during a writer outage the replicas hold the freshest data there is. Aurora discovery: the cluster's own lag figure (`max_lag_ms`), unless
   * `discovery.maxLagMs` says otherwise. Aurora with `READ_ONLY_CHECKS` cannot be measured (the
   * reader endpoint hides the instances). Whole seconds, 1–600; not a token.
   * @default Duration.seconds(30)
   */
  readonly maxReplicationLag?: Duration;

  /**
   * How long a client waits for a backend connection when every connection the budget allows is
   * busy (RDS Proxy's name), and how long ProxySQL keeps trying to reach a server before it answers
   * the client with an error (`mysql-connect_timeout_server_max`). Whole seconds, 1–3600; not a token.
   * @default Duration.seconds(30) (a 5 000-client cold burst against a 100-connection budget is served within it; see docs/benchmark.md)
   */
  readonly borrowTimeout?: Duration;

  /**
   * Retire pooled backend connections older than this (`mysql-connection_max_age_ms`); 0 keeps them forever.
   * @default 300000 (5 minutes: connections follow DNS changes and a failover within minutes)
   */
  readonly connectionMaxAgeMs?: number;

  /**
   * How often the monitor opens a test connection to each server (`mysql-monitor_connect_interval`, ms).
   * @default 60000 (ProxySQL's default)
   */
  readonly monitorConnectIntervalMs?: number;

  /**
   * How often the monitor pings each server (`mysql-monitor_ping_interval`, ms).
   * @default 10000 (ProxySQL's default)
   */
  readonly monitorPingIntervalMs?: number;

  /**
   * How often the monitor reads read_only on each server (`mysql-monitor_read_only_interval`, ms).
   * @default 1000 (a failover on replication hostgroups is noticed within about a second)
   */
  readonly monitorReadOnlyIntervalMs?: number;

  /**
   * Timeout of a read_only check (`mysql-monitor_read_only_timeout`, ms).
   * @default 800
   */
  readonly monitorReadOnlyTimeoutMs?: number;

  /**
   * With replication checks, also put the server with read_only=0 in the reader hostgroup
   * (`mysql-monitor_writer_is_also_reader`).
   * @default false - reads stay off the writer (ProxySQL's own default is true)
   */
  readonly writerIsAlsoReader?: boolean;

  /**
   * When no reader can take a read (down, shunned, lagging), send reads to the writer instead of
   * failing them. The writer sits in the reader hostgroup with weight 1 against the readers' 1000,
   * so while a reader is healthy and has pooled connections free, reads stay on the readers; when
   * the readers' pool is full, some reads spill onto the writer rather than queue (measured: about
   * one in seven of a burst). The writer keeps a quarter of its connection budget for such reads.
   * After a failover the start script moves the weights to the new writer within 2 s.
   * Ignored when `writerIsAlsoReader` (or Aurora's `discovery.writerIsAlsoReader`) already sends
   * reads to the writer, and when the backend has no readers. A connection budget of one per task and
   * server cannot be split: `ProxySqlFargate` then leaves the fallback out with a synth warning
   * (and refuses an explicit `true`).
   * @default true
   */
  readonly readsFallBackToWriter?: boolean;

  /**
   * Offer TLS to clients (`mysql-have_ssl`). Without `tlsCertificate`, ProxySQL generates a
   * self-signed certificate in its datadir at every start, which no client can verify.
   * @default true
   */
  readonly frontendTls?: boolean;

  /**
   * Refuse application users who log in without TLS (RDS Proxy's `requireTLS`): `use_ssl=1` on
   * every user. Needs `frontendTls`. Give `tlsCertificate` too so that clients can verify whom they
   * talk to. The admin interface is not concerned (see docs/tls.md).
   * @default false - clients may use TLS but are not forced to
   */
  readonly requireTls?: boolean;

  /**
   * The certificate and private key the proxy presents to clients, from a Secrets Manager secret.
   * Issue it for the name clients connect to (e.g. `PrivateDnsAliases`' `nlb.proxysql.local`): the
   * load balancer's DNS name is AWS's. Needs `frontendTls`.
   * @default - ProxySQL's self-signed certificate, generated by each task
   */
  readonly tlsCertificate?: ProxySqlTlsCertificate;

  /**
   * Port clients connect to ProxySQL on.
   * @default 6033
   */
  readonly trafficPort?: number;

  /**
   * Port of the admin interface.
   * @default 6032
   */
  readonly adminPort?: number;

  /**
   * Serve the REST API and Prometheus metrics at `/metrics` (`admin-restapi_enabled`).
   * @default false
   */
  readonly restApi?: boolean;

  /**
   * Port of the REST API / Prometheus endpoint (`admin-restapi_port`).
   * @default 6070
   */
  readonly restApiPort?: number;

  /**
   * Any other `mysql-*` variable, without the `mysql-` prefix, e.g. `{ default_query_timeout: '60000' }`.
   * Values are written as strings (ProxySQL converts them). Names the typed props set and the
   * monitor credentials cannot be given here.
   * @default - none
   */
  readonly rawMysqlVariables?: { [name: string]: string };

  /**
   * Any other `admin-*` variable, without the `admin-` prefix. `admin_credentials`,
   * `mysql_ifaces` and the REST API variables cannot be given here.
   * @default - none
   */
  readonly rawAdminVariables?: { [name: string]: string };
}
