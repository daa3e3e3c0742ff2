import { Annotations, CustomResource, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { IProxySqlBackend, MonitorPrivileges, ProxySqlBackendConfig } from './backend';
import { DatabaseBootstrap, MonitorPrivilegeMode } from './bootstrap/database-bootstrap';
import { ProxySqlConfiguration, RenderedConfig } from './config/configuration';
import { ProxySqlConfigOptions } from './config/options';
import { DRAIN_SECONDS_ENV, HEALTH_CHECK_SCRIPT, START_SCRIPT } from './config/start-script';
import { IProxySqlEndpointProvider, ProxySqlEndpoint } from './lambda-demo-api/lambda-demo-api';
import { suppressNag } from './private/nag';
import { generatedUserSecret } from './private/secrets';

/**
 * The official ProxySQL image we pin. 2.7.3 is the newest release of the 2.7 line, the line whose
 * config-file loading we measured (see the README); the image is multi-arch (amd64 + arm64).
 */
export const DEFAULT_PROXYSQL_IMAGE = 'proxysql/proxysql:2.7.3';

/**
 * Properties of a `ProxySqlFargate`.
 */
export interface ProxySqlFargateProps extends ProxySqlConfigOptions {
  /** The VPC the proxy runs in. */
  readonly vpc: ec2.IVpc;
  /** The database behind the proxy. */
  readonly backend: IProxySqlBackend;
  /**
   * The ECS cluster to run in.
   *
   * @default - a new cluster with Container Insights
   */
  readonly cluster?: ecs.ICluster;
  /**
   * Subnets for the ProxySQL tasks (they need a route to the image registry, Secrets Manager and
   * CloudWatch Logs: NAT or VPC endpoints).
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Subnets for the internal Network Load Balancer.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly loadBalancerSubnets?: ec2.SubnetSelection;
  /**
   * Task CPU units. ProxySQL runs one worker thread per vCPU.
   *
   * @default 1024 (1 vCPU)
   */
  readonly cpu?: number;
  /**
   * Task memory (MiB); must be a combination Fargate offers with `cpu`.
   *
   * @default 2048
   */
  readonly memoryLimitMiB?: number;
  /**
   * CPU architecture of the tasks.
   *
   * @default ecs.CpuArchitecture.ARM64 (Graviton: cheaper for the same work; the image is multi-arch)
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Number of tasks to set on every deploy. Leave it unset so that deploys keep the count
   * autoscaling chose: with it set, every deploy that touches the service (a new image, a config
   * change) sends this count and shrinks a service autoscaling had grown.
   *
   * Unset, the template carries no `DesiredCount`. The trade-off is the first deploy: CloudFormation
   * creates the service with one task, and only once that service is stable does registering the
   * scalable target raise it to `minCapacity`; until the second task is healthy, one task (one
   * Availability Zone) serves. Later deploys leave the count alone, and `minCapacity` holds the
   * floor.
   *
   * @default - not set: the first deploy starts with 1 task and autoscaling raises it to `minCapacity`
   */
  readonly desiredCount?: number;
  /**
   * Fewest tasks autoscaling keeps (and, with `desiredCount` unset, the count the first deploy
   * reaches). Keep it at 2 or more so that a task or an Availability Zone can fail.
   *
   * @default - desiredCount when set, else 2
   */
  readonly minCapacity?: number;
  /**
   * Most tasks autoscaling runs.
   *
   * @default - 3 × minCapacity, at least 6
   */
  readonly maxCapacity?: number;
  /**
   * Average CPU utilisation autoscaling aims for (percent).
   *
   * @default 60
   */
  readonly targetCpuUtilizationPercent?: number;
  /**
   * The ProxySQL container image. It must be built from the official image (it needs `sh`, `proxysql`
   * and the `mysql` client).
   *
   * @default - `proxysql/proxysql:2.7.3` from Docker Hub
   */
  readonly image?: ecs.ContainerImage;
  /**
   * The port clients connect to on the load balancer.
   *
   * @default 3306
   */
  readonly listenerPort?: number;
  /**
   * Security groups allowed to reach the ProxySQL admin interface (and the REST API / Prometheus
   * endpoint when enabled). Operators normally use ECS Exec instead.
   *
   * @default - nobody: the admin interface listens on 127.0.0.1 only
   */
  readonly adminAccess?: ec2.ISecurityGroup[];
  /**
   * ProxySQL admin credentials (RDS JSON shape). Its username and password must not contain `:`,
   * `;` or `"` (the task refuses to start, naming the field), and the username must not be `admin` if `adminAccess` is set (ProxySQL lets `admin` in
   * from localhost only).
   *
   * @default - a generated secret, see `adminSecret`
   */
  readonly adminSecret?: secretsmanager.ISecret;
  /**
   * Credentials of the monitor user ProxySQL uses for health and topology checks (RDS JSON shape).
   * The bootstrap creates this user in the database.
   *
   * @default - a generated secret, see `monitorSecret`
   */
  readonly monitorSecret?: secretsmanager.ISecret;
  /**
   * Create the monitor and application users in the database after deploy (a custom resource in
   * the VPC that signs in with the backend's admin secret). Turn off only if you create them
   * yourself before the proxy starts.
   *
   * @default true
   */
  readonly bootstrap?: boolean;
  /**
   * Drop the monitor and application users when the proxy is deleted.
   *
   * @default false
   */
  readonly dropUsersOnDelete?: boolean;
  /**
   * How long a stopping task may keep serving the clients it already has. ECS stops a task in this
   * order:
   * 1. it deregisters the task from the target group: new connections go to other tasks;
   * 2. it waits the target group's deregistration delay, set to `drainTime`: open connections keep
   *    working, and those still open at its end are reset by the load balancer (connection
   *    termination is on), so clients reconnect to a live task;
   * 3. it sends SIGTERM: the task stops accepting connections (`PROXYSQL PAUSE`) and waits while a
   *    statement still runs or a transaction is open, at most `drainTime` again, then exits
   *    (normally within 2 s, as clients are gone after step 2);
   * 4. it kills the container if it is still there after the stop timeout, set to `drainTime` + 10 s.
   * At most 110 s (Fargate's stop timeout is at most 120 s). Set it to the longest transaction you
   * want to survive a scale-in or a deploy.
   *
   * @default Duration.seconds(20)
   */
  readonly drainTime?: Duration;
  /**
   * How long ProxySQL's logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to ProxySQL's log group when the proxy leaves the stack.
   *
   * @default RemovalPolicy.RETAIN (logs outlive the service for investigations)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Let operators open a shell in the tasks with ECS Exec.
   *
   * @default true
   */
  readonly enableExecuteCommand?: boolean;
}

/** Fargate's CPU → memory (MiB) offer: [min, max, step]. */
const FARGATE_MEMORY: Record<number, [number, number, number]> = {
  256: [512, 2048, 512],
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

function fail(prop: string, rule: string, value: unknown): never {
  throw new Error(`ProxySqlFargate: ${prop} ${rule} (got ${typeof value === 'string' ? value : JSON.stringify(value)})`);
}

function known(value: number | undefined): value is number {
  return value !== undefined && !Token.isUnresolved(value);
}

/**
 * ProxySQL on ECS Fargate behind an internal Network Load Balancer: connection pooling and
 * read/write splitting in front of Aurora MySQL, RDS for MySQL or any MySQL.
 *
 * It runs at least two tasks across Availability Zones, creates its admin and monitor credentials,
 * creates the database users it needs after deploy, and exposes the usual CDK handles:
 * `proxy.connections.allowDefaultPortFrom(fn)` lets a Lambda function in.
 */
export class ProxySqlFargate extends Construct implements IProxySqlEndpointProvider {
  /** Network access to the proxy's listener (default port: the listener port). */
  public readonly connections: ec2.Connections;
  /** Where clients connect. */
  public readonly endpoint: ProxySqlEndpoint;
  /** The ECS cluster. */
  public readonly cluster: ecs.ICluster;
  /** The Fargate service. */
  public readonly service: ecs.FargateService;
  /** The task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The ProxySQL container. */
  public readonly container: ecs.ContainerDefinition;
  /** The internal Network Load Balancer. */
  public readonly loadBalancer: elbv2.NetworkLoadBalancer;
  /** The load balancer listener. */
  public readonly listener: elbv2.NetworkListener;
  /** The target group of the tasks. */
  public readonly targetGroup: elbv2.NetworkTargetGroup;
  /** The security group of the tasks. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** The security group of the load balancer (clients are admitted into this one). */
  public readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  /** ProxySQL admin credentials (RDS JSON shape). */
  public readonly adminSecret: secretsmanager.ISecret;
  /** Monitor user credentials (RDS JSON shape). */
  public readonly monitorSecret: secretsmanager.ISecret;
  /** The log group of the ProxySQL container. */
  public readonly logGroup: logs.ILogGroup;
  /**
   * The custom resource that creates the database users (undefined when `bootstrap` is false).
   * The service depends on it.
   */
  public readonly bootstrapResource?: CustomResource;

  private readonly trafficPort: number;
  private readonly restApiPort?: number;

  constructor(scope: Construct, id: string, props: ProxySqlFargateProps) {
    super(scope, id);
    const cpu = props.cpu ?? 1024;
    const memoryLimitMiB = props.memoryLimitMiB ?? 2048;
    // Unset desiredCount stays unset: the template then carries no DesiredCount (see its JSDoc).
    const desiredCount = props.desiredCount;
    const minCapacity = props.minCapacity ?? desiredCount ?? 2;
    const maxCapacity = props.maxCapacity ?? Math.max(6, 3 * minCapacity);
    const listenerPort = props.listenerPort ?? 3306;
    const drainTime = props.drainTime ?? Duration.seconds(20);
    const targetCpu = props.targetCpuUtilizationPercent ?? 60;
    validateProps({ cpu, memoryLimitMiB, desiredCount, minCapacity, maxCapacity, listenerPort, drainTime, targetCpu });

    const backend: ProxySqlBackendConfig = props.backend.bind(this);
    const bootstrapOn = props.bootstrap ?? true;
    if (bootstrapOn && !backend.adminSecret) {
      fail('backend', 'must carry an adminSecret while bootstrap is on (pass adminSecret to the backend factory, or set bootstrap: false and create the monitor and application users yourself)', 'a backend without adminSecret');
    }

    this.adminSecret = props.adminSecret
      ?? generatedUserSecret(this, 'AdminSecret', 'proxysql_admin', 'ProxySQL admin interface credentials');
    this.monitorSecret = props.monitorSecret
      ?? generatedUserSecret(this, 'MonitorSecret', 'proxysql_monitor', 'ProxySQL monitor user credentials');

    const config = new ProxySqlConfiguration({
      context: 'ProxySqlFargate',
      options: props,
      topology: backend.topology,
      adminSecret: this.adminSecret,
      monitorSecret: this.monitorSecret,
      defaultUsers: backend.defaultUserSecrets,
      vcpus: cpu / 1024,
      memoryMiB: memoryLimitMiB,
      adminListenAddress: props.adminAccess && props.adminAccess.length > 0 ? '0.0.0.0' : '127.0.0.1',
    });
    const rendered: RenderedConfig = config.render();
    this.trafficPort = rendered.trafficPort;
    this.restApiPort = rendered.restApiPort;

    // ---- network -------------------------------------------------------------------------
    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: 'ProxySQL load balancer: clients are admitted here on the listener port',
      allowAllOutbound: false,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'ProxySQL tasks: traffic port from the load balancer only',
      allowAllOutbound: true,
    });
    this.securityGroup.connections.allowFrom(this.loadBalancerSecurityGroup, ec2.Port.tcp(this.trafficPort),
      'ProxySQL traffic (and health checks) from the load balancer');
    for (const [i, group] of (props.adminAccess ?? []).entries()) {
      this.securityGroup.connections.allowFrom(group, ec2.Port.tcp(rendered.adminPort), `ProxySQL admin from adminAccess[${i}]`);
      if (this.restApiPort !== undefined) {
        this.securityGroup.connections.allowFrom(group, ec2.Port.tcp(this.restApiPort), `ProxySQL REST API from adminAccess[${i}]`);
      }
    }
    this.connections = new ec2.Connections({
      securityGroups: [this.loadBalancerSecurityGroup],
      defaultPort: ec2.Port.tcp(listenerPort),
    });

    // ---- bootstrap -----------------------------------------------------------------------
    if (backend.connections && backend.connections.securityGroups.length > 0) {
      backend.connections.allowFrom(this.securityGroup, ec2.Port.tcp(backend.port), 'ProxySQL tasks');
    } else {
      Annotations.of(this).addWarningV2('cdk-proxysql:backendNotOpened',
        `The backend has no security group this app can change: admit the ProxySQL tasks' security group (${this.node.path}/SecurityGroup) to the database port yourself`);
    }
    if (bootstrapOn) {
      const bootstrap = new DatabaseBootstrap(this, 'Bootstrap', {
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        writerHost: backend.writerEndpoint,
        port: backend.port,
        adminSecret: backend.adminSecret!,
        monitorSecret: this.monitorSecret,
        monitorPrivileges: monitorMode(backend.monitorPrivileges),
        users: config.userSecrets.map((secret) => ({ secret })),
        dropUsersOnDelete: props.dropUsersOnDelete ?? false,
        backendConnections: backend.connections,
        dependencies: backend.dependables,
        tls: backend.tlsWithRdsCertificates ?? false,
      });
      this.bootstrapResource = bootstrap.customResource;
    }

    // ---- ECS -----------------------------------------------------------------------------
    this.cluster = props.cluster ?? new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    const secrets: Record<string, ecs.Secret> = {};
    for (const [envVar, ref] of Object.entries(rendered.secretEnvironment)) {
      secrets[envVar] = ecs.Secret.fromSecretsManager(ref.secret, ref.field);
    }

    this.container = this.taskDefinition.addContainer('proxysql', {
      image: props.image ?? ecs.ContainerImage.fromRegistry(DEFAULT_PROXYSQL_IMAGE),
      // The image has no ENTRYPOINT; the start script renders the config from the secrets, then
      // runs ProxySQL and turns SIGTERM into a graceful drain.
      command: ['sh', '-c', START_SCRIPT],
      environment: {
        ...rendered.environment,
        [DRAIN_SECONDS_ENV]: String(drainTime.toSeconds()),
      },
      secrets,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'proxysql', logGroup: this.logGroup }),
      healthCheck: {
        command: ['CMD-SHELL', HEALTH_CHECK_SCRIPT],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      // SIGTERM comes after the deregistration delay (= drainTime); the start script then waits at
      // most drainTime for in-flight work, and ProxySQL needs well under 10 s more to exit.
      stopTimeout: Duration.seconds(drainTime.toSeconds() + 10),
      portMappings: [
        { containerPort: this.trafficPort, name: 'mysql' },
        ...(this.restApiPort !== undefined ? [{ containerPort: this.restApiPort, name: 'restapi' }] : []),
      ],
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65536, hardLimit: 65536 }],
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      enableExecuteCommand: props.enableExecuteCommand ?? true,
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
      healthCheckGracePeriod: Duration.seconds(60),
    });
    if (this.bootstrapResource) {
      // ProxySQL must not take traffic before its monitor user exists: when the monitor cannot log
      // in, ProxySQL takes every server for read-only and writes fail.
      this.service.node.addDependency(this.bootstrapResource);
    }

    const scaling = this.service.autoScaleTaskCount({ minCapacity, maxCapacity });
    scaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: targetCpu,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });

    // ---- load balancer -------------------------------------------------------------------
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: props.loadBalancerSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      crossZoneEnabled: true,
      securityGroups: [this.loadBalancerSecurityGroup],
    });
    this.loadBalancerSecurityGroup.connections.allowTo(this.securityGroup, ec2.Port.tcp(this.trafficPort),
      'Forward to ProxySQL tasks');

    this.listener = this.loadBalancer.addListener('Listener', {
      port: listenerPort,
      protocol: elbv2.Protocol.TCP,
    });
    this.targetGroup = this.listener.addTargets('ProxySql', {
      port: this.trafficPort,
      protocol: elbv2.Protocol.TCP,
      targets: [this.service.loadBalancerTarget({ containerName: 'proxysql', containerPort: this.trafficPort })],
      // ECS waits this long after deregistering a task before it sends SIGTERM (see drainTime).
      deregistrationDelay: drainTime,
      // The NLB checks only that ProxySQL accepts connections: a database failover must not make
      // every task unhealthy at once (ProxySQL itself rides out the failover).
      healthCheck: {
        protocol: elbv2.Protocol.TCP,
        port: String(this.trafficPort),
        interval: Duration.seconds(10),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });
    // Close lingering client connections when draining ends, so clients reconnect to a live task
    // instead of waiting on a dead one.
    this.targetGroup.setAttribute('deregistration_delay.connection_termination.enabled', 'true');

    this.endpoint = { hostname: this.loadBalancer.loadBalancerDnsName, port: listenerPort };

    suppressNag(this, 'TaskDefinition', [{
      id: 'AwsSolutions-ECS2',
      reason: 'The environment holds the ProxySQL config template with placeholders and the drain time; every credential is an ECS secret (Secrets Manager reference)',
    }]);
    suppressNag(this, 'LoadBalancer', [{
      id: 'AwsSolutions-ELB2',
      reason: 'NLB access logs exist only for TLS listeners; this listener is TCP (MySQL protocol, TLS negotiated by ProxySQL). Use VPC flow logs for connection records',
    }]);
    if (props.enableExecuteCommand ?? true) {
      suppressNag(this, 'TaskDefinition/TaskRole/DefaultPolicy', [{
        id: 'AwsSolutions-IAM5',
        reason: 'ECS Exec needs ssmmessages:* channel actions, which have no resource-level permissions',
        appliesTo: ['Resource::*'],
      }]);
    }
    for (const [child, given] of [['AdminSecret', props.adminSecret], ['MonitorSecret', props.monitorSecret]] as const) {
      if (!given) suppressNag(this, child, [{ id: 'AwsSolutions-SMG4', reason: 'Rotation would change a password that running ProxySQL tasks and the database users hold; rotate by updating the secret and redeploying, which re-runs the bootstrap and replaces the tasks' }]);
    }
  }

  /**
   * Let a peer scrape ProxySQL's Prometheus endpoint (`/metrics` on the REST API port). Needs
   * `restApi` enabled in the configuration.
   */
  public allowMetricsFrom(peer: ec2.IConnectable): void {
    if (this.restApiPort === undefined) {
      fail('restApi', 'must be enabled before allowMetricsFrom() can open its port', 'disabled');
    }
    this.securityGroup.connections.allowFrom(peer, ec2.Port.tcp(this.restApiPort), 'ProxySQL Prometheus metrics');
  }

  /** Connections the load balancer has open (NLB ActiveFlowCount, average over 1 minute). */
  public metricActiveConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.activeFlowCount({ statistic: 'Average', period: Duration.minutes(1), ...props });
  }

  /** New client connections (NLB NewFlowCount, sum over 1 minute). */
  public metricNewConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.newFlowCount({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Connections reset by the load balancer (NLB TCP_ELB_Reset_Count, sum over 1 minute). */
  public metricResetConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.tcpElbResetCount({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /** Tasks the load balancer considers healthy (minimum over 1 minute). */
  public metricHealthyTaskCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1), ...props });
  }

  /** Tasks the load balancer considers unhealthy (maximum over 1 minute). */
  public metricUnhealthyTaskCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.unHealthyHostCount({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /** CPU utilisation of the service (percent). */
  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.service.metricCpuUtilization(props);
  }

  /** Memory utilisation of the service (percent). */
  public metricMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.service.metricMemoryUtilization(props);
  }
}

interface ValidatedNumbers {
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly desiredCount?: number;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly listenerPort: number;
  readonly drainTime: Duration;
  readonly targetCpu: number;
}

function validateProps(p: ValidatedNumbers): void {
  if (known(p.cpu)) {
    const offer = FARGATE_MEMORY[p.cpu];
    if (!offer) fail('cpu', `must be one of Fargate's CPU sizes ${Object.keys(FARGATE_MEMORY).join(', ')}`, p.cpu);
    if (known(p.memoryLimitMiB)) {
      const [min, max, step] = offer;
      if (p.memoryLimitMiB < min || p.memoryLimitMiB > max || (p.memoryLimitMiB - min) % step !== 0) {
        fail('memoryLimitMiB', `must be ${min}–${max} MiB in steps of ${step} with cpu ${p.cpu} (Fargate's offer)`, p.memoryLimitMiB);
      }
    }
  }
  for (const [prop, value] of [['desiredCount', p.desiredCount], ['minCapacity', p.minCapacity]] as const) {
    if (known(value) && (!Number.isInteger(value) || value < 1)) {
      fail(prop, 'must be a whole number of at least 1', value);
    }
  }
  if (known(p.maxCapacity) && (!Number.isInteger(p.maxCapacity) || p.maxCapacity < 1)) {
    fail('maxCapacity', 'must be a whole number of at least 1', p.maxCapacity);
  }
  if (known(p.minCapacity) && known(p.maxCapacity) && p.minCapacity > p.maxCapacity) {
    fail('minCapacity', `must not exceed maxCapacity (${p.maxCapacity})`, p.minCapacity);
  }
  if (known(p.desiredCount) && known(p.minCapacity) && known(p.maxCapacity)
    && (p.desiredCount < p.minCapacity || p.desiredCount > p.maxCapacity)) {
    fail('desiredCount', `must lie between minCapacity (${p.minCapacity}) and maxCapacity (${p.maxCapacity})`, p.desiredCount);
  }
  if (known(p.listenerPort) && (!Number.isInteger(p.listenerPort) || p.listenerPort < 1 || p.listenerPort > 65535)) {
    fail('listenerPort', 'must be a whole number from 1 to 65535', p.listenerPort);
  }
  if (!p.drainTime.isUnresolved() && (p.drainTime.toSeconds() < 0 || p.drainTime.toSeconds() > 110)) {
    fail('drainTime', 'must be from 0 to 110 seconds (Fargate stops a container at most 120 s after SIGTERM)', `${p.drainTime.toSeconds()} s`);
  }
  if (known(p.targetCpu) && (p.targetCpu < 10 || p.targetCpu > 90)) {
    fail('targetCpuUtilizationPercent', 'must be from 10 to 90', p.targetCpu);
  }
}

function monitorMode(privileges: MonitorPrivileges): MonitorPrivilegeMode {
  switch (privileges) {
    case MonitorPrivileges.AURORA: return 'aurora';
    case MonitorPrivileges.REPLICATION: return 'replication';
    default: return 'basic';
  }
}
