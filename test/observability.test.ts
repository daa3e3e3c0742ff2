import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { HostgroupRole, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps } from '../src';
import { CfnValue, evaluateCfn } from './fixtures/cfn-eval';
import { METRICS, METRICS_NAMESPACE } from '../src/config/metrics';
import { METRICS_PROGRAM, METRICS_SCRIPT, QUERY_LOG_SCRIPT } from '../src/config/metrics-script';

/** A proxy in front of plain endpoints (a writer and two readers: every alarm applies). */
function proxyWith(extra: Partial<ProxySqlFargateProps> = {}, stackId = 'Test') {
  const stack = new Stack(new App(), stackId);
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const backend = ProxySqlBackend.fromEndpoints({
    writer: { host: 'primary.example', port: 3306 },
    readers: [{ host: 'replica1.example', port: 3306 }, { host: 'replica2.example', port: 3306 }],
    adminSecret: new secretsmanager.Secret(stack, 'DbAdmin'),
    appUserSecrets: [new secretsmanager.Secret(stack, 'App')],
    databaseMaxConnections: 1000,
  });
  const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend, ...extra });
  return { stack, proxy, template: () => Template.fromStack(stack) };
}

type Container = {
  Name: string;
  Essential?: boolean;
  Environment?: Array<{ Name: string; Value: CfnValue }>;
  Secrets?: Array<{ Name: string }>;
  DependsOn?: unknown[];
  MountPoints?: unknown[];
  Image: unknown;
  Command: string[];
  Memory?: number;
};

function containers(template: Template): Container[] {
  const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return td.Properties.ContainerDefinitions as Container[];
}
function container(template: Template, name: string): Container | undefined {
  return containers(template).find((c) => c.Name === name);
}
function env(c: Container, name: string): CfnValue | undefined {
  return c.Environment?.find((e) => e.Name === name)?.Value;
}

/** Every IAM statement of the stack, as JSON text per policy resource. */
function iamStatements(template: Template): string[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((p) => (p.Properties.PolicyDocument.Statement as unknown[]).map((st) => JSON.stringify(st))).sort();
}

/** A metric as CloudWatch identifies it. */
const key = (namespace: string, name: string, dims: Record<string, string>) =>
  `${namespace} ${name} ${Object.entries(dims).sort().map(([k, v]) => `${k}=${v}`).join(',')}`;

/**
 * What the sidecar's program prints, run with a `mysql` on PATH that answers a canned sample: two
 * samples (the first has gauges only), each line parsed. The file itself runs, with its inputs in
 * its environment, or (`asShipped`) the container command.
 */
function emittedByTheScript(proxyName: string, asShipped = false): Set<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-proxysql-emf-'));
  try {
    const sample = [
      'srv\t10\tONLINE\t1', 'srv\t20\tONLINE\t2', 'srv\t20\tSHUNNED\t1',
      'pool\t10\tprimary.example:3306\t1\t2\t0\t100', 'pool\t20\treplica1.example:3306\t0\t3\t1\t50',
      'proc\t10\t2\t3\t1500', 'proc\t20\t1\t0\t0',
      'global\tClient_Connections_connected\t4', 'global\tClient_Connections_created\t9', 'global\tClient_Connections_aborted\t0',
      'global\tQuestions\t150', 'global\tmax_connect_timeouts\t1', 'global\tSlow_queries\t0', 'mon\t2\t1\t1795904474000000',
    ].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'sample'), sample);
    fs.writeFileSync(path.join(dir, 'mysql'), `#!/bin/sh\ncat ${path.join(dir, 'sample')}\n`, { mode: 0o755 });
    const out = execFileSync('timeout', ['2.5', 'sh', ...(asShipped ? ['-c', METRICS_SCRIPT] : [METRICS_PROGRAM.file])], {
      encoding: 'utf8',
      env: {
        ...(asShipped ? {} : METRICS_PROGRAM.inputs),
        PATH: `${dir}:/usr/bin:/bin`,
        PROXYSQL_SECRET_ADMIN_USERNAME: 'u',
        PROXYSQL_SECRET_ADMIN_PASSWORD: 'p',
        PROXYSQL_METRICS_INTERVAL_SECONDS: '1',
        PROXYSQL_METRICS_PROXY_NAME: proxyName,
        PROXYSQL_METRICS_HOSTGROUPS: '10,20',
      },
    }).toString();
    expect(out).toBe('unreachable'); // timeout exits 124: execFileSync throws with the output
    return new Set();
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '');
    const keys = new Set<string>();
    for (const line of out.split('\n').filter((l) => l !== '')) {
      const doc = JSON.parse(line);
      for (const d of doc._aws.CloudWatchMetrics) {
        for (const set of d.Dimensions as string[][]) {
          for (const m of d.Metrics) keys.add(key(d.Namespace, m.Name, Object.fromEntries(set.map((n) => [n, doc[n]]))));
        }
      }
    }
    return keys;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The ProxySQL metrics of every `metricXxx()` helper (each role where it takes one). */
function helperMetrics(proxy: ProxySqlFargate): Set<string> {
  const keys = new Set<string>();
  const proto = ProxySqlFargate.prototype as unknown as Record<string, (...args: unknown[]) => cloudwatch.Metric>;
  for (const name of Object.getOwnPropertyNames(ProxySqlFargate.prototype).filter((n) => /^metric[A-Z]/.test(n))) {
    const calls = proto[name].length >= 2 ? [HostgroupRole.WRITER, HostgroupRole.READERS].map((r) => [r]) : [[]];
    for (const args of calls) {
      const m = proto[name].apply(proxy, args);
      if (m.namespace === METRICS_NAMESPACE) keys.add(key(m.namespace, m.metricName, m.dimensions as Record<string, string>));
    }
  }
  return keys;
}

/** The ProxySQL metrics the template's dashboards and alarms reference. */
function referencedMetrics(template: Template): { dashboard: Set<string>; alarms: Set<string> } {
  // Full names are split on '/': any value with enough parts will do.
  const resolve = () => 'x/x/x/x/x';
  const dashboard = new Set<string>();
  for (const d of Object.values(template.findResources('AWS::CloudWatch::Dashboard'))) {
    const body = JSON.parse(String(evaluateCfn(d.Properties.DashboardBody, resolve)));
    for (const w of body.widgets) {
      for (const row of (w.properties.metrics ?? []) as unknown[][]) {
        const parts = row.filter((p) => typeof p === 'string') as string[];
        if (parts[0] !== METRICS_NAMESPACE) continue;
        const dims: Record<string, string> = {};
        for (let i = 2; i + 1 < parts.length; i += 2) dims[parts[i]] = parts[i + 1];
        dashboard.add(key(parts[0], parts[1], dims));
      }
    }
  }
  const alarms = new Set<string>();
  const add = (m: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: string }> }) => {
    if (m.Namespace !== METRICS_NAMESPACE) return;
    alarms.add(key(m.Namespace, m.MetricName, Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value]))));
  };
  for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
    if (a.Properties.MetricName) add(a.Properties);
    for (const q of a.Properties.Metrics ?? []) if (q.MetricStat) add(q.MetricStat.Metric);
  }
  return { dashboard, alarms };
}

describe('ProxySqlFargate metrics sidecar', () => {
  test('GIVEN defaults THEN a non-essential sidecar of the same image runs the metrics script with the admin secret, after ProxySQL is healthy', () => {
    const t = proxyWith().template();
    const proxysql = container(t, 'proxysql')!;
    const metrics = container(t, 'metrics')!;
    expect(metrics.Essential).toBe(false);
    expect(metrics.Image).toEqual(proxysql.Image);
    expect(metrics.Command).toEqual(['sh', '-c', METRICS_SCRIPT]);
    expect(metrics.Secrets!.map((s) => s.Name).sort()).toEqual(['PROXYSQL_SECRET_ADMIN_PASSWORD', 'PROXYSQL_SECRET_ADMIN_USERNAME']);
    expect(metrics.DependsOn).toEqual([{ ContainerName: 'proxysql', Condition: 'HEALTHY' }]);
    expect(env(metrics, 'PROXYSQL_METRICS_INTERVAL_SECONDS')).toBe('60');
    expect(env(metrics, 'PROXYSQL_METRICS_PROXY_NAME')).toBe('Test/Proxy');
    expect(env(metrics, 'PROXYSQL_METRICS_HOSTGROUPS')).toBe('10,20');
    expect(env(metrics, 'PROXYSQL_ADMIN_PORT')).toBe('6032');
    expect(metrics.Memory).toBe(64);
  });

  test('the sidecar adds no IAM statement: the stack\'s policies are the same with metrics on and off', () => {
    const on = proxyWith().template();
    const off = proxyWith({ metrics: false }).template();
    expect(iamStatements(on)).toEqual(iamStatements(off));
    expect(JSON.stringify(iamStatements(on))).not.toMatch(/PutMetricData/);
  });

  test('metrics: false removes the sidecar, and a ProxySQL metric helper then says which prop to set', () => {
    const { proxy, template } = proxyWith({ metrics: false });
    expect(containers(template()).map((c) => c.Name)).toEqual(['proxysql', 'credentials']);
    expect(() => proxy.metricWriterAvailable()).toThrow(/metrics must be on for the ProxySQL metric WriterAvailable/);
    // The load balancer's and the service's metrics stay.
    expect(proxy.metricHealthyTaskCount().namespace).toBe('AWS/NetworkELB');
  });

  test.each([
    [Duration.seconds(5), /metricsInterval must be whole seconds from 10 to 300 \(got 5 s\)/],
    [Duration.minutes(6), /metricsInterval must be whole seconds from 10 to 300 \(got 360 s\)/],
    [Duration.millis(10_500), /metricsInterval must be whole seconds from 10 to 300 \(got 10.5 s\)/],
  ])('metricsInterval %p is refused naming the prop, the rule and the value', (metricsInterval, message) => {
    expect(() => proxyWith({ metricsInterval })).toThrow(message);
  });

  test('a metricsInterval token is refused by name (the helpers\' periods are computed from it)', () => {
    const stack = new Stack(new App(), 'Tok');
    const seconds = new CfnParameter(stack, 'Seconds', { type: 'Number' }).valueAsNumber;
    expect(() => proxyWith({ metricsInterval: Duration.seconds(seconds) })).toThrow(/metricsInterval must be a concrete duration, not a token.*\(got a token\)/);
  });

  test('metricsInterval and metricsProxyName reach the sidecar and the helpers (a period of whole minutes)', () => {
    const { proxy, template } = proxyWith({ metricsInterval: Duration.seconds(90), metricsProxyName: 'orders-proxy' });
    const metrics = container(template(), 'metrics')!;
    expect(env(metrics, 'PROXYSQL_METRICS_INTERVAL_SECONDS')).toBe('90');
    expect(env(metrics, 'PROXYSQL_METRICS_PROXY_NAME')).toBe('orders-proxy');
    const m = proxy.metricQueriesRouted(HostgroupRole.READERS);
    expect(m.dimensions).toEqual({ ProxyName: 'orders-proxy', Role: 'readers' });
    expect(m.period.toSeconds()).toBe(120);
    expect(m.statistic).toBe('Sum');
    expect(proxy.metricQueriesRouted(HostgroupRole.WRITER, { period: Duration.minutes(5), statistic: 'Average' }).period.toSeconds()).toBe(300);
  });

  test.each(['', '   ', 'a\nb', 'x'.repeat(256)])('metricsProxyName %p is refused naming the prop', (metricsProxyName) => {
    expect(() => proxyWith({ metricsProxyName })).toThrow(/metricsProxyName must be 1–255 characters/);
  });

  test('every metric the sidecar prints has a helper, and every ProxySQL metric a helper, the dashboard or an alarm uses is one the sidecar prints', () => {
    const { proxy, template } = proxyWith();
    proxy.addDashboard();
    proxy.addRecommendedAlarms();
    const emitted = emittedByTheScript('Test/Proxy');
    // The container command prints the same metrics as the file it is made of.
    expect([...emittedByTheScript('Test/Proxy', true)].sort()).toEqual([...emitted].sort());
    expect(emitted.size).toBe(METRICS.filter((m) => m.perRole).length * 2 + METRICS.filter((m) => !m.perRole).length);
    const helpers = helperMetrics(proxy);
    expect([...helpers].sort()).toEqual([...emitted].sort());
    const { dashboard, alarms } = referencedMetrics(template());
    expect([...dashboard].filter((k) => !emitted.has(k))).toEqual([]);
    expect([...alarms].filter((k) => !emitted.has(k))).toEqual([]);
    // The dashboard shows every metric, and the alarms use some.
    expect([...dashboard].sort()).toEqual([...emitted].sort());
    expect(alarms.size).toBeGreaterThanOrEqual(5);
  });
});

test('the documented metric table (docs/observability.md) names every metric of the catalog with its kind, and no other', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'observability.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## ProxySQL\'s metrics'), doc.indexOf('## Dashboard and recommended alarms'));
  const rows = [...section.matchAll(/^\| `[^`]+` \| `(\w+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
  expect(rows).toEqual(METRICS.map((m) => `${m.name} ${m.kind}`));
});

describe('ProxySqlFargate dashboard and alarms', () => {
  test('addRecommendedAlarms() adds the documented alarms with thresholds from the configuration, each with the SNS action', () => {
    const { stack, proxy, template } = proxyWith();
    const topic = new sns.Topic(stack, 'Pager');
    const alarms = proxy.addRecommendedAlarms({ alarmActions: [new cloudwatchActions.SnsAction(topic)] });
    const ids = alarms.map((a) => a.node.id);
    expect(ids).toEqual(['NoWriterAlarm', 'NoReaderAlarm', 'MonitorLoginAlarm', 'WriterPoolSaturatedAlarm', 'ReadersPoolSaturatedAlarm',
      'BackendConnectionErrorsAlarm', 'ConnectTimeoutsAlarm', 'ClientConnectionsAlarm', 'HealthyTasksAlarm']);
    const t = template();
    const byId = (id: string) => Object.entries(t.findResources('AWS::CloudWatch::Alarm')).find(([k]) => k.includes(id))![1].Properties;
    for (const id of ids) expect(byId(id).AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Pager/) }]);
    expect(byId('NoWriterAlarm')).toEqual(expect.objectContaining({ MetricName: 'WriterAvailable', Threshold: 1, ComparisonOperator: 'LessThanThreshold', Statistic: 'Minimum' }));
    // The writer is listed among the readers for fallback reads: it does not count as a reader.
    expect(byId('NoReaderAlarm')).toEqual(expect.objectContaining({ Threshold: 1, ComparisonOperator: 'LessThanOrEqualToThreshold', Statistic: 'Maximum' }));
    // Used against the share each task reports now (it follows the tasks that run): 90 %.
    for (const [id, roleName] of [['WriterPoolSaturatedAlarm', 'writer'], ['ReadersPoolSaturatedAlarm', 'readers']]) {
      const alarm = byId(id);
      expect(alarm.Threshold).toBe(90);
      expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(alarm.Metrics).toEqual(expect.arrayContaining([
        expect.objectContaining({ Expression: 'IF(limit > 0, 100 * used / limit, 0)', ReturnData: true }),
        expect.objectContaining({ Id: 'used', ReturnData: false, MetricStat: expect.objectContaining({ Stat: 'Maximum', Metric: expect.objectContaining({ MetricName: 'BackendConnectionsUsed', Dimensions: expect.arrayContaining([{ Name: 'Role', Value: roleName }]) }) }) }),
        expect.objectContaining({ Id: 'limit', ReturnData: false, MetricStat: expect.objectContaining({ Stat: 'Minimum', Metric: expect.objectContaining({ MetricName: 'BackendConnectionsLimit', Dimensions: expect.arrayContaining([{ Name: 'Role', Value: roleName }]) }) }) }),
      ]));
    }
    // The default 1024 MiB: (1024 - 256) × 4 = 3072 client connections; 80 %.
    // Every statement that fails after borrowTimeout counts.
    expect(byId('ConnectTimeoutsAlarm')).toEqual(expect.objectContaining({
      MetricName: 'ConnectTimeouts',
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Statistic: 'Sum',
      TreatMissingData: 'notBreaching',
    }));
    expect(byId('ConnectTimeoutsAlarm').AlarmDescription).toMatch(/databaseMaxConnections .* maxConnectionsPercent/);
    expect(byId('ClientConnectionsAlarm').Threshold).toBe(Math.ceil(3072 * 0.8));
    expect(byId('HealthyTasksAlarm')).toEqual(expect.objectContaining({ Threshold: 2, TreatMissingData: 'breaching' }));
  });

  test('without metrics only the healthy-tasks alarm is added; the dashboard keeps the load balancer and service widgets', () => {
    const { proxy, template } = proxyWith({ metrics: false });
    expect(proxy.addRecommendedAlarms().map((a) => a.node.id)).toEqual(['HealthyTasksAlarm']);
    proxy.addDashboard({ dashboardName: 'proxy' });
    template().hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'proxy' });
  });

  test.each([0, 101])('an alarm percentage of %p is refused naming the prop', (clientConnectionsPercent) => {
    const { proxy } = proxyWith();
    expect(() => proxy.addRecommendedAlarms({ clientConnectionsPercent })).toThrow(/clientConnectionsPercent must be a percentage from 1 to 100/);
  });
});

describe('ProxySqlFargate query log', () => {
  test('off by default: no shipper, no volume, no events log in the configuration', () => {
    const t = proxyWith().template();
    expect(container(t, 'query-log')).toBeUndefined();
    expect(JSON.stringify(env(container(t, 'proxysql')!, 'PROXYSQL_CONFIG_TEMPLATE'))).not.toContain('eventslog');
  });

  test('on: ProxySQL writes the JSON events log into a shared volume and a non-essential container ships it to its own log group', () => {
    const t = proxyWith({ queryLog: true, queryLogRetention: logs.RetentionDays.THREE_DAYS }).template();
    const config = String(env(container(t, 'proxysql')!, 'PROXYSQL_CONFIG_TEMPLATE'));
    expect(config).toContain('eventslog_filename="/var/log/proxysql-queries/queries.log"');
    expect(config).toContain('eventslog_format=2');
    expect(config).toContain('eventslog_default_log=1');
    const shipper = container(t, 'query-log')!;
    expect(shipper.Essential).toBe(false);
    expect(shipper.Command).toEqual(['sh', '-c', QUERY_LOG_SCRIPT]);
    expect(shipper.Secrets).toBeUndefined();
    const mount = { SourceVolume: 'query-log', ContainerPath: '/var/log/proxysql-queries', ReadOnly: false };
    expect(shipper.MountPoints).toEqual([mount]);
    expect(container(t, 'proxysql')!.MountPoints).toEqual([mount, { SourceVolume: 'credentials', ContainerPath: '/run/proxysql-credentials', ReadOnly: true }]);
    const [queryLogGroup] = Object.keys(t.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 3 } }));
    expect((shipper as unknown as { LogConfiguration: { Options: Record<string, unknown> } }).LogConfiguration.Options['awslogs-group'])
      .toEqual({ Ref: queryLogGroup });
  });

  test('the events log variables cannot be set raw', () => {
    expect(() => proxyWith({ rawMysqlVariables: { eventslog_filename: '/tmp/q' } })).toThrow(/rawMysqlVariables.eventslog_filename is set by queryLog/);
  });
});
