import { Annotations, CustomResource, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import { MonitorPrivileges, ProxySqlBackendConfig } from './backend';
import { DatabaseBootstrap, MonitorPrivilegeMode } from './bootstrap/database-bootstrap';
import { normalizePrivilege } from './bootstrap/privileges';
import { ADMIN_PASSWORD_ENV, ADMIN_USERNAME_ENV, DEFAULTS as CONFIG_DEFAULTS, ProxySqlConfiguration, RenderedConfig } from './config/configuration';
import { ConnectionBudget, connectionBudget } from './config/connection-budget';
import { HostgroupRole, METRICS_NAMESPACE, metricSpec, PROXY_NAME_DIMENSION, ROLE_DIMENSION } from './config/metrics';
import {
  ADMIN_PORT_ENV, METRICS_HOSTGROUPS_ENV, METRICS_INTERVAL_ENV, METRICS_PROXY_NAME_ENV, METRICS_SCRIPT,
  QUERY_LOG_BASENAME, QUERY_LOG_DIR_ENV, QUERY_LOG_SCRIPT,
} from './config/metrics-script';
import { ProxySqlConfigOptions } from './config/options';
import { DRAIN_SECONDS_ENV, HEALTH_CHECK_SCRIPT, START_SCRIPT } from './config/start-script';
import { IProxySqlEndpointProvider, IProxySqlLoadBalancerProvider, ProxySqlEndpoint } from './endpoint';
import { ProxySqlAlarmOptions, ProxySqlDashboardOptions } from './observability-options';
import { CrossStackConnections } from './private/cross-stack-connections';
import { suppressNag } from './private/nag';
import { ObservabilityFacts, recommendedAlarms, proxyDashboard } from './private/observability';
import { rdsCaCertificates } from './private/rds-ca';
import { describeSecret, generatedUserSecret, sameSecret } from './private/secrets';
import { defaultPrivateSubnets, onlyIsolated } from './private/subnets';
import { DEFAULT_PROXYSQL_IMAGE, ProxySqlFargateProps } from './proxysql-fargate-props';

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

/**
 * The backend's admin (master) secret may not serve as an application or monitor user, bootstrap
 * or not: the container would hold the master credentials (which it never sees otherwise), and the
 * bootstrap would manage the password and privileges of the user it signs in as.
 */
function refuseDatabaseAdmin(backend: ProxySqlBackendConfig, monitorSecret: secretsmanager.ISecret, config: ProxySqlConfiguration): void {
  const admin = backend.adminSecret;
  if (!admin) return;
  const why = 'the database admin credentials never reach the ProxySQL container, and the bootstrap must not manage the password and privileges of the user it signs in as';
  if (sameSecret(monitorSecret, admin)) {
    fail('monitorSecret', `must not be the backend's adminSecret (${why}); leave it unset to get a generated monitor user`, describeSecret(monitorSecret));
  }
  config.userEntries.forEach((u) => {
    if (!sameSecret(u.secret, admin)) return;
    const prop = u.path.startsWith('defaultUsers') ? `the backend's appUserSecrets${u.path.slice('defaultUsers'.length)}` : u.path;
    fail(prop, `must not be the backend's adminSecret (${why}); serve an application user with its own secret, e.g. ProxySqlUser.fromSecret(db.appUserSecret)`,
      describeSecret(u.secret));
  });
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
export class ProxySqlFargate extends Construct implements IProxySqlEndpointProvider, IProxySqlLoadBalancerProvider {
  /**
   * Network access to the proxy's listener (default port: the listener port). A peer in another
   * stack gets its rules in its own stack (unless the proxy's stack depends on that one, e.g. the
   * VPC's), so `proxy.connections.allowDefaultPortFrom(fn)` works with `fn` in a stack of its own.
   */
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
  /**
   * The internal Network Load Balancer. Typed as `IProxySqlLoadBalancerProvider` requires (jsii
   * does not let an implementation narrow a property's type); its L1 resource is
   * `loadBalancer.node.defaultChild`.
   */
  public readonly loadBalancer: elbv2.INetworkLoadBalancer;
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
  /**
   * Backend connections one task may open to one database server (ProxySQL `max_connections` of
   * each hostgroup row): the connection budget. All tasks together, during a deployment too, stay
   * within `maxConnectionsPercent` of the database's `max_connections`.
   */
  public readonly backendConnectionsPerServer: number;
  /** The log group of the ProxySQL container. */
  public readonly logGroup: logs.ILogGroup;
  /** The metrics sidecar container (undefined when `metrics` is false). */
  public readonly metricsContainer?: ecs.ContainerDefinition;
  /** Value of the `ProxyName` dimension of the ProxySQL metrics (undefined when `metrics` is false). */
  public readonly metricsProxyName?: string;
  /** The log group of the query log (undefined unless `queryLog` is true). */
  public readonly queryLogGroup?: logs.ILogGroup;
  /** The container that ships the query log (undefined unless `queryLog` is true). */
  public readonly queryLogContainer?: ecs.ContainerDefinition;
  /**
   * The custom resource that creates the database users (undefined when `bootstrap` is false).
   * The service depends on it.
   */
  public readonly bootstrapResource?: CustomResource;

  private readonly trafficPort: number;
  /** The tasks' security group, for admin and metrics peers that may live in other stacks. */
  private readonly taskConnections: CrossStackConnections;
  private readonly restApiPort?: number;
  /** Seconds between two metric samples. */
  private readonly metricsIntervalSeconds: number;
  /** What the dashboard and the alarms need to know of the configuration. */
  private readonly facts: ObservabilityFacts;
  private readonly minCapacity: number;

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
    refuseDerivingFromTokens(props, minCapacity, drainTime);
    this.minCapacity = minCapacity;
    const metricsOn = props.metrics ?? true;
    this.metricsIntervalSeconds = metricsInterval(props);
    if (metricsOn) this.metricsProxyName = metricsProxyName(props, this.node.path);
    const taskSubnets = props.vpcSubnets
      ?? defaultPrivateSubnets(props.vpc, 'ProxySqlFargate', 'vpcSubnets', 'its tasks and the database bootstrap function');
    const loadBalancerSubnets = props.loadBalancerSubnets
      ?? defaultPrivateSubnets(props.vpc, 'ProxySqlFargate', 'loadBalancerSubnets', 'its internal load balancer');
    const selectedTaskSubnets = props.vpc.selectSubnets(taskSubnets);
    if (selectedTaskSubnets.hasPublic) {
      fail('vpcSubnets', 'must select private subnets (with egress, or isolated with VPC endpoints): the tasks get no public IP address, '
        + 'and the database bootstrap function (a Lambda function) cannot run in public subnets', 'a selection with public subnets');
    }

    const backend: ProxySqlBackendConfig = props.backend.bind(this);
    const bootstrapOn = props.bootstrap ?? true;
    if (bootstrapOn && !backend.adminSecret) {
      fail('backend', 'must carry an adminSecret while bootstrap is on (pass adminSecret to the backend factory, or set bootstrap: false and create the monitor and application users yourself)', 'a backend without adminSecret');
    }

    this.adminSecret = props.adminSecret
      ?? generatedUserSecret(this, 'AdminSecret', 'proxysql_admin', 'ProxySQL admin interface credentials');
    this.monitorSecret = props.monitorSecret
      ?? generatedUserSecret(this, 'MonitorSecret', 'proxysql_monitor', 'ProxySQL monitor user credentials');

    const budget = backendBudget(this, props, backend, maxCapacity);
    this.backendConnectionsPerServer = budget.perRow;

    // A budget of one connection per server cannot give the writer a share for fallback reads:
    // unless asked for explicitly (then the configuration refuses it), go without and say so.
    let options: ProxySqlConfigOptions = props;
    if (props.readsFallBackToWriter === undefined && budget.perRow < 2 && (backend.topology.readers ?? []).length > 0) {
      options = { ...props, readsFallBackToWriter: false };
      Annotations.of(this).addWarningV2('cdk-proxysql:readsFallBackToWriterOff',
        `Reads will not fall back to the writer when no reader can serve: the connection budget (${budget.perRow} per task and server) cannot be split between writes and reads. Lower maxCapacity, or raise databaseMaxConnections / maxConnectionsPercent; set readsFallBackToWriter: false to accept this`);
    }
    const backendCa = this.backendCertificateAuthority(backend);
    const config = new ProxySqlConfiguration({
      context: 'ProxySqlFargate',
      options,
      topology: backend.topology,
      adminSecret: this.adminSecret,
      monitorSecret: this.monitorSecret,
      defaultUsers: backend.defaultUserSecrets,
      // A token stays a token, so that the configuration can refuse to derive workerThreads from it.
      vcpus: Token.isUnresolved(cpu) ? cpu : cpu / 1024,
      memoryMiB: memoryLimitMiB,
      adminListenAddress: props.adminAccess && props.adminAccess.length > 0 ? '0.0.0.0' : '127.0.0.1',
      serverMaxConnections: budget.perRow,
      queryLogFile: props.queryLog ? `${QUERY_LOG_MOUNT}/${QUERY_LOG_BASENAME}` : undefined,
      backendCa,
    });
    refuseDatabaseAdmin(backend, this.monitorSecret, config);
    if (!bootstrapOn) {
      for (const u of config.userEntries) {
        if (u.options.privileges !== undefined) {
          fail(`${u.path}.privileges`, 'is granted by the bootstrap, which is off (bootstrap: false): grant the privileges yourself and leave this unset',
            u.options.privileges.map((p) => p.name).join(', '));
        }
      }
    }
    const rendered: RenderedConfig = config.render();
    this.trafficPort = rendered.trafficPort;
    this.restApiPort = rendered.restApiPort;
    this.facts = { hostgroups: config.hostgroups, maxClientConnections: config.maxClientConnections };

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

    // VPC, database, proxy, clients: each may live in a stack of its own. A rule between security
    // groups in two stacks goes into the stack that depends on the other (see CrossStackConnections):
    // a client's stack for client rules, this stack for the database rules.
    const upstream = (): IConstruct[] => [
      props.vpc,
      ...(props.cluster ? [props.cluster] : []),
      ...(props.adminAccess ?? []),
      ...(props.adminSecret ? [props.adminSecret] : []),
      ...(props.monitorSecret ? [props.monitorSecret] : []),
      ...(props.users ?? []).map((u) => u.secret),
      ...(backend.connections?.securityGroups ?? []),
      ...(backend.adminSecret ? [backend.adminSecret] : []),
      ...(backend.defaultUserSecrets ?? []),
      ...(backend.dependables ?? []).filter((d): d is IConstruct => Construct.isConstruct(d)),
    ];
    this.taskConnections = new CrossStackConnections({ securityGroups: [this.securityGroup] }, upstream);
    for (const [i, group] of (props.adminAccess ?? []).entries()) {
      this.taskConnections.allowFrom(group, ec2.Port.tcp(rendered.adminPort), `ProxySQL admin from adminAccess[${i}]`);
      if (this.restApiPort !== undefined) {
        this.taskConnections.allowFrom(group, ec2.Port.tcp(this.restApiPort), `ProxySQL REST API from adminAccess[${i}]`);
      }
    }
    this.connections = new CrossStackConnections({
      securityGroups: [this.loadBalancerSecurityGroup],
      defaultPort: ec2.Port.tcp(listenerPort),
    }, upstream);

    // ---- bootstrap -----------------------------------------------------------------------
    // The database's stack never depends on this one: rules into its groups are made here.
    const backendConnections = backend.connections
      ? new CrossStackConnections({ securityGroups: backend.connections.securityGroups })
      : undefined;
    if (backendConnections && backendConnections.securityGroups.length > 0) {
      backendConnections.allowFrom(this.securityGroup, ec2.Port.tcp(backend.port), 'ProxySQL tasks');
    } else {
      Annotations.of(this).addWarningV2('cdk-proxysql:backendNotOpened',
        `The backend has no security group this app can change: admit the ProxySQL tasks' security group (${this.node.path}/SecurityGroup) to the database port yourself`);
    }
    if (bootstrapOn) {
      const bootstrap = new DatabaseBootstrap(this, 'Bootstrap', {
        vpc: props.vpc,
        vpcSubnets: taskSubnets,
        writerHost: backend.writerEndpoint,
        port: backend.port,
        adminSecret: backend.adminSecret!,
        monitorSecret: this.monitorSecret,
        monitorPrivileges: monitorMode(backend.monitorPrivileges),
        users: config.userEntries.map((u) => ({
          secret: u.secret,
          // Canonical names in the template: 'select' and 'SELECT' must not look like a change.
          grants: u.options.privileges?.map((p) => normalizePrivilege(p.name)),
        })),
        dropUsersOnDelete: props.dropUsersOnDelete ?? false,
        backendConnections,
        dependencies: backend.dependables,
        tls: backend.tlsWithRdsCertificates ?? false,
        tlsCaPem: backend.serverCaPem,
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

    const image = props.image ?? ecs.ContainerImage.fromRegistry(DEFAULT_PROXYSQL_IMAGE);
    this.container = this.taskDefinition.addContainer('proxysql', {
      image,
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

    if (metricsOn) {
      // Same image, so no other pull; non-essential, so its faults never stop the task. It reads
      // the admin interface with the admin credentials (the same ECS secrets: no new permission)
      // and writes EMF to its log stream, from which CloudWatch Logs extracts the metrics.
      this.metricsContainer = this.taskDefinition.addContainer('metrics', {
        image,
        essential: false,
        command: ['sh', '-c', METRICS_SCRIPT],
        environment: {
          [ADMIN_PORT_ENV]: String(rendered.adminPort),
          [METRICS_INTERVAL_ENV]: String(this.metricsIntervalSeconds),
          [METRICS_PROXY_NAME_ENV]: this.metricsProxyName!,
          [METRICS_HOSTGROUPS_ENV]: `${this.facts.hostgroups.writer},${this.facts.hostgroups.readers}`,
        },
        secrets: { [ADMIN_USERNAME_ENV]: secrets[ADMIN_USERNAME_ENV], [ADMIN_PASSWORD_ENV]: secrets[ADMIN_PASSWORD_ENV] },
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'metrics', logGroup: this.logGroup }),
        // A hard cap, so that a fault in the sidecar cannot take ProxySQL's memory.
        memoryLimitMiB: 64,
        // It exits on SIGTERM at once; ECS stops it before ProxySQL (it depends on ProxySQL).
        stopTimeout: Duration.seconds(5),
      });
      this.metricsContainer.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.HEALTHY });
    }
    if (props.queryLog) {
      this.queryLogGroup = new logs.LogGroup(this, 'QueryLogGroup', {
        retention: props.queryLogRetention ?? logs.RetentionDays.ONE_WEEK,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      // ProxySQL writes its events log into a task volume; this container prints it to stdout and
      // deletes rotated files, so neither the task's storage nor ProxySQL depends on CloudWatch.
      this.taskDefinition.addVolume({ name: QUERY_LOG_VOLUME });
      this.container.addMountPoints({ sourceVolume: QUERY_LOG_VOLUME, containerPath: QUERY_LOG_MOUNT, readOnly: false });
      this.queryLogContainer = this.taskDefinition.addContainer('query-log', {
        image,
        essential: false,
        command: ['sh', '-c', QUERY_LOG_SCRIPT],
        environment: { [QUERY_LOG_DIR_ENV]: QUERY_LOG_MOUNT },
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'queries', logGroup: this.queryLogGroup }),
        memoryLimitMiB: 64,
        stopTimeout: Duration.seconds(5),
      });
      this.queryLogContainer.addMountPoints({ sourceVolume: QUERY_LOG_VOLUME, containerPath: QUERY_LOG_MOUNT, readOnly: false });
      this.queryLogContainer.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.START });
    }

    if (!props.image && onlyIsolated(props.vpc, selectedTaskSubnets)) {
      Annotations.of(this).addWarningV2('cdk-proxysql:imageUnreachable',
        `The tasks run in isolated subnets (no route out), where they cannot pull the default image ${DEFAULT_PROXYSQL_IMAGE} from Docker Hub: `
        + 'set image to a copy in ECR (ecs.ContainerImage.fromEcrRepository), and give the VPC interface endpoints for ECR, Secrets Manager and CloudWatch Logs');
    }
    const zones = new Set(selectedTaskSubnets.availabilityZones);
    if (!selectedTaskSubnets.isPendingLookup && zones.size < 2) {
      Annotations.of(this).addWarningV2('cdk-proxysql:singleAvailabilityZone',
        `The tasks' subnets (vpcSubnets) span ${zones.size} Availability Zone: an outage of that zone stops the proxy; select subnets in at least two zones`);
    }

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount,
      vpcSubnets: taskSubnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: MAX_HEALTHY_PERCENT,
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
      vpcSubnets: loadBalancerSubnets,
      crossZoneEnabled: true,
      securityGroups: [this.loadBalancerSecurityGroup],
    });
    this.loadBalancerSecurityGroup.connections.allowTo(this.securityGroup, ec2.Port.tcp(this.trafficPort),
      'Forward to ProxySQL tasks');

    this.listener = this.loadBalancer.addListener('Listener', {
      port: listenerPort,
      protocol: elbv2.Protocol.TCP,
      // The same value as ProxySQL's wait_timeout (validated by the configuration).
      tcpIdleTimeout: props.idleClientTimeout ?? CONFIG_DEFAULTS.idleClientTimeout,
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
      reason: 'The environment holds the ProxySQL config template with placeholders, the drain time and public CA certificates; every credential and private key is an ECS secret (Secrets Manager reference)',
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
   * What ProxySQL verifies its TLS connections to the database against: the backend's own CA, else
   * the Amazon RDS CAs of the stack's region for Aurora and RDS. None when no server uses TLS.
   */
  private backendCertificateAuthority(backend: ProxySqlBackendConfig): string | undefined {
    const servers = [backend.topology.writer, ...(backend.topology.readers ?? [])];
    if (!servers.some((s) => s.useSsl)) return undefined;
    if (backend.serverCaPem !== undefined) return backend.serverCaPem;
    if (backend.tlsWithRdsCertificates) return rdsCaCertificates(this, 'ProxySqlFargate: the backend\'s serverCaPem');
    Annotations.of(this).addWarningV2('cdk-proxysql:backendTlsUnverified',
      'ProxySQL connects to the database with TLS but cannot verify the servers\' certificates: a machine in the middle would go unnoticed. '
      + 'Pass serverCaPem (the CA that issued them) to the backend factory');
    return undefined;
  }

  /**
   * Let a peer scrape ProxySQL's Prometheus endpoint (`/metrics` on the REST API port). Needs
   * `restApi` enabled in the configuration.
   */
  public allowMetricsFrom(peer: ec2.IConnectable): void {
    if (this.restApiPort === undefined) {
      fail('restApi', 'must be enabled before allowMetricsFrom() can open its port', 'disabled');
    }
    this.taskConnections.allowFrom(peer, ec2.Port.tcp(this.restApiPort), 'ProxySQL Prometheus metrics');
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

  // ---- ProxySQL's own metrics (published by the metrics sidecar; see the README's table) -------

  /** Servers of the hostgroup that are ONLINE (`runtime_mysql_servers`; minimum over the tasks). */
  public metricServersOnline(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ServersOnline', role, props);
  }

  /** Servers of the hostgroup that are SHUNNED or OFFLINE (`runtime_mysql_servers`; maximum over the tasks). */
  public metricServersNotOnline(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ServersNotOnline', role, props);
  }

  /** Backend connections in use in the hostgroup (`stats_mysql_connection_pool.ConnUsed`; maximum over the tasks). */
  public metricBackendConnectionsUsed(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('BackendConnectionsUsed', role, props);
  }

  /** Idle pooled backend connections of the hostgroup (`stats_mysql_connection_pool.ConnFree`; minimum over the tasks). */
  public metricBackendConnectionsFree(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('BackendConnectionsFree', role, props);
  }

  /** Failed backend connection attempts (`stats_mysql_connection_pool.ConnERR` increase; sum). */
  public metricBackendConnectionErrors(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('BackendConnectionErrors', role, props);
  }

  /** Queries sent to the hostgroup's servers (`stats_mysql_connection_pool.Queries` increase; sum). */
  public metricQueriesRouted(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('QueriesRouted', role, props);
  }

  /** 1 while a server of the writer hostgroup is ONLINE, else 0 (minimum over the tasks: 0 when any task has no writer). */
  public metricWriterAvailable(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('WriterAvailable', undefined, props);
  }

  /** Failed monitor checks (connect, ping, read_only, Aurora) logged in the `monitor` schema; sum. */
  public metricMonitorCheckFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('MonitorCheckFailures', undefined, props);
  }

  /** Monitor checks refused with "Access denied" (the monitor user's password or grants); sum. */
  public metricMonitorLoginFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('MonitorLoginFailures', undefined, props);
  }

  /** Client connections open on a task (`Client_Connections_connected`; maximum over the tasks, `Sum` for the fleet). */
  public metricClientConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ClientConnectionsConnected', undefined, props);
  }

  /** Client connections opened (`Client_Connections_created` increase; sum). */
  public metricClientConnectionsCreated(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ClientConnectionsCreated', undefined, props);
  }

  /** Client connections that failed or were dropped (`Client_Connections_aborted` increase; sum). */
  public metricClientConnectionsAborted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ClientConnectionsAborted', undefined, props);
  }

  /** Statements received from clients (`stats_mysql_global.Questions` increase; sum). */
  public metricQuestions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('Questions', undefined, props);
  }

  /** Statements slower than `mysql-long_query_time` (`Slow_queries` increase; sum). */
  public metricSlowQueries(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('SlowQueries', undefined, props);
  }

  /**
   * A CloudWatch dashboard of the proxy: writer and servers per hostgroup, queries routed, backend
   * pool, client connections, monitor failures, tasks, CPU and memory (the ProxySQL widgets only
   * while `metrics` is on).
   */
  public addDashboard(options: ProxySqlDashboardOptions = {}): cloudwatch.Dashboard {
    return proxyDashboard(this, options, this.metricsProxyName !== undefined, this.facts);
  }

  /**
   * The recommended alarms, each documented in the README with its threshold: no writer, every
   * reader down, monitor cannot log in, backend pool saturated, backend connection errors, client
   * connections near the limit (those need `metrics`), and fewer than two healthy tasks.
   *
   * @returns the alarms created
   */
  public addRecommendedAlarms(options: ProxySqlAlarmOptions = {}): cloudwatch.Alarm[] {
    return recommendedAlarms(this, options, this.metricsProxyName !== undefined, this.facts, this.minCapacity);
  }

  private proxySqlMetric(name: string, role: HostgroupRole | undefined, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const spec = metricSpec(name);
    if (this.metricsProxyName === undefined) {
      fail('metrics', `must be on for the ProxySQL metric ${name} (the metrics sidecar publishes it)`, false);
    }
    if (spec.perRole && role === undefined) fail('role', `must be given for ${name} (it is published per hostgroup role)`, role);
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: {
        [PROXY_NAME_DIMENSION]: this.metricsProxyName,
        ...(spec.perRole ? { [ROLE_DIMENSION]: role! } : {}),
      },
      statistic: spec.statistic,
      // A period shorter than the interval would have empty points between samples.
      period: Duration.seconds(Math.max(60, Math.ceil(this.metricsIntervalSeconds / 60) * 60)),
      ...props,
    });
  }
}

/** The task volume ProxySQL writes its events log into, and where both containers mount it. */
const QUERY_LOG_VOLUME = 'query-log';
const QUERY_LOG_MOUNT = '/var/log/proxysql-queries';

/** Seconds between metric samples: whole seconds, 10–300, not a token. */
function metricsInterval(props: ProxySqlFargateProps): number {
  const interval = props.metricsInterval ?? Duration.minutes(1);
  if (interval.isUnresolved()) {
    throw new Error('ProxySqlFargate: metricsInterval must be a concrete duration, not a token: the metric helpers\' periods are computed from it at synth time (got a token)');
  }
  const seconds = interval.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 300) {
    fail('metricsInterval', 'must be whole seconds from 10 to 300', `${seconds} s`);
  }
  return seconds;
}

/** The `ProxyName` dimension's value: the prop, or the construct's path. */
function metricsProxyName(props: ProxySqlFargateProps, path: string): string {
  const name = props.metricsProxyName ?? path;
  if (Token.isUnresolved(name)) return name;
  if (name.length < 1 || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name) || name.trim() === '') {
    fail('metricsProxyName', 'must be 1–255 characters, not only spaces, without control characters (a CloudWatch dimension value)', name);
  }
  return name;
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

/** A deployment starts the new tasks before it stops the old ones (the connection budget counts them). */
const MAX_HEALTHY_PERCENT = 200;
/** What the budget assumes when nobody says what the database accepts: below MySQL's own default of 151. */
const ASSUMED_DATABASE_MAX_CONNECTIONS = 100;

function backendBudget(scope: Construct, props: ProxySqlFargateProps, backend: ProxySqlBackendConfig, maxCapacity: number): ConnectionBudget {
  const percent = props.maxConnectionsPercent ?? 90;
  if (Token.isUnresolved(percent)) fail('maxConnectionsPercent', 'must be a literal number (the connection budget is divided at synth)', 'a token');
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) fail('maxConnectionsPercent', 'must be a whole number from 1 to 100', percent);
  if (Token.isUnresolved(maxCapacity)) {
    fail('maxCapacity', 'must be a literal number: the connection budget divides the database\'s connections among the tasks at synth', 'a token');
  }
  let databaseMaxConnections = backend.databaseMaxConnections;
  if (databaseMaxConnections === undefined) {
    databaseMaxConnections = ASSUMED_DATABASE_MAX_CONNECTIONS;
    Annotations.of(scope).addWarningV2('cdk-proxysql:databaseMaxConnectionsUnknown',
      `The backend does not say how many connections the database accepts: the connection budget assumes ${ASSUMED_DATABASE_MAX_CONNECTIONS} per server. Pass databaseMaxConnections to the backend factory (the database's max_connections)`);
  }
  const writerIsAlsoReader = backend.topology.auroraDiscovery?.writerIsAlsoReader ?? props.writerIsAlsoReader ?? false;
  const maxTasks = Math.ceil((maxCapacity * MAX_HEALTHY_PERCENT) / 100);
  const budget = connectionBudget({
    databaseMaxConnections,
    maxConnectionsPercent: percent,
    maxTasks,
    rowsPerServer: writerIsAlsoReader ? 2 : 1,
  });
  if (typeof budget === 'string') {
    fail('maxCapacity', `is too large for the database: the connection budget ${budget}; lower maxCapacity, or raise databaseMaxConnections / maxConnectionsPercent`, maxCapacity);
  }
  return budget;
}

/**
 * Numbers the construct computes with at synth time cannot wait for CloudFormation: a token there
 * would turn into a wrong value without a word (Math.max(6, token) is 6), so it is refused by name.
 * The configuration refuses `cpu` and `memoryLimitMiB` tokens the same way.
 */
function refuseDerivingFromTokens(props: ProxySqlFargateProps, minCapacity: number, drainTime: Duration): void {
  const token = (prop: string, rule: string) => {
    throw new Error(`ProxySqlFargate: ${prop} ${rule} (got a token)`);
  };
  if (props.maxCapacity === undefined && Token.isUnresolved(minCapacity)) {
    token(props.minCapacity !== undefined ? 'minCapacity' : 'desiredCount',
      'may be a token only when maxCapacity is given: the default maxCapacity (3 × minCapacity, at least 6) is computed from it at synth time');
  }
  if (drainTime.isUnresolved()) {
    token('drainTime', 'must be a concrete duration, not a token: the container\'s stop timeout (drainTime + 10 s, at most 120 s) and the 110 s limit are computed at synth time');
  }
}

function monitorMode(privileges: MonitorPrivileges): MonitorPrivilegeMode {
  switch (privileges) {
    case MonitorPrivileges.AURORA: return 'aurora';
    case MonitorPrivileges.REPLICATION: return 'replication';
    default: return 'basic';
  }
}
