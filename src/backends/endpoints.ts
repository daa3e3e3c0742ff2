import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { server } from './server';
import { EndpointsBackendOptions, IProxySqlBackend, MonitorPrivileges, ProxySqlBackendConfig } from './types';
import { check, validHost, validMaxConnections, validPort, validServerCa } from './validation';
import { ReplicationCheck } from '../config/topology';

/** `ProxySqlBackend.fromEndpoints`: checks the options, naming the prop, and makes the backend. */
export function endpointsBackend(options: EndpointsBackendOptions): IProxySqlBackend {
  check(options?.writer !== undefined && options.writer !== null,
    'ProxySqlBackend.fromEndpoints: writer is required ({ host, port } of the primary) (got undefined)');
  validHost('writer.host', options.writer.host);
  validMaxConnections('fromEndpoints', options.databaseMaxConnections);
  validServerCa('fromEndpoints', options);
  validPort('writer.port', options.writer.port);
  check(options.engine === undefined || options.serverVersion === undefined,
    `ProxySqlBackend.fromEndpoints: give engine or serverVersion, not both (the engine sets the announced version) (got engine ${options.engine?.serverVersion} and serverVersion ${options.serverVersion})`);
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
        serverVersion: this.options.engine?.serverVersion ?? this.options.serverVersion,
        defaultCharset: this.options.engine?.defaultCharset,
        defaultCollation: this.options.engine?.defaultCollation,
      },
    };
  }
}
