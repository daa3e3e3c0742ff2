/**
 * The ProxySQL configuration of the tasks: the props, the backend's topology, the secrets and the
 * connection budget handed to `ProxySqlConfiguration` (which validates and renders it), and the CA
 * ProxySQL verifies the database against.
 */
import { Annotations, Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ProxySqlBackendConfig } from '../backend';
import { ProxySqlConfiguration, RenderedConfig } from '../config/configuration';
import { ConnectionBudget } from '../config/connection-budget';
import { QUERY_LOG_BASENAME } from '../config/metrics-script';
import { rdsCaCertificates } from '../private/rds-ca';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';
import { backendBudget, optionsWithinBudget, warnOnSmallShare } from './budget';
import { ObservabilityFacts } from './observability';
import { QUERY_LOG_MOUNT } from './task';
import { refuseDatabaseAdmin, refuseGrantsWithoutBootstrap, Sizing } from './validation';

export interface ProxyConfigurationInput {
  readonly backend: ProxySqlBackendConfig;
  readonly sizing: Sizing;
  readonly adminSecret: secretsmanager.ISecret;
  readonly monitorSecret: secretsmanager.ISecret;
  readonly bootstrapOn: boolean;
}

export interface ProxyConfiguration {
  readonly budget: ConnectionBudget;
  readonly config: ProxySqlConfiguration;
  readonly rendered: RenderedConfig;
  /** What the dashboard and the alarms need to know of the configuration. */
  readonly facts: ObservabilityFacts;
}

export function proxyConfiguration(scope: Construct, props: ProxySqlFargateProps, input: ProxyConfigurationInput): ProxyConfiguration {
  const { backend, sizing } = input;
  const budget = backendBudget(scope, props, backend, sizing.maxCapacity);
  const options = optionsWithinBudget(scope, props, backend, budget);
  const backendCa = backendCertificateAuthority(scope, backend);
  const config = new ProxySqlConfiguration({
    context: 'ProxySqlFargate',
    options,
    topology: backend.topology,
    adminSecret: input.adminSecret,
    monitorSecret: input.monitorSecret,
    defaultUsers: backend.defaultUserSecrets,
    // A token stays a token, so that the configuration can refuse to derive workerThreads from it.
    vcpus: Token.isUnresolved(sizing.cpu) ? sizing.cpu : sizing.cpu / 1024,
    memoryMiB: sizing.memoryLimitMiB,
    adminListenAddress: props.adminAccess && props.adminAccess.length > 0 ? '0.0.0.0' : '127.0.0.1',
    serverMaxConnections: budget.perRow,
    fleetShares: budget.fleetShares,
    queryLogFile: props.queryLog ? `${QUERY_LOG_MOUNT}/${QUERY_LOG_BASENAME}` : undefined,
    backendCa,
  });
  warnOnSmallShare(scope, budget, sizing.minCapacity, (full) => config.writerShareOf(full));
  refuseDatabaseAdmin(backend, input.monitorSecret, config);
  refuseGrantsWithoutBootstrap(config, input.bootstrapOn);
  const rendered = config.render();
  return {
    budget,
    config,
    rendered,
    facts: { hostgroups: config.hostgroups, maxClientConnections: config.maxClientConnections },
  };
}

/**
 * What ProxySQL verifies its TLS connections to the database against: the backend's own CA, else
 * the Amazon RDS CAs of the stack's region for Aurora and RDS. None when no server uses TLS.
 */
function backendCertificateAuthority(scope: Construct, backend: ProxySqlBackendConfig): string | undefined {
  const servers = [backend.topology.writer, ...(backend.topology.readers ?? [])];
  if (!servers.some((s) => s.useSsl)) return undefined;
  if (backend.serverCaPem !== undefined) return backend.serverCaPem;
  if (backend.tlsWithRdsCertificates) return rdsCaCertificates(scope, 'ProxySqlFargate: the backend\'s serverCaPem');
  Annotations.of(scope).addWarningV2('cdk-proxysql:backendTlsUnverified',
    'ProxySQL connects to the database with TLS but cannot verify the servers\' certificates: a machine in the middle would go unnoticed. '
    + 'Pass serverCaPem (the CA that issued them) to the backend factory');
  return undefined;
}
