/**
 * Pinning and waiting made visible (issue 19, item 3): the metrics sidecar, run as ECS would beside
 * the emulated task (interval overridden to 1 s, see metrics.test.ts), publishes
 * - `SessionsPinned`: backend connections held by idle client sessions, per hostgroup role;
 * - `ClientsWaitingForConnection` and `ConnectionWaitMaxMs`: statements waiting for a backend
 *   connection and the longest wait at the sample;
 * - `ConnectTimeouts`: statements that failed after `borrowTimeout`.
 * Each is produced here on purpose and compared with what the clients saw.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import * as mysql from 'mysql2/promise';
import { Emf, FAST, moreSamples, role, samples } from './emf';
import { deployTask, endpointsProxyStack, secretValues, waitFor } from './topology';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, TaskContainer } from '../fixtures/proxysql-task';

type App = { username: string; password: string; dbname: string };

const writer = (docs: Emf[]) => docs.filter(role('writer'));
const readers = (docs: Emf[]) => docs.filter(role('readers'));

/** The query docs/observability.md gives to see which sessions are pinned and why. */
function documentedWhyQuery(): string {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'observability.md'), 'utf8');
  const m = /<!-- why-pinned -->\s*```sql\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/observability.md has no why-pinned query');
  return m[1];
}

/** The next sample (task-level line count after `from`) for which `check` holds, per role line. */
async function sampleWhere(metrics: TaskContainer, what: string, check: (w: Emf, r: Emf) => boolean, timeoutMs = 15_000): Promise<[Emf, Emf]> {
  const from = writer(samples(metrics)).length;
  return waitFor(what, async () => {
    const all = samples(metrics);
    const w = writer(all);
    const r = readers(all);
    for (let i = from; i < Math.min(w.length, r.length); i++) if (check(w[i], r[i])) return [w[i], r[i]] as [Emf, Emf];
    return undefined;
  }, timeoutMs);
}

describeDataplane('dataplane: pinned sessions and clients waiting for a connection', () => {
  let pair: ReplicatedPair;

  beforeAll(async () => {
    pair = await startReplicatedPair();
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('N idle clients with an open transaction, M after an auto-increment INSERT → SessionsPinned(writer) = N + M (M while auto_increment_delay_multiplex > 0), 0 once they leave', async () => {
    const s = endpointsProxyStack();
    const secrets = secretValues(s, pair);
    const task = await deployTask(s, pair, secrets);
    const app = secrets[s.ids.app] as App;
    const connect = () => task.client(app.username, app.password, { database: app.dbname });
    const setup = await connect();
    await setup.query('CREATE TABLE IF NOT EXISTS pinned_ids (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
    await setup.end();
    const [delay] = await task.admin<Array<{ v: string }>>("SELECT variable_value AS v FROM runtime_global_variables WHERE variable_name = 'mysql-auto_increment_delay_multiplex'");
    const metrics = task.startContainer('metrics', FAST);
    await moreSamples(metrics, 0);

    const n = 3;
    const m = 2;
    const inTransaction: mysql.Connection[] = [];
    const afterInsert: mysql.Connection[] = [];
    const plain: mysql.Connection[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const c = await connect();
        await c.query('BEGIN');
        await c.query('SELECT COUNT(*) FROM pinned_ids');
        inTransaction.push(c);
      }
      for (let i = 0; i < m; i++) {
        const c = await connect();
        await c.query('INSERT INTO pinned_ids (v) VALUES (1)');
        afterInsert.push(c);
      }
      // Idle clients that pin nothing: after a read and after an INSERT without an auto-increment id.
      for (const sql of ['SELECT 1', 'DELETE FROM pinned_ids WHERE id < 0']) {
        const c = await connect();
        await c.query(sql);
        plain.push(c);
      }
      const expected = n + (Number(delay.v) > 0 ? m : 0);
      const [w, r] = await sampleWhere(metrics, `SessionsPinned(writer) = ${expected}`, (wd) => wd.SessionsPinned === expected);
      expect(r.SessionsPinned).toBe(0);
      expect(w.ClientsWaitingForConnection).toBe(0);
      expect(w.ConnectionWaitMaxMs).toBe(0);
      // No sample ever counted more than there were (the plain clients never show as pinned).
      expect(Math.max(...writer(samples(metrics)).map((d) => Number(d.SessionsPinned)))).toBe(expected);
      // eslint-disable-next-line no-console
      console.log(`dataplane pinning: ${n} in a transaction + ${m} after INSERT (auto_increment_delay_multiplex=${delay.v}) + ${plain.length} plain → SessionsPinned writer ${String(w.SessionsPinned)}, readers ${String(r.SessionsPinned)}`);

      // The documented query says why each is pinned.
      type Why = { hostgroup: string; in_transaction: string; auto_increment_delay: string };
      const why = await task.admin<Why[]>(documentedWhyQuery());
      expect(why).toHaveLength(expected);
      expect(why.filter((row) => Number(row.in_transaction) > 0)).toHaveLength(n);
      expect(why.filter((row) => Number(row.auto_increment_delay) > 0)).toHaveLength(expected - n);
      expect(why.every((row) => row.hostgroup === '10')).toBe(true);

      // Committed and gone: nothing pinned.
      for (const c of inTransaction) await c.query('COMMIT');
      for (const c of [...inTransaction.splice(0), ...afterInsert.splice(0)]) await c.end();
      const [w0, r0] = await sampleWhere(metrics, 'SessionsPinned 0', (wd, rd) => wd.SessionsPinned === 0 && rd.SessionsPinned === 0);
      expect(w0.SessionsPinned).toBe(0);
      expect(r0.SessionsPinned).toBe(0);
    } finally {
      for (const c of [...inTransaction, ...afterInsert, ...plain]) await c.end().catch(() => undefined);
      await metrics.stop();
      await task.dispose();
    }
  });

  test('more slow writes than the writer\'s pool → ClientsWaitingForConnection > 0, ConnectionWaitMaxMs ≈ the wait the clients saw, ConnectTimeouts = the statements that failed after borrowTimeout', async () => {
    // A small budget: 30 connections × 90 % = 27; one task running takes floor(27 − 3 − 4) = 20 per
    // server, of which the writer hostgroup keeps 15 (a quarter goes to fallback reads).
    const borrowTimeoutMs = 9000;
    const s = endpointsProxyStack({
      backend: { databaseMaxConnections: 30 },
      proxy: { borrowTimeout: Duration.seconds(borrowTimeoutMs / 1000) },
    });
    const secrets = secretValues(s, pair);
    const task = await deployTask(s, pair, secrets);
    const app = secrets[s.ids.app] as App;
    // The deployed state: the task has counted itself and taken the share for one task (fleet-share.sh).
    await waitFor('the share for one task', async () => (task.log().includes('1 running tasks:') ? true : undefined), 30_000, 250);
    const [{ slots: slotsText }] = await task.admin<Array<{ slots: string }>>('SELECT SUM(max_connections) AS slots FROM runtime_mysql_servers WHERE hostgroup_id = 10');
    const slots = Number(slotsText);
    expect(slots).toBe(15);
    const globals = async () => Number((await task.admin<Array<{ v: string }>>("SELECT variable_value AS v FROM stats_mysql_global WHERE variable_name = 'max_connect_timeouts'"))[0].v);
    const timeoutsBefore = await globals();
    const metrics = task.startContainer('metrics', FAST);
    await moreSamples(metrics, 0);

    // 3 × slots statements of 6 s on `slots` connections: `slots` run at once, as many after 6 s; the
    // last ones would start at 12 s and time out at 9 s instead. Each side is 3 s from borrowTimeout:
    // ProxySQL hands over a freed connection and fires its timeout on a ~2 s poll, and with a 2 s
    // margin (4 s sleeps, 6 s timeout) the second batch also timed out on a loaded CI machine.
    const clients = 3 * slots;
    const sleepS = 6;
    const conns = await Promise.all(Array.from({ length: clients }, () => task.client(app.username, app.password, { database: app.dbname })));
    const t0 = Date.now();
    const results = await Promise.all(conns.map((c) => c.query(`SELECT SLEEP(${sleepS}) FOR UPDATE`).then(
      () => ({ ok: true, ms: Date.now() - t0, error: '' }),
      (e: Error) => ({ ok: false, ms: Date.now() - t0, error: e.message }))));
    for (const c of conns) await c.end();
    const seen = writer(samples(metrics)).length;
    await moreSamples(metrics, seen, 2);
    const timeoutsAfter = await globals();

    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.error)).toEqual(Array(clients - 2 * slots).fill(expect.stringMatching(/^Max connect timeout reached while reaching hostgroup 10 after \d+ms/)));
    // What each waited: a statement that ran took its sleep after the wait; one that failed waited all along.
    const waits = results.map((r) => (r.ok ? r.ms - sleepS * 1000 : r.ms));
    const longestWait = Math.max(...waits);
    const all = samples(metrics);
    const w = writer(all);
    const maxWaiting = Math.max(...w.map((d) => Number(d.ClientsWaitingForConnection)));
    const maxWaitMs = Math.max(...w.map((d) => Number(d.ConnectionWaitMaxMs)));
    const timeouts = all.filter(role(undefined)).reduce((sum, d) => sum + Number(d.ConnectTimeouts ?? 0), 0);
    // eslint-disable-next-line no-console
    console.log(`dataplane waiting: ${clients} × SLEEP(${sleepS}) on ${slots} writer connections, borrowTimeout ${borrowTimeoutMs} ms: `
      + `client waits ${waits.map((x) => Math.max(0, x)).join(', ')} ms (${failed.length} timed out); sidecar: ClientsWaitingForConnection max ${maxWaiting}, `
      + `ConnectionWaitMaxMs max ${maxWaitMs}, ConnectTimeouts ${timeouts}; per sample (waiting/longest ms): ${w.map((d) => `${String(d.ClientsWaitingForConnection)}/${String(d.ConnectionWaitMaxMs)}`).join(' ')}`);

    expect(maxWaiting).toBe(clients - slots);
    // Sampled every second: the longest wait seen is within a sample interval (and ProxySQL's
    // clock for the session) of the longest wait the clients saw, and never beyond it.
    expect(maxWaitMs).toBeLessThanOrEqual(longestWait + 200);
    expect(maxWaitMs).toBeGreaterThanOrEqual(longestWait - 1500);
    expect(timeouts).toBe(failed.length);
    expect(timeoutsAfter - timeoutsBefore).toBe(failed.length);
    expect(readers(all).every((d) => d.ClientsWaitingForConnection === 0)).toBe(true);
    // Nobody waits once they are done.
    const last = w[w.length - 1];
    expect(last.ClientsWaitingForConnection).toBe(0);
    expect(last.ConnectionWaitMaxMs).toBe(0);
    await metrics.stop();
    await task.dispose();
  });
});
