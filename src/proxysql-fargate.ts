import { CustomResource, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { HostgroupRole } from './config/metrics';
import { IProxySqlEndpointProvider, IProxySqlLoadBalancerProvider, ProxySqlEndpoint } from './endpoint';
import { bootstrapDatabase } from './fargate/bootstrap';
import { proxyConfiguration } from './fargate/configuration';
import { proxyLoadBalancer } from './fargate/load-balancer';
import { checkMonitorRotation, monitorSecret, monitorSecretRotation } from './fargate/monitor-rotation';
import { suppressProxyNag } from './fargate/nag';
import { proxyNetwork } from './fargate/network';
import { ObservabilityFacts, proxyDashboard, proxySqlMetric, recommendedAlarms } from './fargate/observability';
import { registerWithRotationGates } from './fargate/rotation-gates';
import { proxyCluster, proxyService } from './fargate/service';
import { proxyTask } from './fargate/task';
import { credentialsInterval, fail, metricsInterval, metricsProxyName, proxySubnets, requireBootstrapAdmin, sizing } from './fargate/validation';
import { ProxySqlAlarmOptions, ProxySqlDashboardOptions } from './observability-options';
import { CrossStackConnections } from './private/cross-stack-connections';
import { generatedUserSecret } from './private/secrets';
import { ProxySqlFargateProps } from './proxysql-fargate-props';

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
  /** The monitor secret's rotation (undefined without `monitorRotation`). */
  public readonly monitorRotation?: secretsmanager.SecretRotation;
  /**
   * Backend connections one task may open to one database server (ProxySQL `max_connections` of
   * each hostgroup row) when the most tasks run: the static share of the connection budget, which a
   * task uses until it has counted the running tasks (then it takes the larger share for that count)
   * and whenever it cannot count them. All tasks together, during a deployment too, stay within
   * `maxConnectionsPercent` of the database's `max_connections`.
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
  /** The sidecar that follows rotated user and monitor secrets (undefined with `liveCredentials: false`). */
  public readonly credentialsContainer?: ecs.ContainerDefinition;
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
    // The order of the steps matters: each adds its constructs to this one, and the order of
    // children is the order of the template's resources.
    const size = sizing(props);
    this.minCapacity = size.minCapacity;
    this.metricsIntervalSeconds = metricsInterval(props);
    if (props.metrics ?? true) this.metricsProxyName = metricsProxyName(props, this.node.path);
    const subnets = proxySubnets(props);
    const backend = props.backend.bind(this);
    const bootstrapOn = props.bootstrap ?? true;
    requireBootstrapAdmin(backend, bootstrapOn);
    checkMonitorRotation(props);

    this.adminSecret = props.adminSecret
      ?? generatedUserSecret(this, 'AdminSecret', 'proxysql_admin', 'ProxySQL admin interface credentials');
    this.monitorSecret = props.monitorSecret ?? monitorSecret(this, props, { backend });

    const { budget, config, rendered, facts } = proxyConfiguration(this, props, {
      backend, sizing: size, adminSecret: this.adminSecret, monitorSecret: this.monitorSecret, bootstrapOn,
    });
    this.backendConnectionsPerServer = budget.perRow;
    this.trafficPort = rendered.trafficPort;
    this.restApiPort = rendered.restApiPort;
    this.facts = facts;

    const network = proxyNetwork(this, props, { backend, rendered, listenerPort: size.listenerPort });
    this.loadBalancerSecurityGroup = network.loadBalancerSecurityGroup;
    this.securityGroup = network.securityGroup;
    this.taskConnections = network.taskConnections;
    this.connections = network.connections;

    if (bootstrapOn) {
      this.bootstrapResource = bootstrapDatabase(this, props, {
        backend, config, monitorSecret: this.monitorSecret, subnets: subnets.tasks, backendConnections: network.backendConnections,
      });
    }
    this.monitorRotation = monitorSecretRotation(this, props, {
      backend, secret: this.monitorSecret, taskSubnets: subnets.tasks, backendConnections: network.backendConnections,
    });

    this.cluster = proxyCluster(this, props);
    const credentialsIntervalSeconds = credentialsInterval(props);
    const task = proxyTask(this, props, {
      sizing: size,
      rendered,
      hostgroups: facts.hostgroups,
      metricsProxyName: this.metricsProxyName,
      metricsIntervalSeconds: this.metricsIntervalSeconds,
      credentialsIntervalSeconds,
    });
    this.taskDefinition = task.taskDefinition;
    this.logGroup = task.logGroup;
    this.container = task.container;
    this.metricsContainer = task.metricsContainer;
    this.queryLogGroup = task.queryLogGroup;
    this.queryLogContainer = task.queryLogContainer;
    this.credentialsContainer = task.credentialsContainer;

    this.service = proxyService(this, props, {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      securityGroup: this.securityGroup,
      subnets,
      sizing: size,
      bootstrapResource: this.bootstrapResource,
    });

    const lb = proxyLoadBalancer(this, props, {
      service: this.service,
      loadBalancerSecurityGroup: this.loadBalancerSecurityGroup,
      securityGroup: this.securityGroup,
      subnets,
      sizing: size,
      trafficPort: this.trafficPort,
    });
    this.loadBalancer = lb.loadBalancer;
    this.listener = lb.listener;
    this.targetGroup = lb.targetGroup;
    this.endpoint = lb.endpoint;

    registerWithRotationGates(this, props, {
      userSecrets: config.userSecrets,
      endpoint: this.endpoint,
      refreshSeconds: credentialsIntervalSeconds,
      connections: this.connections,
      after: this.service,
    });

    suppressProxyNag(this, props);
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

  // ---- ProxySQL's own metrics (published by the metrics sidecar; see docs/observability.md) -------

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

  /**
   * Backend connections the task may open to the hostgroup now (the `max_connections` of its ONLINE
   * rows: the task's share of the connection budget, which follows the tasks running; minimum over the tasks).
   */
  public metricBackendConnectionsLimit(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('BackendConnectionsLimit', role, props);
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

  /**
   * Backend connections of the hostgroup held by idle client sessions (`stats_mysql_processlist`:
   * an open transaction, a user variable, an auto-increment INSERT, ...; RDS Proxy's
   * DatabaseConnectionsCurrentlySessionPinned; maximum over the tasks).
   */
  public metricSessionsPinned(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('SessionsPinned', role, props);
  }

  /** Statements waiting for a backend connection of the hostgroup (`stats_mysql_processlist` command Connect; maximum over the tasks). */
  public metricClientsWaitingForConnection(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ClientsWaitingForConnection', role, props);
  }

  /** The longest wait for a backend connection of the hostgroup at the sample, in milliseconds (maximum over the tasks). */
  public metricConnectionWaitMaxMs(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ConnectionWaitMaxMs', role, props);
  }

  /** Statements that failed after waiting `borrowTimeout` for a backend connection (`max_connect_timeouts` increase; sum). */
  public metricConnectTimeouts(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.proxySqlMetric('ConnectTimeouts', undefined, props);
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
   * pool, pinned sessions and clients waiting for a connection, client connections, monitor failures, tasks, CPU and memory (the ProxySQL widgets only
   * while `metrics` is on).
   */
  public addDashboard(options: ProxySqlDashboardOptions = {}): cloudwatch.Dashboard {
    return proxyDashboard(this, options, this.metricsProxyName !== undefined, this.facts);
  }

  /**
   * The recommended alarms, each documented in docs/observability.md with its threshold: no writer, every
   * reader down, monitor cannot log in, backend pool saturated, backend connection errors,
   * statements failed after borrowTimeout, client connections near the limit (those need `metrics`), and fewer than two healthy tasks.
   *
   * @returns the alarms created
   */
  public addRecommendedAlarms(options: ProxySqlAlarmOptions = {}): cloudwatch.Alarm[] {
    return recommendedAlarms(this, options, this.metricsProxyName !== undefined, this.facts, this.minCapacity);
  }

  private proxySqlMetric(name: string, role: HostgroupRole | undefined, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return proxySqlMetric({ proxyName: this.metricsProxyName, intervalSeconds: this.metricsIntervalSeconds }, name, role, props);
  }
}
