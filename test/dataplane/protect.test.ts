/**
 * "Protecting the database", proven on the real ProxySQL: the connection budget holds a Lambda-style
 * burst inside the database's own limit, and idle clients are closed.
 */
import { Duration } from 'aws-cdk-lib';
import * as mysql from 'mysql2/promise';
import { DataplaneStack, deployTask, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { coldBurst } from './workloads';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

/** One plain read on a new connection (as a Lambda invocation would make it): the server that answered. */
async function serverOfOneRead(task: ProxySqlTask, app: Record<string, string>): Promise<number> {
  const c = await task.client(app.username, app.password, { connectTimeout: 10_000 });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@server_id AS s');
    return Number(rows[0].s);
  } finally {
    c.destroy();
  }
}

describeDataplane('dataplane: connection budget', () => {
  const DB_LIMIT = 100;
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let tasks: ProxySqlTask[];

  beforeAll(async () => {
    pair = await startReplicatedPair({ maxConnections: DB_LIMIT });
    s = endpointsProxyStack({ backend: { databaseMaxConnections: DB_LIMIT } });
    secrets = secretValues(s, pair);
    await runBootstrap(s, pair, secrets);
    // Two tasks of the same service, side by side, each from its own address (as on Fargate): they
    // count each other and take the share for two.
    tasks = await Promise.all([0, 1].map(() => startTask({
      template: s.template, secrets, servers: pairServers(pair), sourceAddress: ownAddress(),
    })));
    const app = secrets[s.ids.app];
    await onWriter(pair, app.dbname, ['CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(16))', "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')"]);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('the static share is floor((100 × 90 % − 3 − 4 × 4 tasks) / 4) = 17 per server and task; two running tasks take floor((90 − 3 − 4 × 2) / 2) = 39 each', async () => {
    expect(s.proxy.backendConnectionsPerServer).toBe(17);
    for (const t of tasks) {
      // The writer splits its share between writes and fallback reads (a quarter); the replica keeps it all.
      const rows = await waitFor('the share for two tasks', async () => {
        const r = await t.admin<Array<{ hostgroup_id: string; weight: string; max_connections: string }>>(
          'SELECT hostgroup_id, weight, max_connections FROM runtime_mysql_servers ORDER BY hostgroup_id, weight');
        const got = r.map((x) => [Number(x.hostgroup_id), Number(x.weight), Number(x.max_connections)]);
        return got[2]?.[2] === 39 ? got : undefined;
      }, 30_000, 250);
      expect(rows).toEqual([[10, 1, 30], [20, 1, 9], [20, 1000, 39]]);
    }
  });

  test('a 5 000-client cold burst over two tasks is served in full and no server goes past its own limit', async () => {
    const app = secrets[s.ids.app];
    await Promise.all([pair.primary.root('FLUSH LOCAL STATUS'), pair.replica.root('FLUSH LOCAL STATUS')]);
    const halves = await Promise.all(tasks.map((t) => coldBurst(
      { host: '127.0.0.1', port: t.trafficPort, user: app.username, password: app.password, database: app.dbname },
      2500, 'SELECT note FROM items WHERE id = ?')));
    const served = halves.reduce((n, h) => n + h.served, 0);
    const errors = halves.map((h) => h.errors);
    expect({ served, errors }).toEqual({ served: 5000, errors: [{}, {}] });
    for (const server of [pair.primary, pair.replica]) {
      const [{ Value }] = await server.root<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Max_used_connections'");
      expect(Number(Value)).toBeLessThanOrEqual(DB_LIMIT);
    }
    for (const t of tasks) {
      const status = await t.admin<Array<{ status: string }>>('SELECT status FROM runtime_mysql_servers');
      expect(status.map((r) => r.status)).toEqual(['ONLINE', 'ONLINE', 'ONLINE']);
      const pool = await t.admin<Array<{ used: string; free: string }>>('SELECT ConnUsed AS used, ConnFree AS free FROM stats_mysql_connection_pool');
      for (const p of pool) expect(Number(p.used) + Number(p.free)).toBeLessThanOrEqual(39);
    }
  });
});

describeDataplane('dataplane: idle clients', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let app: Record<string, string>;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    const s = endpointsProxyStack();
    const secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    // The rendered wait_timeout is idleClientTimeout (default 1800 s, the same as the listener's).
    // Waiting half an hour is no test: this task alone runs with the value lowered to 3 s, the
    // one change made to the synthesized configuration here.
    expect(JSON.stringify(s.template.Resources)).toContain('wait_timeout=1800000');
    task = await deployTask(s, pair, secrets, {
      environmentOverrides: { PROXYSQL_CONFIG_TEMPLATE: (t) => t.replace('wait_timeout=1800000', 'wait_timeout=3000') },
    });
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('a client idle past wait_timeout is disconnected by the proxy and its session is gone', async () => {
    const conn = await task.client(app.username, app.password);
    const closed = new Promise<void>((resolve) => conn.once('error', () => resolve()));
    await conn.query('SELECT 1');
    const before = await task.admin<Array<{ n: string }>>('SELECT COUNT(*) AS n FROM stats_mysql_processlist');
    expect(Number(before[0].n)).toBe(1);
    await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('not closed within 15 s')), 15_000))]);
    await waitFor('the session to leave the processlist', async () => {
      const n = await task.admin<Array<{ n: string }>>('SELECT COUNT(*) AS n FROM stats_mysql_processlist');
      return Number(n[0].n) === 0 ? true : undefined;
    });
    conn.destroy();
  });
});

describeDataplane('dataplane: replication lag', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let app: Record<string, string>;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    // A small limit, so that a replica held a few seconds behind (MASTER_DELAY) crosses it.
    const s = endpointsProxyStack({ proxy: { maxReplicationLag: Duration.seconds(2) } });
    const secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    task = await deployTask(s, pair, secrets);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  /** The pool's view tells a lag shun (SHUNNED_REPLICATION_LAG) from one for connection errors. */
  async function replicaStatus(): Promise<string | undefined> {
    const rows = await task.admin<Array<{ status: string }>>(
      `SELECT status FROM stats_mysql_connection_pool WHERE hostgroup = 20 AND srv_port = ${pair.replica.port}`);
    return rows[0]?.status;
  }

  const readServer = () => serverOfOneRead(task, app);

  test('a replica further behind than maxReplicationLag takes no reads (they go to the writer) until it catches up', async () => {
    await waitFor('the replica ONLINE', async () => (await replicaStatus()) === 'ONLINE' ? true : undefined);
    expect(await readServer()).toBe(2);
    await pair.replica.root('STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 8; START SLAVE');
    try {
      const w = await mysql.createConnection({ host: pair.primary.host, port: pair.primary.port, ...pair.admin });
      await w.query(`CREATE TABLE \`${app.dbname}\`.lag (id INT PRIMARY KEY)`);
      await w.end();
      // Seconds_Behind_Master grows while the replica holds the event back: past 2 s it is shunned.
      await waitFor('the replica shunned for lag', async () => (await replicaStatus()) === 'SHUNNED_REPLICATION_LAG' ? true : undefined, 10_000);
      expect(await readServer()).toBe(1);
      await waitFor('the replica back ONLINE once it applied the event', async () => (await replicaStatus()) === 'ONLINE' ? true : undefined, 20_000);
      expect(await readServer()).toBe(2);
    } finally {
      await pair.replica.root('STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE');
    }
  });

  test('a replica whose primary is gone keeps serving reads: its missing lag figure (NULL) counts as none', async () => {
    await pair.replica.root('STOP SLAVE SQL_THREAD');
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const log = await task.admin<Array<{ repl_lag: string | null }>>(
        `SELECT repl_lag FROM monitor.mysql_server_replication_lag_log WHERE port = ${pair.replica.port} ORDER BY time_start_us DESC LIMIT 1`);
      expect(log[0].repl_lag).toBeNull();
      expect(await replicaStatus()).toBe('ONLINE');
      expect(await readServer()).toBe(2);
    } finally {
      await pair.replica.root('START SLAVE SQL_THREAD');
    }
  });
});

describeDataplane('dataplane: reads survive losing the readers', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let app: Record<string, string>;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    const s = endpointsProxyStack();
    const secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    task = await deployTask(s, pair, secrets);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  /** `n` plain reads, each on a new connection (as Lambda invocations would): how many each server answered. */
  async function readServers(n: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const key = await serverOfOneRead(task, app).then(String, () => 'error');
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  }

  /** Poll until every one of `n` reads is answered by `serverId`; returns the time it took. */
  async function untilReadsOn(serverId: number, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await waitFor(`reads on server ${serverId}`, async () => {
      const seen = await readServers(10);
      return seen[String(serverId)] === 10 ? true : undefined;
    }, timeoutMs, 100);
    return Date.now() - t0;
  }

  test('while the replica is healthy reads stay on it; when it is down they go to the writer within 5 s, and back within 5 s of its return', async () => {
    const healthy = await readServers(200);
    expect(healthy['2']).toBeGreaterThanOrEqual(196);
    expect(healthy.error).toBeUndefined();

    await pair.replica.stop();
    const toWriter = await untilReadsOn(1, 5_000);
    await pair.replica.launch();
    // A shunned server is retried after shun_recovery_time_sec (2 s): within 5 s of its return.
    const back = await untilReadsOn(2, 5_000);
    // eslint-disable-next-line no-console
    console.log(`dataplane fallback reads: on the writer ${toWriter} ms after the replica stopped, back on the replica ${back} ms after it started`);
  });

  test('after a failover the weights follow: reads go to the new replica, not the new writer', async () => {
    await pair.swapRoles();
    // The old primary (server 1) is the replica now.
    const took = await untilReadsOn(1, 10_000);
    const seen = await readServers(200);
    expect(seen['1']).toBeGreaterThanOrEqual(196);
    expect(seen.error).toBeUndefined();
    expect(task.log()).toContain('reader weights moved to follow the writer');
    // eslint-disable-next-line no-console
    console.log(`dataplane fallback reads after a failover: back on the replica within ${took} ms`);
  });
});
