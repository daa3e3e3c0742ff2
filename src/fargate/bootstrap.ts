/**
 * The database bootstrap: after deploy, a custom resource in the VPC signs in with the backend's
 * admin secret and creates the monitor user and the application users (see `bootstrap/`).
 */
import { CustomResource } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { MonitorPrivileges, ProxySqlBackendConfig } from '../backend';
import { DatabaseBootstrap, MonitorPrivilegeMode } from '../bootstrap/database-bootstrap';
import { normalizePrivilege } from '../bootstrap/privileges';
import { ProxySqlConfiguration } from '../config/configuration';
import { CrossStackConnections } from '../private/cross-stack-connections';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';

export interface DatabaseBootstrapInput {
  readonly backend: ProxySqlBackendConfig;
  readonly config: ProxySqlConfiguration;
  readonly monitorSecret: secretsmanager.ISecret;
  /** Where the tasks run: the function runs there too. */
  readonly subnets: ec2.SubnetSelection;
  readonly backendConnections?: CrossStackConnections;
}

/** @returns the custom resource that creates the users */
export function bootstrapDatabase(scope: Construct, props: ProxySqlFargateProps, input: DatabaseBootstrapInput): CustomResource {
  const { backend } = input;
  const bootstrap = new DatabaseBootstrap(scope, 'Bootstrap', {
    vpc: props.vpc,
    vpcSubnets: input.subnets,
    writerHost: backend.writerEndpoint,
    port: backend.port,
    adminSecret: backend.adminSecret!,
    monitorSecret: input.monitorSecret,
    monitorPrivileges: monitorMode(backend.monitorPrivileges),
    users: input.config.userEntries.map((u) => ({
      secret: u.secret,
      // Canonical names in the template: 'select' and 'SELECT' must not look like a change.
      grants: u.options.privileges?.map((p) => normalizePrivilege(p.name)),
    })),
    dropUsersOnDelete: props.dropUsersOnDelete ?? false,
    backendConnections: input.backendConnections,
    dependencies: backend.dependables,
    tls: backend.tlsWithRdsCertificates ?? false,
    tlsCaPem: backend.serverCaPem,
  });
  return bootstrap.customResource;
}

function monitorMode(privileges: MonitorPrivileges): MonitorPrivilegeMode {
  switch (privileges) {
    case MonitorPrivileges.AURORA: return 'aurora';
    case MonitorPrivileges.REPLICATION: return 'replication';
    default: return 'basic';
  }
}
