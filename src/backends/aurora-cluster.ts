import { Fn, Token } from 'aws-cdk-lib';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { server } from './server';
import {
  AuroraClusterBackendOptions, AuroraTopologyMode, IProxySqlBackend, MonitorPrivileges, ProxySqlBackendConfig,
} from './types';
import { check, validMaxConnections, validServerCa } from './validation';
import { AuroraDiscovery, ReplicationCheck } from '../config/topology';

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

/** `ProxySqlBackend.fromAuroraCluster`: checks the options, naming the prop, and makes the backend. */
export function auroraClusterBackend(cluster: rds.IDatabaseCluster, options: AuroraClusterBackendOptions): IProxySqlBackend {
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
