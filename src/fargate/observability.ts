/**
 * The dashboard and the recommended alarms of `ProxySqlFargate`, built only from its public metric
 * helpers (so every metric they show is one the metrics sidecar publishes: see
 * `config/metrics.ts`), and the metric those helpers return. Thresholds and why are in
 * docs/observability.md.
 */
import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct, IConstruct } from 'constructs';
import type { HostgroupFacts } from '../config/configuration';
import { HostgroupRole, METRICS_NAMESPACE, metricSpec, PROXY_NAME_DIMENSION, ROLE_DIMENSION } from '../config/metrics';
import type { ProxySqlAlarmOptions, ProxySqlDashboardOptions } from '../observability-options';
import { fail } from './validation';

/** What the configuration knows and the alarms need. */
export interface ObservabilityFacts {
  readonly hostgroups: HostgroupFacts;
  /** `mysql-max_connections` of one task (may be a token). */
  readonly maxClientConnections: number;
}

/** The metric helpers of `ProxySqlFargate` the dashboard and the alarms read. */
export interface ObservedProxy extends IConstruct {
  metricActiveConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricNewConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricHealthyTaskCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricUnhealthyTaskCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricServersOnline(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricServersNotOnline(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricBackendConnectionsUsed(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricBackendConnectionsLimit(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricBackendConnectionsFree(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricBackendConnectionErrors(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricQueriesRouted(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricSessionsPinned(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientsWaitingForConnection(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricConnectionWaitMaxMs(role: HostgroupRole, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricConnectTimeouts(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricWriterAvailable(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricMonitorCheckFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricMonitorLoginFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientConnectionsCreated(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientConnectionsAborted(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricQuestions(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricSlowQueries(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** Where the metrics sidecar publishes: undefined `proxyName` when `metrics` is off. */
export interface MetricsSource {
  readonly proxyName?: string;
  /** Seconds between two samples. */
  readonly intervalSeconds: number;
}

/** One metric of the catalog (`config/metrics.ts`) as the metrics sidecar publishes it. */
export function proxySqlMetric(
  source: MetricsSource, name: string, role: HostgroupRole | undefined, props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  const spec = metricSpec(name);
  if (source.proxyName === undefined) {
    fail('metrics', `must be on for the ProxySQL metric ${name} (the metrics sidecar publishes it)`, false);
  }
  if (spec.perRole && role === undefined) fail('role', `must be given for ${name} (it is published per hostgroup role)`, role);
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: {
      [PROXY_NAME_DIMENSION]: source.proxyName,
      ...(spec.perRole ? { [ROLE_DIMENSION]: role! } : {}),
    },
    statistic: spec.statistic,
    // A period shorter than the interval would have empty points between samples.
    period: Duration.seconds(Math.max(60, Math.ceil(source.intervalSeconds / 60) * 60)),
    ...props,
  });
}

/** The scope and construct id of something the proxy adds: in the proxy, or named after it elsewhere. */
function placed(proxy: ObservedProxy, scope: Construct | undefined, id: string): [Construct, string] {
  return !scope || scope === proxy ? [proxy, id] : [scope, `${proxy.node.id}${id}`];
}

const ROLES: Array<[HostgroupRole, string]> = [[HostgroupRole.WRITER, 'Writer'], [HostgroupRole.READERS, 'Readers']];

function percent(prop: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (Token.isUnresolved(v)) throw new Error(`ProxySqlFargate.addRecommendedAlarms: ${prop} must be a literal number: the threshold is computed at synth (got a token)`);
  if (!(v >= 1 && v <= 100)) throw new Error(`ProxySqlFargate.addRecommendedAlarms: ${prop} must be a percentage from 1 to 100 (got ${v})`);
  return v;
}

export function recommendedAlarms(
  proxy: ObservedProxy, options: ProxySqlAlarmOptions, metricsOn: boolean, facts: ObservabilityFacts, minCapacity: number,
): cloudwatch.Alarm[] {
  const clientPercent = percent('clientConnectionsPercent', options.clientConnectionsPercent, 80);
  const poolPercent = percent('backendPoolPercent', options.backendPoolPercent, 90);
  const alarms: cloudwatch.Alarm[] = [];
  const add = (id: string, props: cloudwatch.AlarmProps) => {
    const alarm = new cloudwatch.Alarm(...placed(proxy, options.scope, id), props);
    for (const action of options.alarmActions ?? []) {
      alarm.addAlarmAction(action);
      if (options.notifyOnOk) alarm.addOkAction(action);
    }
    alarms.push(alarm);
  };
  const hg = facts.hostgroups;
  if (metricsOn) {
    add('NoWriterAlarm', {
      alarmDescription: 'A ProxySQL task has had no ONLINE server in its writer hostgroup for 2 minutes: writes fail. '
        + 'A failover normally settles within a minute; check the database and the monitor user.',
      metric: proxy.metricWriterAvailable(),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (hg.hasReaders) {
      add('NoReaderAlarm', {
        alarmDescription: 'No ProxySQL task has had an ONLINE replica in its reader hostgroup for 2 minutes'
          + (hg.writerRowsInReaders > 0 ? ' (the writer, listed there for fallback reads, does not count): reads fall back to the writer.' : ': plain reads fail.'),
        metric: proxy.metricServersOnline(HostgroupRole.READERS, { statistic: 'Maximum' }),
        threshold: hg.writerRowsInReaders,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    add('MonitorLoginAlarm', {
      alarmDescription: 'The ProxySQL monitor user is refused ("Access denied") for 2 minutes: ProxySQL will take every server for read-only and writes fail. '
        + 'Check the monitor secret against the database user (redeploy to re-run the bootstrap).',
      metric: proxy.metricMonitorLoginFailures(),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const [role, label] of ROLES) {
      if (role === HostgroupRole.READERS && !hg.hasReaders) continue;
      // The share follows the tasks running (fleet-share.sh), so the alarm compares what is used
      // with what the task may use now: the largest use over the tasks against the smallest share.
      const used = proxy.metricBackendConnectionsUsed(role);
      add(`${label}PoolSaturatedAlarm`, {
        alarmDescription: `A ProxySQL task has used at least ${poolPercent} % of the backend connections it may open to the ${role} hostgroup for 3 minutes: `
          + 'clients queue for a connection, and time out after borrowTimeout. More tasks do not help (they share the same budget): raise the backend\'s databaseMaxConnections '
          + 'to what the database really accepts, or maxConnectionsPercent.',
        metric: new cloudwatch.MathExpression({
          expression: 'IF(limit > 0, 100 * used / limit, 0)',
          usingMetrics: { used, limit: proxy.metricBackendConnectionsLimit(role) },
          label: `${label} backend connections used (% of the task's share)`,
          period: used.period,
        }),
        threshold: poolPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    add('BackendConnectionErrorsAlarm', {
      alarmDescription: 'ProxySQL failed to open 10 or more backend connections a minute for 3 minutes (all tasks, both hostgroups): '
        + 'the database refuses connections (max_connections, credentials) or is unreachable.',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(w, 0) + FILL(r, 0)',
        usingMetrics: {
          w: proxy.metricBackendConnectionErrors(HostgroupRole.WRITER),
          r: proxy.metricBackendConnectionErrors(HostgroupRole.READERS),
        },
        label: 'Backend connection errors',
        period: proxy.metricBackendConnectionErrors(HostgroupRole.WRITER).period,
      }),
      threshold: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    add('ConnectTimeoutsAlarm', {
      alarmDescription: 'Statements failed on a ProxySQL task after waiting borrowTimeout for a backend connection ("Max connect timeout reached"): '
        + 'the task\'s share of the database\'s connections is too small for the clients, or idle sessions pin connections (see SessionsPinned and '
        + 'ClientsWaitingForConnection on the dashboard). Raise databaseMaxConnections (to what the database accepts) or maxConnectionsPercent, '
        + 'make pinning rarer (the multiplexing variables), or, with no writer, check the database.',
      metric: proxy.metricConnectTimeouts(),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (!Token.isUnresolved(facts.maxClientConnections)) {
      const threshold = Math.max(1, Math.ceil((facts.maxClientConnections * clientPercent) / 100));
      add('ClientConnectionsAlarm', {
        alarmDescription: `A ProxySQL task has held at least ${threshold} client connections (${clientPercent} % of its ${facts.maxClientConnections}) for 3 minutes: `
          + 'beyond the limit ProxySQL refuses clients. Raise minCapacity or memoryLimitMiB, or find the client that leaks connections.',
        metric: proxy.metricClientConnections(),
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
  }
  const minTasks = Token.isUnresolved(minCapacity) ? 2 : Math.min(2, minCapacity);
  add('HealthyTasksAlarm', {
    alarmDescription: `Fewer than ${minTasks} ProxySQL tasks have been healthy behind the load balancer for 3 minutes: one more failure (a task, an Availability Zone) stops the proxy.`,
    metric: proxy.metricHealthyTaskCount(),
    threshold: minTasks,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  return alarms;
}

export function proxyDashboard(
  proxy: ObservedProxy, options: ProxySqlDashboardOptions, metricsOn: boolean, facts: ObservabilityFacts,
): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(...placed(proxy, options.scope, 'Dashboard'), {
    dashboardName: options.dashboardName,
    start: options.start ?? '-PT3H',
  });
  const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
    new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
  // One metric per hostgroup role the proxy has (the writer only, without readers).
  const roles = (f: (role: HostgroupRole, props: cloudwatch.MetricOptions) => cloudwatch.IMetric) =>
    ROLES.filter(([role]) => facts.hostgroups.hasReaders || role === HostgroupRole.WRITER).map(([role, label]) => f(role, { label }));
  let clients: cloudwatch.GraphWidget;
  if (metricsOn) {
    dashboard.addWidgets(
      graph('Writer available (0 = no writer on some task)', [proxy.metricWriterAvailable({ label: 'Writer available (min over tasks)' })]),
      graph('Servers ONLINE / not ONLINE', roles((r, p) => proxy.metricServersOnline(r, p)),
        roles((r, p) => proxy.metricServersNotOnline(r, { ...p, label: `${p.label} not ONLINE` }))),
      graph('Queries routed per hostgroup', roles((r, p) => proxy.metricQueriesRouted(r, p)),
        [proxy.metricQuestions({ label: 'Statements from clients' }), proxy.metricSlowQueries({ label: 'Slow statements' })]),
    );
    dashboard.addWidgets(
      graph('Backend connections used (max per task), and the share a task may use', [
        ...roles((r, p) => proxy.metricBackendConnectionsUsed(r, p)),
        ...roles((r, p) => proxy.metricBackendConnectionsLimit(r, { ...p, label: `${p.label} share (min per task)` })),
      ], roles((r, p) => proxy.metricBackendConnectionsFree(r, { ...p, label: `${p.label} free` }))),
      graph('Backend connection errors', roles((r, p) => proxy.metricBackendConnectionErrors(r, p))),
      graph('Monitor failures', [proxy.metricMonitorCheckFailures({ label: 'Failed checks' }), proxy.metricMonitorLoginFailures({ label: 'Access denied' })]),
    );
    dashboard.addWidgets(
      graph('Backend connections pinned by idle sessions (max per task)', roles((r, p) => proxy.metricSessionsPinned(r, p))),
      graph('Statements waiting for a backend connection (max per task)', roles((r, p) => proxy.metricClientsWaitingForConnection(r, p)),
        roles((r, p) => proxy.metricConnectionWaitMaxMs(r, { ...p, label: `${p.label} longest wait (ms)` }))),
      graph('Statements failed after borrowTimeout', [proxy.metricConnectTimeouts({ label: 'Max connect timeouts' })]),
    );
    clients = graph('Client connections', [
      proxy.metricClientConnections({ label: 'Open (all tasks)', statistic: 'Sum' }),
      proxy.metricActiveConnections({ label: 'Through the load balancer' }),
    ], [
      proxy.metricClientConnectionsCreated({ label: 'Opened' }),
      proxy.metricClientConnectionsAborted({ label: 'Aborted' }),
    ]);
  } else {
    clients = graph('Client connections', [proxy.metricActiveConnections({ label: 'Open' })], [proxy.metricNewConnections({ label: 'New' })]);
  }
  dashboard.addWidgets(
    clients,
    graph('Tasks', [proxy.metricHealthyTaskCount({ label: 'Healthy' }), proxy.metricUnhealthyTaskCount({ label: 'Unhealthy' })]),
    graph('CPU and memory (%)', [proxy.metricCpuUtilization({ label: 'CPU' }), proxy.metricMemoryUtilization({ label: 'Memory' })]),
  );
  return dashboard;
}
