/**
 * The connection budget for the fleet that runs (`fleet-share.sh`), on the real ProxySQL: tasks of
 * one service, each with its own address as on Fargate, count each other on the writer and share
 * 90 % of what the database accepts among those running, through scale-out, scale-in and a rolling
 * deployment, under a load that wants more than any share. The database never sees more of the
 * fleet's connections than its share.
 *
 * Clients reach a new task only after the target group's health check has passed it (interval ×
 * healthy threshold, read from the synthesized template), and leave a task before it is stopped, as
 * the NLB deregisters a target before ECS sends SIGTERM.
 */
import { DataplaneStack, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { ProxySqlEngine } from '../../src';
import { MariaDbServer, ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

const DB_LIMIT = 100;
/** maxConnectionsPercent's default 90 % of it. */
const FLEET_LIMIT = 90;
/** Per-row shares for 1 … 4 running tasks: floor((90 − 3 − 4n) / n) (maxCapacity 2: 4 tasks during a deployment). */
const SHARES = [83, 39, 25, 17];
/** Clients per task, more than any share: each task uses all it may. */
const CLIENTS_PER_TASK = 60;

interface Load {
  stop(): Promise<{ statements: number; errors: string[] }>;
}

/** `clients` connections to `task`, each alternating a 30 ms write-side and a 30 ms read-side statement until stopped. */
async function startLoad(task: ProxySqlTask, app: Record<string, string>, clients: number): Promise<Load> {
  const conns = await Promise.all(Array.from({ length: clients },
    () => task.client(app.username, app.password, { database: app.dbname, connectTimeout: 30_000 })));
  let running = true;
  let statements = 0;
  const errors: string[] = [];
  const loops = conns.map(async (c) => {
    while (running) {
      try {
        await c.query('DO SLEEP(0.03)');
        await c.query('SELECT SLEEP(0.03) AS s');
        statements += 2;
      } catch (e) {
        errors.push(String((e as Error).message).slice(0, 120));
        return;
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
      return { statements, errors };
    },
  };
}

/** The fleet's connections on each server (application and monitor users), sampled every 100 ms: the peak total, per address. */
class Sampler {
  public peakTotal = 0;
  public readonly peakByAddress = new Map<string, number>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(server: MariaDbServer, users: string[]) {
    this.loop = (async () => {
      while (this.running) {
        const rows = await server.root<Array<{ a: string; n: number }>>(
          'SELECT SUBSTRING_INDEX(host, \':\', 1) AS a, COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE user IN (?, ?) GROUP BY a', users);
        const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
        this.peakTotal = Math.max(this.peakTotal, total);
        for (const r of rows) this.peakByAddress.set(r.a, Math.max(this.peakByAddress.get(r.a) ?? 0, Number(r.n)));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  /** Start a new window of peaks. */
  public reset(): void {
    this.peakTotal = 0;
    this.peakByAddress.clear();
  }

  public async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

describeDataplane('dataplane: the connection budget follows the tasks that run', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let app: Record<string, string>;
  let samplers: Sampler[];
  /** Seconds from a task's start until the NLB sends it clients: the target group's interval × healthy threshold. */
  let healthySeconds: number;
  const addresses = new Map<ProxySqlTask, string>();

  async function startFleetTask(): Promise<ProxySqlTask> {
    const sourceAddress = ownAddress();
    const task = await startTask({ template: s.template, secrets, servers: pairServers(pair), sourceAddress });
    addresses.set(task, sourceAddress);
    return task;
  }

  /** The row budget a task runs with now: the replica's row (the writer's row in the readers keeps a quarter). */
  async function share(task: ProxySqlTask): Promise<number> {
    const rows = await task.admin<Array<{ n: string }>>('SELECT MAX(max_connections) AS n FROM runtime_mysql_servers WHERE hostgroup_id = 20');
    return Number(rows[0].n);
  }

  /** Wait until every task runs with `want`; the ms it took. */
  async function sharesBecome(tasks: ProxySqlTask[], want: number, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await waitFor(`shares of ${want}`, async () => ((await Promise.all(tasks.map(share))).every((n) => n === want) ? true : undefined), timeoutMs, 250);
    return Date.now() - t0;
  }

  function expectWithinLimit(phase: string): void {
    for (const [i, sampler] of samplers.entries()) {
      console.log(`dataplane fleet ${phase}: ${i === 0 ? 'primary' : 'replica'} peak ${sampler.peakTotal} fleet connections, per task ${JSON.stringify(Object.fromEntries(sampler.peakByAddress))}`);
      expect(sampler.peakTotal).toBeLessThanOrEqual(FLEET_LIMIT);
    }
  }

  function peakOf(task: ProxySqlTask, server: number): number {
    return samplers[server].peakByAddress.get(addresses.get(task)!) ?? 0;
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    pair = await startReplicatedPair({ maxConnections: DB_LIMIT });
    s = endpointsProxyStack({ backend: { databaseMaxConnections: DB_LIMIT, engine: ProxySqlEngine.mariaDb('10.11') } });
    secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    await runBootstrap(s, pair, secrets);
    await onWriter(pair, app.dbname, ['CREATE TABLE items (id INT PRIMARY KEY)', 'INSERT INTO items VALUES (1)']);
    const groups = Object.values(s.template.Resources as Record<string, { Type: string; Properties: Record<string, number> }>)
      .filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups).toHaveLength(1);
    healthySeconds = groups[0].Properties.HealthCheckIntervalSeconds * groups[0].Properties.HealthyThresholdCount;
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('the shares the task moves between are rendered from the budget: floor((90 − 3 − 4n) / n) for n = 1 … 4', () => {
    expect(s.proxy.backendConnectionsPerServer).toBe(SHARES[3]);
    const config = JSON.stringify(s.template);
    const line = /# cdk-proxysql server_shares=([0-9,:]*)\\n/.exec(config)?.[1];
    expect(line).toBe(`10,20,1000,${SHARES.map((n) => `${n}:${Math.floor(n / 4)}`).join(',')}`);
    // n tasks at their share, with their monitors and counters, stay within the fleet's 90.
    SHARES.forEach((perTask, i) => expect((i + 1) * perTask + 3 + 4 * (i + 1)).toBeLessThanOrEqual(FLEET_LIMIT));
  });

  test('two tasks, four, two again, and a rolling deployment under load: the database never sees more than 90, and two tasks each use about half', async () => {
    const errors: string[] = [];
    const stopLoad = async (l: Load) => { errors.push(...(await l.stop()).errors); };
    const users = [app.username, secrets[s.ids.monitor].username];
    samplers = [new Sampler(pair.primary, users), new Sampler(pair.replica, users)];
    try {
      // Two tasks: each counts two and takes the share for two.
      const [t1, t2] = await Promise.all([startFleetTask(), startFleetTask()]);
      const t0 = Date.now();
      // Both have counted and moved their share (whatever to: the limit decides below).
      await waitFor('both tasks to take a share', async () => ([t1, t2].every((t) => /running tasks: \d+ backend connections/.test(t.log())) ? true : undefined), 30_000, 250);
      console.log(`dataplane fleet: two new tasks took the share for ${JSON.stringify(await Promise.all([t1, t2].map(share)))} ${Date.now() - t0} ms after they answered`);
      samplers.forEach((x) => x.reset());
      const loaded = async (t: ProxySqlTask) => [t, await startLoad(t, app, CLIENTS_PER_TASK)] as [ProxySqlTask, Load];
      let loads = new Map<ProxySqlTask, Load>(await Promise.all([t1, t2].map(loaded)));
      await sleep(10_000);
      expectWithinLimit('two tasks');
      expect(await Promise.all([t1, t2].map(share))).toEqual([SHARES[1], SHARES[1]]);
      for (const t of [t1, t2]) {
        // About half of the fleet's 90 on the replica each (the static share would be 17).
        expect(peakOf(t, 1)).toBeGreaterThanOrEqual(SHARES[1] - 2);
        // On the writer: writes plus its fallback-read row, the same budget.
        expect(peakOf(t, 0)).toBeGreaterThan(SHARES[3]);
      }

      // Scale-out to four: the running tasks lower their share before the new ones get clients.
      samplers.forEach((x) => x.reset());
      const started = Date.now();
      const [t3, t4] = await Promise.all([startFleetTask(), startFleetTask()]);
      const loweredAfter = await sharesBecome([t1, t2], SHARES[3], 15_000);
      console.log(`dataplane fleet: running tasks lowered to the share for four (${SHARES[3]}) ${loweredAfter} ms after the new tasks answered`);
      await sleep(Math.max(0, started + healthySeconds * 1000 - Date.now()));
      for (const t of [t3, t4]) loads.set(t, await startLoad(t, app, CLIENTS_PER_TASK));
      await sharesBecome([t1, t2, t3, t4], SHARES[3], 5_000);
      await sleep(10_000);
      expectWithinLimit('scale-out to four');
      expect(loweredAfter).toBeLessThan(healthySeconds * 1000);

      // Scale-in to two: the load balancer stops sending clients to t3 and t4, then ECS stops them.
      samplers.forEach((x) => x.reset());
      await Promise.all([t3, t4].map((t) => stopLoad(loads.get(t)!)));
      loads.delete(t3); loads.delete(t4);
      const stopped = await Promise.all([t3, t4].map((t) => t.stop()));
      expect(stopped.map((x) => x.code)).toEqual([0, 0]);
      const reraisedAfter = await sharesBecome([t1, t2], SHARES[1], 30_000);
      console.log(`dataplane fleet: after scale-in the two left took the share for two ${reraisedAfter} ms after the others exited`);
      await sleep(5_000);
      expectWithinLimit('scale-in to two');

      // A rolling deployment (maximum 200 %): two new tasks start and become healthy, clients move to
      // them, the old ones are deregistered and stopped.
      samplers.forEach((x) => x.reset());
      const deployStart = Date.now();
      const [t5, t6] = await Promise.all([startFleetTask(), startFleetTask()]);
      await sharesBecome([t1, t2, t5, t6], SHARES[3], 15_000);
      await sleep(Math.max(0, deployStart + healthySeconds * 1000 - Date.now()));
      const next = new Map<ProxySqlTask, Load>();
      for (const t of [t5, t6]) next.set(t, await startLoad(t, app, CLIENTS_PER_TASK));
      await sleep(5_000);
      await Promise.all([t1, t2].map((t) => stopLoad(loads.get(t)!)));
      const oldStopped = await Promise.all([t1, t2].map((t) => t.stop()));
      expect(oldStopped.map((x) => x.code)).toEqual([0, 0]);
      loads = next;
      const newRaisedAfter = await sharesBecome([t5, t6], SHARES[1], 30_000);
      console.log(`dataplane fleet: after the deployment the new tasks took the share for two ${newRaisedAfter} ms after the old ones exited`);
      await sleep(8_000);
      expectWithinLimit('rolling deployment');
      for (const t of [t5, t6]) expect(peakOf(t, 1)).toBeGreaterThanOrEqual(SHARES[1] - 2);

      await Promise.all([...loads.values()].map(stopLoad));
      // Every client was served: statements waited for a connection, none failed.
      expect(errors).toEqual([]);
      await Promise.all([t5, t6].map((t) => t.stop()));
    } finally {
      await Promise.all(samplers.map((x) => x.stop()));
    }
  }, 300_000);

  test('a task that cannot count the tasks (no writer to ask) goes back to the static share within about 10 s, and takes its share again once it can', async () => {
    const t = await startFleetTask();
    await waitFor('the share for one task', async () => (t.log().includes('1 running tasks:') ? true : undefined), 30_000, 250);
    expect(await share(t)).toBe(SHARES[0]);
    await pair.primary.stop();
    let back: number;
    try {
      const t0 = Date.now();
      await sharesBecome([t], SHARES[3], 20_000);
      back = Date.now() - t0;
      expect(t.log()).toContain('cannot count the running tasks on the writer; using the share that is safe for 4 tasks');
    } finally {
      await pair.primary.launch();
    }
    const again = await sharesBecome([t], SHARES[0], 40_000);
    console.log(`dataplane fleet: with the writer down the task was back at the static share (${SHARES[3]}) ${back} ms after it stopped, and at the share for one task again ${again} ms after it returned`);
  }, 120_000);
});
