/**
 * The task definition and its containers: ProxySQL (started by the start script, which renders the
 * config from the secrets and turns SIGTERM into a drain), the metrics sidecar and the query-log
 * sidecar, with their log groups.
 */
import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ADMIN_PASSWORD_ENV, ADMIN_USERNAME_ENV, HostgroupFacts, RenderedConfig } from '../config/configuration';
import {
  ADMIN_PORT_ENV, METRICS_HOSTGROUPS_ENV, METRICS_INTERVAL_ENV, METRICS_PROXY_NAME_ENV, METRICS_SCRIPT,
  QUERY_LOG_DIR_ENV, QUERY_LOG_SCRIPT,
} from '../config/metrics-script';
import {
  CREDENTIALS_DIR_ENV, CREDENTIALS_FETCH_SCRIPT, CREDENTIALS_INTERVAL_ENV, CREDENTIALS_NAMES_ENV, CREDENTIALS_SECRETS_ENV,
  DRAIN_SECONDS_ENV, HEALTH_CHECK_SCRIPT, START_SCRIPT,
} from '../config/start-script';
import { DEFAULT_CREDENTIALS_IMAGE, DEFAULT_PROXYSQL_IMAGE, ProxySqlFargateProps } from '../proxysql-fargate-props';
import { Sizing } from './validation';

/** The task volume ProxySQL writes its events log into, and where both containers mount it. */
const QUERY_LOG_VOLUME = 'query-log';
export const QUERY_LOG_MOUNT = '/var/log/proxysql-queries';
/** The task volume the credentials sidecar writes the secrets' stages to, and where both containers mount it. */
const CREDENTIALS_VOLUME = 'credentials';
export const CREDENTIALS_MOUNT = '/run/proxysql-credentials';

export interface ProxyTaskInput {
  readonly sizing: Sizing;
  readonly rendered: RenderedConfig;
  readonly hostgroups: HostgroupFacts;
  /** The metrics' `ProxyName` dimension; no metrics sidecar when undefined. */
  readonly metricsProxyName?: string;
  readonly metricsIntervalSeconds: number;
  /** Seconds between the credentials sidecar's polls; no sidecar when undefined. */
  readonly credentialsIntervalSeconds?: number;
}

export interface ProxyTask {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.ILogGroup;
  readonly container: ecs.ContainerDefinition;
  readonly metricsContainer?: ecs.ContainerDefinition;
  readonly queryLogGroup?: logs.ILogGroup;
  readonly queryLogContainer?: ecs.ContainerDefinition;
  readonly credentialsContainer?: ecs.ContainerDefinition;
}

export function proxyTask(scope: Construct, props: ProxySqlFargateProps, input: ProxyTaskInput): ProxyTask {
  const { sizing, rendered } = input;
  const taskDefinition = new ecs.FargateTaskDefinition(scope, 'TaskDefinition', {
    cpu: sizing.cpu,
    memoryLimitMiB: sizing.memoryLimitMiB,
    runtimePlatform: {
      cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.ARM64,
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
    },
  });

  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });

  const secrets: Record<string, ecs.Secret> = {};
  for (const [envVar, ref] of Object.entries(rendered.secretEnvironment)) {
    secrets[envVar] = ecs.Secret.fromSecretsManager(ref.secret, ref.field);
  }

  const image = props.image ?? ecs.ContainerImage.fromRegistry(DEFAULT_PROXYSQL_IMAGE);
  const container = taskDefinition.addContainer('proxysql', {
    image,
    // The image has no ENTRYPOINT; the start script renders the config from the secrets, then
    // runs ProxySQL and turns SIGTERM into a graceful drain.
    command: ['sh', '-c', START_SCRIPT],
    environment: {
      ...rendered.environment,
      [DRAIN_SECONDS_ENV]: String(sizing.drainTime.toSeconds()),
    },
    secrets,
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'proxysql', logGroup }),
    healthCheck: {
      command: ['CMD-SHELL', HEALTH_CHECK_SCRIPT],
      interval: Duration.seconds(10),
      timeout: Duration.seconds(5),
      retries: 3,
      startPeriod: Duration.seconds(30),
    },
    // SIGTERM comes after the deregistration delay (= drainTime); the start script then waits at
    // most drainTime for in-flight work, and ProxySQL needs well under 10 s more to exit.
    stopTimeout: Duration.seconds(sizing.drainTime.toSeconds() + 10),
    portMappings: [
      { containerPort: rendered.trafficPort, name: 'mysql' },
      ...(rendered.restApiPort !== undefined ? [{ containerPort: rendered.restApiPort, name: 'restapi' }] : []),
    ],
    ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65536, hardLimit: 65536 }],
  });

  let metricsContainer: ecs.ContainerDefinition | undefined;
  if (input.metricsProxyName !== undefined) {
    // Same image, so no other pull; non-essential, so its faults never stop the task. It reads
    // the admin interface with the admin credentials (the same ECS secrets: no new permission)
    // and writes EMF to its log stream, from which CloudWatch Logs extracts the metrics.
    metricsContainer = taskDefinition.addContainer('metrics', {
      image,
      essential: false,
      command: ['sh', '-c', METRICS_SCRIPT],
      environment: {
        [ADMIN_PORT_ENV]: String(rendered.adminPort),
        [METRICS_INTERVAL_ENV]: String(input.metricsIntervalSeconds),
        [METRICS_PROXY_NAME_ENV]: input.metricsProxyName,
        [METRICS_HOSTGROUPS_ENV]: `${input.hostgroups.writer},${input.hostgroups.readers}`,
      },
      secrets: { [ADMIN_USERNAME_ENV]: secrets[ADMIN_USERNAME_ENV], [ADMIN_PASSWORD_ENV]: secrets[ADMIN_PASSWORD_ENV] },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'metrics', logGroup }),
      // A hard cap, so that a fault in the sidecar cannot take ProxySQL's memory.
      memoryLimitMiB: 64,
      // It exits on SIGTERM at once; ECS stops it before ProxySQL (it depends on ProxySQL).
      stopTimeout: Duration.seconds(5),
    });
    metricsContainer.addContainerDependencies({ container, condition: ecs.ContainerDependencyCondition.HEALTHY });
  }

  let queryLogGroup: logs.LogGroup | undefined;
  let queryLogContainer: ecs.ContainerDefinition | undefined;
  if (props.queryLog) {
    queryLogGroup = new logs.LogGroup(scope, 'QueryLogGroup', {
      retention: props.queryLogRetention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // ProxySQL writes its events log into a task volume; this container prints it to stdout and
    // deletes rotated files, so neither the task's storage nor ProxySQL depends on CloudWatch.
    taskDefinition.addVolume({ name: QUERY_LOG_VOLUME });
    container.addMountPoints({ sourceVolume: QUERY_LOG_VOLUME, containerPath: QUERY_LOG_MOUNT, readOnly: false });
    queryLogContainer = taskDefinition.addContainer('query-log', {
      image,
      essential: false,
      command: ['sh', '-c', QUERY_LOG_SCRIPT],
      environment: { [QUERY_LOG_DIR_ENV]: QUERY_LOG_MOUNT },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'queries', logGroup: queryLogGroup }),
      memoryLimitMiB: 64,
      stopTimeout: Duration.seconds(5),
    });
    queryLogContainer.addMountPoints({ sourceVolume: QUERY_LOG_VOLUME, containerPath: QUERY_LOG_MOUNT, readOnly: false });
    queryLogContainer.addContainerDependencies({ container, condition: ecs.ContainerDependencyCondition.START });
  }
  const credentialsContainer = input.credentialsIntervalSeconds === undefined ? undefined
    : liveCredentials(props, taskDefinition, container, logGroup, input.credentialsIntervalSeconds, rendered);
  return { taskDefinition, logGroup, container, metricsContainer, queryLogGroup, queryLogContainer, credentialsContainer };
}

/**
 * The credentials sidecar (credentials-fetch.sh) and what the ProxySQL container needs to apply what
 * it fetches (credentials.sh): the user and monitor secrets the container maps, by entry
 * (`user0`, ... from `PROXYSQL_SECRET_USER_<i>_USERNAME`, `monitor`). The task role may read exactly
 * those secrets: `grantRead` gives GetSecretValue and DescribeSecret on each, and decrypt on its KMS
 * key when it has one. Non-essential: a fault here never stops ProxySQL, which keeps what it has.
 */
function liveCredentials(props: ProxySqlFargateProps, taskDefinition: ecs.FargateTaskDefinition, container: ecs.ContainerDefinition,
  logGroup: logs.ILogGroup, intervalSeconds: number, rendered: RenderedConfig): ecs.ContainerDefinition {
  const entries: Array<[string, secretsmanager.ISecret]> = [];
  for (const [envVar, ref] of Object.entries(rendered.secretEnvironment)) {
    const user = /^PROXYSQL_SECRET_USER_(\d+)_USERNAME$/.exec(envVar);
    if (user) entries.push([`user${user[1]}`, ref.secret]);
    if (envVar === 'PROXYSQL_SECRET_MONITOR_USERNAME') entries.push(['monitor', ref.secret]);
  }
  // Users first, then the monitor: the order the log lines name them in.
  entries.sort(([a], [b]) => (a === 'monitor' ? 1 : 0) - (b === 'monitor' ? 1 : 0) || a.localeCompare(b, 'en', { numeric: true }));
  for (const [, secret] of entries) secret.grantRead(taskDefinition.taskRole);
  taskDefinition.addVolume({ name: CREDENTIALS_VOLUME });
  container.addMountPoints({ sourceVolume: CREDENTIALS_VOLUME, containerPath: CREDENTIALS_MOUNT, readOnly: true });
  container.addEnvironment(CREDENTIALS_DIR_ENV, CREDENTIALS_MOUNT);
  container.addEnvironment(CREDENTIALS_NAMES_ENV, entries.map(([name]) => name).join(' '));
  const sidecar = taskDefinition.addContainer('credentials', {
    image: props.credentialsImage ?? ecs.ContainerImage.fromRegistry(DEFAULT_CREDENTIALS_IMAGE),
    essential: false,
    entryPoint: ['sh', '-c'],
    command: [CREDENTIALS_FETCH_SCRIPT],
    environment: {
      [CREDENTIALS_DIR_ENV]: CREDENTIALS_MOUNT,
      [CREDENTIALS_INTERVAL_ENV]: String(intervalSeconds),
      // ARNs are not secret; the values are read with the task role and go only into the volume.
      [CREDENTIALS_SECRETS_ENV]: Fn.join(' ', entries.map(([name, secret]) => Fn.join('=', [name, secret.secretArn]))),
    },
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'credentials', logGroup }),
    memoryLimitMiB: 128,
    stopTimeout: Duration.seconds(5),
  });
  sidecar.addMountPoints({ sourceVolume: CREDENTIALS_VOLUME, containerPath: CREDENTIALS_MOUNT, readOnly: false });
  return sidecar;
}
