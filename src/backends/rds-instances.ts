import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { server } from './server';
import { IProxySqlBackend, MonitorPrivileges, ProxySqlBackendConfig, RdsInstancesBackendOptions } from './types';
import { check, validMaxConnections, validServerCa } from './validation';
import { ReplicationCheck } from '../config/topology';

/** `ProxySqlBackend.fromRdsInstances`: checks the options, naming the prop, and makes the backend. */
export function rdsInstancesBackend(writer: rds.IDatabaseInstance, options: RdsInstancesBackendOptions): IProxySqlBackend {
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

/** A port attribute that CDK carries as a string (RDS instances); concrete values stay checkable numbers. */
function portFromString(port: string): number {
  return Token.isUnresolved(port) ? Token.asNumber(port) : Number(port);
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
