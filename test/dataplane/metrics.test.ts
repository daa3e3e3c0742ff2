/**
 * The metrics sidecar and the query log shipper, run as ECS would beside the emulated task (their
 * own command, environment and secrets from the synthesized task definition): what they print is
 * what CloudWatch Logs would receive.
 *
 * The one change to the template: the sidecar's interval (`PROXYSQL_METRICS_INTERVAL_SECONDS`, set
 * from `metricsInterval`, at least 10 s) is overridden to 1 s so that a test sees several samples
 * in seconds; the script reads it from its environment exactly as it reads the template's value.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as mysql from 'mysql2/promise';
import { FAST, moreSamples, role, samples } from './emf';
import { DataplaneStack, deployTask, endpointsProxyStack, pairServers, secretValues, waitFor } from './topology';
import { METRICS_NAMESPACE } from '../../src/config/metrics';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

async function readersQueries(task: ProxySqlTask): Promise<number> {
  const [row] = await task.admin<Array<{ q: string | null }>>('SELECT SUM(Queries) AS q FROM stats_mysql_connection_pool WHERE hostgroup = 20');
  return Number(row.q ?? 0);
}

describeDataplane('dataplane: metrics and query log', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let task: ProxySqlTask;
  let app: { username: string; password: string; dbname: string };

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack({ proxy: { queryLog: true } });
    secrets = secretValues(s, pair);
    task = await deployTask(s, pair, secrets);
    app = secrets[s.ids.app] as typeof app;
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('N reads → the readers\' QueriesRouted deltas add up to N and to the stats difference; every line is valid EMF', async () => {
    // The task alone takes the share for one task (fleet-share.sh) within seconds of its start: from then on the limit holds still.
    await waitFor('the share for one task', async () => (task.log().includes('1 running tasks:') ? true : undefined), 30_000);
    const before = await readersQueries(task);
    const metrics = task.startContainer('metrics', FAST);
    // The first sample: gauges only (a counter has no interval yet).
    const first = await moreSamples(metrics, 0);
    expect(first[0]).not.toHaveProperty('Questions');
    expect(first[0].WriterAvailable).toBe(1);

    const n = 25;
    const conn = await task.client(app.username, app.password, { database: app.dbname });
    try {
      for (let i = 0; i < n; i++) await conn.query('SELECT @@server_id');
    } finally {
      await conn.end();
    }
    const after = await readersQueries(task);
    // Two samples after the reads, so the last one saw them all.
    const seen = samples(metrics).filter(role(undefined)).length;
    await moreSamples(metrics, seen, 2);

    const all = samples(metrics);
    expect(all.every((d) => d._aws.CloudWatchMetrics[0].Namespace === METRICS_NAMESPACE && d.ProxyName === 'Dataplane/Proxy')).toBe(true);
    const readers = all.filter(role('readers'));
    const routed = readers.reduce((sum, d) => sum + Number(d.QueriesRouted ?? 0), 0);
    expect(after - before).toBe(n);
    expect(routed).toBe(after - before);
    // The writer took none of them; the task-level counter saw the statements too.
    expect(all.filter(role('writer')).reduce((sum, d) => sum + Number(d.QueriesRouted ?? 0), 0)).toBe(0);
    expect(all.filter(role(undefined)).reduce((sum, d) => sum + Number(d.Questions ?? 0), 0)).toBeGreaterThanOrEqual(n);
    expect(all.filter(role(undefined)).reduce((sum, d) => sum + Number(d.ClientConnectionsCreated ?? 0), 0)).toBeGreaterThanOrEqual(1);
    const last = readers[readers.length - 1];
    expect(last.ServersOnline).toBeGreaterThanOrEqual(1);
    expect(last.BackendConnectionsFree).toBeGreaterThanOrEqual(1);
    // What the task may open now: the max_connections of the ONLINE rows, as the runtime has them.
    const limits = await task.admin<Array<{ hostgroup_id: string; n: string }>>(
      "SELECT hostgroup_id, SUM(max_connections) AS n FROM runtime_mysql_servers WHERE status = 'ONLINE' GROUP BY hostgroup_id ORDER BY hostgroup_id");
    expect(limits.map((r) => Number(r.n))).toEqual([all.filter(role('writer')).pop()!.BackendConnectionsLimit, last.BackendConnectionsLimit]);
    const sizes = metrics.log().split('\n').filter((l) => l.startsWith('{"_aws"')).slice(-3).map((l) => l.length + 1);
    console.log(`dataplane metrics: one sample is ${sizes.length} EMF lines of ${sizes.join(' + ')} bytes`);
    // The secret never shows.
    expect(metrics.log()).not.toContain(task.adminCredentials.password);
    const stopped = Date.now();
    await metrics.stop();
    expect(Date.now() - stopped).toBeLessThan(3000);
  });

  test('WriterAvailable turns 0 while the primary is down and back to 1 when it returns', async () => {
    const metrics = task.startContainer('metrics', FAST);
    await waitFor('a sample with a writer', async () => samples(metrics).find((d) => d.WriterAvailable === 1));
    await pair.primary.stop();
    try {
      const down = await waitFor('WriterAvailable 0', async () => samples(metrics).find((d) => d.WriterAvailable === 0), 30_000);
      expect(down.WriterAvailable).toBe(0);
      // The monitor cannot reach the primary: failed checks, but no login refused.
      await waitFor('monitor check failures', async () => samples(metrics).find((d) => Number(d.MonitorCheckFailures) > 0), 20_000);
    } finally {
      await pair.primary.launch();
    }
    const from = samples(metrics).length;
    await waitFor('WriterAvailable 1 again', async () => samples(metrics).slice(from).find((d) => d.WriterAvailable === 1), 30_000);
    expect(samples(metrics).every((d) => d.MonitorLoginFailures === undefined || d.MonitorLoginFailures === 0)).toBe(true);
    await metrics.stop();
  });

  test('a wrong monitor password shows as MonitorLoginFailures', async () => {
    const wrong = await startTask({
      template: s.template,
      secrets,
      servers: pairServers(pair),
      environmentOverrides: { PROXYSQL_SECRET_MONITOR_PASSWORD: (v) => `${v}-wrong` },
    });
    const metrics = wrong.startContainer('metrics', FAST);
    const denied = await waitFor('MonitorLoginFailures > 0', async () => samples(metrics).find((d) => Number(d.MonitorLoginFailures) > 0), 30_000);
    expect(denied.MonitorCheckFailures).toBeGreaterThanOrEqual(denied.MonitorLoginFailures as number);
    await metrics.stop();
    await wrong.dispose();
  });

  test('with the query log on, a statement sent through the proxy appears in the shipped log as JSON', async () => {
    const shipper = task.startContainer('query-log');
    const marker = `obs-${Math.random().toString(36).slice(2, 10)}`;
    const conn: mysql.Connection = await task.client(app.username, app.password, { database: app.dbname });
    try {
      await conn.query(`SELECT '${marker}' AS marker`);
    } finally {
      await conn.end();
    }
    const event = await waitFor('the statement in the shipped log', async () => shipper.log().split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => String(e.query ?? '').includes(marker)), 20_000);
    expect(event).toEqual(expect.objectContaining({ username: app.username, schemaname: app.dbname }));
    // eslint-disable-next-line no-console
    console.log(`dataplane query log: one event is ${JSON.stringify(event).length + 1} bytes for a ${String(event.query).length}-byte statement: ${JSON.stringify(event)}`);
    // Every line it printed is one JSON object.
    for (const line of shipper.log().split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line)).not.toThrow();
    await shipper.stop();
  });

  test('when ProxySQL rotates the events log, the shipper follows the new file, ships every statement once and deletes the old file', async () => {
    // ProxySQL's smallest rotation size is 1 MiB: twelve statements of 100 kB cross it.
    const small = endpointsProxyStack({ proxy: { queryLog: true, rawMysqlVariables: { eventslog_filesize: '1048576' } } });
    const smallSecrets = secretValues(small, pair);
    const rotating = await deployTask(small, pair, smallSecrets);
    const shipper = rotating.startContainer('query-log');
    const user = smallSecrets[small.ids.app];
    const markers = Array.from({ length: 12 }, (_, i) => `rot-${i}-${Math.random().toString(36).slice(2, 8)}`);
    const conn = await rotating.client(user.username, user.password, { database: user.dbname });
    try {
      for (const m of markers) await conn.query(`SELECT '${m}' AS m, '${'x'.repeat(100_000)}' AS pad`);
    } finally {
      await conn.end();
    }
    const volume = path.join(rotating.dir, 'volumes', 'query-log');
    await waitFor('the first file rotated away and deleted', async () => {
      const files = fs.readdirSync(volume).sort();
      return files.length === 1 && files[0] !== 'queries.log.00000001' ? files : undefined;
    }, 20_000);
    const shipped = await waitFor('every statement shipped', async () => {
      const queries = shipper.log().split('\n').filter((l) => l.startsWith('{')).map((l) => String((JSON.parse(l) as { query?: string }).query ?? ''));
      return markers.every((m) => queries.some((q) => q.includes(m))) ? queries : undefined;
    }, 20_000);
    for (const m of markers) expect(shipped.filter((q) => q.includes(m))).toHaveLength(1);
    await shipper.stop();
    await rotating.dispose();
  });
});
