/**
 * A task's life on the real ProxySQL, with the task definition's own command and health check:
 * how it stops (SIGTERM after ECS has already drained the target), what its health check answers
 * while the database is broken, and what the NLB's TCP probes leave in its log. Durations are
 * printed, and asserted only where the behaviour is the bound itself (exit within 2 s of the last
 * statement).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as mysql from 'mysql2/promise';
import { DataplaneStack, endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { IN_FLIGHT_SQL } from '../../src/config/start-script';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

interface App { username: string; password: string; dbname: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The figures the run measured, printed once at the end. */
const figures: string[] = [];

/** What the start script's stop handler sees as in flight (its own query). */
async function inFlight(task: ProxySqlTask): Promise<{ statements: number; transactions: number; sessions: number }> {
  const [row] = await task.admin<Array<Record<string, string>>>(IN_FLIGHT_SQL);
  const [statements, transactions, sessions] = Object.values(row).map(Number);
  return { statements, transactions, sessions };
}

async function globalStat(task: ProxySqlTask, name: string): Promise<number> {
  const [g] = await task.admin<Array<{ v: string }>>(`SELECT Variable_Value AS v FROM stats_mysql_global WHERE Variable_Name = '${name}'`);
  return Number(g.v);
}

/** A client connection whose late errors (the proxy going away under it) are expected, not fatal. */
async function client(task: ProxySqlTask, app: App): Promise<mysql.Connection> {
  const conn = await task.client(app.username, app.password);
  conn.on('error', () => undefined);
  return conn;
}

/** The pids of a process's children named `name` (from /proc: the emulated task's sh → proxysql). */
function childPids(parent: number, name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && comm === name) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

/**
 * A TCP probe as the NLB sends it: connect, then close without a MySQL handshake, with a FIN
 * (`destroy`) or a RST (`resetAndDestroy`). A half-close (`end`) is not a probe: ProxySQL keeps
 * such a socket open waiting for the handshake.
 */
function probe(port: number, reset: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (reset ? socket.resetAndDestroy() : socket.destroy()));
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
}

describeDataplane("dataplane: a task's life", () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
  });

  afterAll(async () => {
    // eslint-disable-next-line no-console
    if (figures.length > 0) console.log(`dataplane lifecycle:\n  ${figures.join('\n  ')}`);
    await disposeAllTasks();
    await pair?.destroy();
  });

  /** Bootstrap a fresh set of users and start a task of `stack` with them (`monitorPassword` overrides the task's copy). */
  async function deploy(stack: DataplaneStack = s, monitorPassword?: string): Promise<{ task: ProxySqlTask; app: App; secrets: TaskSecrets }> {
    const secrets = secretValues(stack, pair);
    await runBootstrap(stack, pair, secrets);
    const given = monitorPassword === undefined ? secrets
      : { ...secrets, [stack.ids.monitor]: { ...secrets[stack.ids.monitor], password: monitorPassword } };
    const task = await startTask({ template: stack.template, secrets: given, servers: pairServers(pair) });
    return { task, app: secrets[stack.ids.app] as unknown as App, secrets };
  }

  describe('stopping', () => {
    test('SIGTERM during a 3 s query: the query completes, a new client is refused, and the task exits 0 within 2 s after it', async () => {
      const { task, app } = await deploy();
      const conn = await client(task, app);
      const query = conn.query<mysql.RowDataPacket[]>('SELECT SLEEP(3) AS slept').then(([rows]) => ({ rows, at: Date.now() }));
      await waitFor('the query to run', async () => ((await inFlight(task)).statements > 0 ? true : undefined), 5000, 50);
      const sigterm = Date.now();
      task.signal('SIGTERM');

      // A connect that races the listener's close may be accepted by the kernel and then reset
      // (ECONNRESET, seen once in CI on a loaded machine): no session either way, so the wait goes
      // on until the listener is gone, which refuses (ECONNREFUSED).
      const resets: string[] = [];
      const refused = await waitFor('a new client to be refused', async () => {
        try {
          (await task.client(app.username, app.password)).destroy();
          return undefined;
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'ECONNRESET') { resets.push(code); return undefined; }
          return e as { code?: string };
        }
      }, 3000, 100);
      expect(refused.code).toBe('ECONNREFUSED');
      expect(resets.length).toBeLessThanOrEqual(2);

      const done = await query;
      expect(Number(done.rows[0].slept)).toBe(0); // SLEEP() returns 0 when it ran to the end
      await conn.end().catch(() => undefined);
      const exit = await task.exited;
      expect(exit.code).toBe(0);
      expect(exit.at - done.at).toBeLessThan(2000);
      expect(task.log()).toMatch(/proxysql-start: no client session left \d+s after the stop request; stopping ProxySQL/);
      figures.push(`SIGTERM during a 3 s query: query done ${done.at - sigterm} ms after SIGTERM, exit ${exit.at - done.at} ms after the query (${exit.at - sigterm} ms after SIGTERM)`);
    }, 60_000);

    test('SIGTERM with one idle client connected: the proxy closes its connection cleanly, and the task exits 0 within 4.5 s', async () => {
      const { task, app } = await deploy();
      const idle = await client(task, app);
      await idle.query('SELECT 1');
      const closed = new Promise<{ at: number; error?: string }>((resolve) => {
        const raw = (idle as unknown as { connection: NodeJS.EventEmitter }).connection;
        raw.once('end', () => resolve({ at: Date.now() }));
        raw.once('error', (e: { code?: string }) => resolve({ at: Date.now(), error: e.code }));
      });
      const sigterm = Date.now();
      const exit = await task.stop();
      const end = await Promise.race([closed, sleep(1000).then(() => undefined)]);
      expect(exit.code).toBe(0);
      // Closed by the proxy between statements: the client sees its idle connection end (mysql2:
      // the 'end' event, or PROTOCOL_CONNECTION_LOST), which is how its pool knows to discard it.
      expect(end).toBeDefined();
      expect(end!.at).toBeLessThanOrEqual(exit.at + 100);
      expect(['PROTOCOL_CONNECTION_LOST', undefined]).toContain(end!.error);
      // ProxySQL moves an idle session to an idle thread, whose maintenance pass (where the
      // session is closed) runs every 2 s: measured 2.6 s from SIGTERM to the close.
      expect(exit.at - sigterm).toBeLessThan(4500);
      expect(task.log()).toMatch(/proxysql-start: no client session left \d+s after the stop request; stopping ProxySQL/);
      figures.push(`SIGTERM with one idle client: its connection closed ${end!.at - sigterm} ms after SIGTERM, exit ${exit.at - sigterm} ms after SIGTERM`);
      idle.destroy();
    }, 60_000);

    test('SIGTERM with a transaction open: the task waits for its COMMIT, then exits 0', async () => {
      const { task, app } = await deploy();
      const conn = await client(task, app);
      await conn.query('START TRANSACTION');
      await conn.query('SELECT @@server_id');
      expect(await inFlight(task)).toEqual({ statements: 0, transactions: 1, sessions: 1 });
      // extended_info, which the stop handler reads, carries no credential.
      const rows = await task.admin<Array<{ extended_info: string }>>('SELECT extended_info FROM stats_mysql_processlist');
      expect(rows.map((r) => r.extended_info).join('')).toContain('"active_transactions":1');
      expect(JSON.stringify(rows)).not.toContain(app.password);
      const sigterm = Date.now();
      task.signal('SIGTERM');
      await sleep(3000);
      expect(task.hasExited).toBe(false);
      await conn.query('COMMIT');
      const committed = Date.now();
      const exit = await task.exited;
      expect(exit.code).toBe(0);
      expect(exit.at - committed).toBeLessThan(2000);
      figures.push(`SIGTERM with a transaction open: exit ${exit.at - committed} ms after COMMIT (${exit.at - sigterm} ms after SIGTERM)`);
      conn.destroy();
    }, 60_000);
  });

  describe('health', () => {
    test('a wedged ProxySQL (SIGSTOP) fails the health check, and passes again once it runs (SIGCONT)', async () => {
      const { task } = await deploy();
      expect((await task.healthCheck()).code).toBe(0);
      const [pid] = childPids(task.pid, 'proxysql');
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGSTOP');
      try {
        const started = Date.now();
        expect((await task.healthCheck()).code).not.toBe(0);
        figures.push(`health check of a stopped ProxySQL failed after ${Date.now() - started} ms`);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect((await task.healthCheck()).code).toBe(0);
      await task.dispose();
    }, 60_000);

    test('the monitor password is wrong: the health check passes, and the log says why the monitor fails', async () => {
      const wrong = `Wr0ng${Date.now().toString(36)}`;
      const { task, secrets } = await deploy(s, wrong);
      // The failure mode the previous check turned into a task replacement: no writer left.
      await waitFor('ProxySQL to take the writer out of the writer hostgroup', async () => {
        const [r] = await task.admin<Array<{ n: number }>>("SELECT COUNT(*) AS n FROM runtime_mysql_servers WHERE hostgroup_id = 10 AND status <> 'OFFLINE_HARD'");
        return Number(r.n) === 0 ? true : undefined;
      }, 30_000, 500);
      for (let i = 0; i < 3; i++) {
        expect(await task.healthCheck()).toEqual({ code: 0, output: '' });
        await sleep(2000);
      }
      const said = await waitFor('the log to say why the monitor fails', async () =>
        task.log().split('\n').find((l) => /Server .*:\d+ is returning "Access denied" for monitoring user/.test(l)), 75_000, 1000);
      figures.push(`monitor password wrong: the log says "${said.replace(/^.*?(Server )/, '$1')}"`);
      const log = task.log();
      expect(log).not.toContain(wrong);
      expect(log).not.toContain(secrets[s.ids.monitor].password);
      await task.dispose();
    }, 120_000);
  });

  describe('NLB TCP probes', () => {
    async function probeAndCount(task: ProxySqlTask): Promise<{ newLines: string[]; accepted: number }> {
      const before = task.log().split('\n').length;
      const createdBefore = await globalStat(task, 'Client_Connections_created');
      for (let i = 0; i < 100; i++) await probe(task.trafficPort, i % 2 === 0);
      // Give ProxySQL's workers time to notice every closed session (they poll every second or so).
      await sleep(3000);
      return {
        newLines: task.log().split('\n').slice(before - 1).filter((l) => l.trim() !== ''),
        accepted: (await globalStat(task, 'Client_Connections_created')) - createdBefore,
      };
    }

    test('100 connect/close probes reach ProxySQL and add no line to its log', async () => {
      const { task } = await deploy();
      await sleep(2000); // let start-up logging settle
      const r = await probeAndCount(task);
      expect(r.accepted).toBe(100); // ProxySQL accepted every probe ...
      expect(r.newLines).toEqual([]); // ... and logged none of them
      figures.push(`100 TCP probes: ${r.accepted} client connections accepted, ${r.newLines.length} log lines`);
      await task.dispose();
    }, 60_000);

    test('with log_unhealthy_connections turned back on (raw variable), the same probes are logged', async () => {
      const loud = endpointsProxyStack({ proxy: { rawMysqlVariables: { log_unhealthy_connections: 'true' } } });
      const { task } = await deploy(loud);
      await sleep(2000);
      const r = await probeAndCount(task);
      expect(r.accepted).toBe(100);
      expect(r.newLines.filter((l) => /Closing unhealthy client connection/.test(l))).toHaveLength(100);
      figures.push(`100 TCP probes with the log on: ${r.newLines.length} log lines`);
      await task.dispose();
    }, 60_000);
  });

  // Last: it stops the shared primary (and starts it again).
  describe('the primary stopped for 60 s', () => {
    test('every health check passes and plain reads keep working through the replica', async () => {
      const { task, app } = await deploy();
      const [{ id: replicaId }] = await pair.replica.root<Array<{ id: number }>>('SELECT @@server_id AS id');
      const read = async (): Promise<number | string> => {
        try {
          const conn = await client(task, app);
          try {
            const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@server_id AS id');
            return Number(rows[0].id);
          } finally {
            await conn.end().catch(() => undefined);
          }
        } catch (e) {
          return String((e as Error).message);
        }
      };
      expect(await read()).toBe(Number(replicaId));

      await pair.primary.stop();
      const checks: Array<{ at: number; health: number | null; read: number | string }> = [];
      try {
        const t0 = Date.now();
        while (Date.now() - t0 < 60_000) {
          const tick = Date.now();
          const [health, r] = await Promise.all([task.healthCheck(), read()]);
          checks.push({ at: tick - t0, health: health.code, read: r });
          await sleep(Math.max(0, 5000 - (Date.now() - tick)));
        }
        // The writer really left ProxySQL's writer hostgroup: the old check failed from here on.
        const [w] = await task.admin<Array<{ n: number }>>("SELECT COUNT(*) AS n FROM runtime_mysql_servers WHERE hostgroup_id = 10 AND status <> 'OFFLINE_HARD'");
        expect(Number(w.n)).toBe(0);
      } finally {
        await pair.primary.launch();
      }
      figures.push(`primary stopped 60 s: ${checks.length} health checks (${checks.filter((c) => c.health === 0).length} passed), ${checks.filter((c) => c.read === Number(replicaId)).length}/${checks.length} reads on the replica`);
      expect(checks.length).toBeGreaterThanOrEqual(11);
      expect(checks.filter((c) => c.health !== 0)).toEqual([]);
      expect(checks.filter((c) => c.read !== Number(replicaId))).toEqual([]);
      await task.dispose();
    }, 150_000);
  });
});
