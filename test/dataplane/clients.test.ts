/**
 * Real client families through the real ProxySQL (issue 19, "What it must show"): mysql2 (`query`
 * and `execute`), Knex, Sequelize, SQLAlchemy over PyMySQL, Connector/J + HikariCP and Go's
 * go-sql-driver, each running the 100-connection read/write mix of `clients.ts` (16 point reads and
 * 4 autocommit inserts per connection, all connections at once) straight to the MariaDB primary and
 * then through the task started from the synthesized template, in the same test. ProxySQL runs on its
 * own CPU, the client and the databases on the other (as the bench places them).
 *
 * Each proxy run must: fail no statement; take at most 2 × the direct run; give every insert an id
 * that is stored with its row; return the right row to every read; keep the database's connections
 * (information_schema.PROCESSLIST on the primary and the replica, sampled every 100 ms) within its
 * limit, and ProxySQL's backend connections (stats_mysql_connection_pool, sampled likewise) within
 * each server row's max_connections (runtime_mysql_servers). Two stacks: (a) every prop at the
 * library's default (databaseMaxConnections and maxCapacity unset), (b) the reference topology's
 * small Aurora instance (databaseMaxConnections: 90). Both name the engine (MariaDB 10.11), as the
 * fixture is MariaDB.
 */
import * as mysql from 'mysql2/promise';
import {
  checkInserts, CLIENT_FAMILIES, ClientEndpoint, EXPECTED_INSERTS, EXPECTED_READS, runClient, WorkloadResult, workloadSchema,
} from './clients';
import { DataplaneStack, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { ProxySqlEngine } from '../../src';
import { allCpus, pin, placeTiers } from '../fixtures/cpu';
import { MariaDbServer, ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

/** The fixture's servers accept this many: the direct run and the proxy's pool never compete for the last one. */
const FIXTURE_MAX_CONNECTIONS = 300;
/** A run that outlives this has failed the 2 × direct bound many times over; it is stopped and fails. */
const RUN_DEADLINE_MS = Number(process.env.CLIENTS_RUN_DEADLINE_MS ?? 90_000);
const SAMPLE_EVERY_MS = 100;

/** Calls `sample` every `everyMs` until `stop()`, which waits for the sample in flight. */
class Sampler {
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private failure?: unknown;
  public count = 0;

  constructor(private readonly sample: () => Promise<void>, private readonly everyMs = SAMPLE_EVERY_MS) {}

  public start(): this {
    const tick = () => {
      this.inFlight = this.sample().then(() => { this.count += 1; }, (e) => { this.failure ??= e; })
        .finally(() => { if (this.timer) this.timer = setTimeout(tick, this.everyMs); });
    };
    this.timer = setTimeout(tick, 0);
    return this;
  }

  public async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    clearTimeout(this.timer);
    if (this.failure) throw this.failure;
  }
}

/** Peak rows of information_schema.PROCESSLIST on each server. */
async function processlistSampler(servers: MariaDbServer[]): Promise<{ sampler: Sampler; peaks: number[]; close: () => Promise<void> }> {
  const conns = await Promise.all(servers.map((s) => mysql.createConnection({ socketPath: s.socket, user: 'root' })));
  const peaks = servers.map(() => 0);
  const sampler = new Sampler(async () => {
    await Promise.all(conns.map(async (c, i) => {
      const [[r]] = await c.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST');
      peaks[i] = Math.max(peaks[i], Number(r.n));
    }));
  });
  return { sampler, peaks, close: async () => { await Promise.all(conns.map((c) => c.end())); } };
}

interface PoolPeak {
  /** `hostgroup host:port` → most backend connections (ConnUsed + ConnFree) seen, and the row's max_connections then. */
  readonly peaks: Record<string, { connections: number; maxConnections: number }>;
  /** Samples where a row held more than its max_connections. */
  readonly overCap: string[];
}

/** ProxySQL's backend connections per server row against that row's max_connections, through the admin interface. */
async function connectionPoolSampler(task: ProxySqlTask): Promise<{ sampler: Sampler; result: PoolPeak; close: () => Promise<void> }> {
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: task.adminPort, ...task.adminCredentials });
  const result: PoolPeak = { peaks: {}, overCap: [] };
  const sampler = new Sampler(async () => {
    const [servers] = await admin.query<mysql.RowDataPacket[]>('SELECT hostgroup_id, hostname, port, max_connections FROM runtime_mysql_servers');
    const [pool] = await admin.query<mysql.RowDataPacket[]>('SELECT hostgroup, srv_host, srv_port, ConnUsed, ConnFree FROM stats_mysql_connection_pool');
    const caps = new Map(servers.map((s) => [`${s.hostgroup_id} ${s.hostname}:${s.port}`, Number(s.max_connections)]));
    for (const p of pool) {
      const key = `${p.hostgroup} ${p.srv_host}:${p.srv_port}`;
      const connections = Number(p.ConnUsed) + Number(p.ConnFree);
      const cap = caps.get(key);
      if (cap === undefined) throw new Error(`stats_mysql_connection_pool has ${key}, runtime_mysql_servers does not`);
      if (connections > cap && result.overCap.length < 10) result.overCap.push(`${key}: ${connections} > max_connections ${cap}`);
      if (connections >= (result.peaks[key]?.connections ?? 0)) result.peaks[key] = { connections, maxConnections: cap };
    }
  });
  return { sampler, result, close: () => admin.end() };
}

interface Variant {
  readonly name: string;
  readonly stack: () => DataplaneStack;
  /** The database limit the proxy run must stay within, given the fixture's own max_connections. */
  readonly databaseLimit: (fixtureMaxConnections: number) => number;
}

const ENGINE = ProxySqlEngine.mariaDb('10.11');
const VARIANTS: Variant[] = [
  {
    name: '(a) every prop at its default',
    stack: () => endpointsProxyStack({ libraryDefaults: true, backend: { engine: ENGINE } }),
    // The library is not told the limit and assumes 100: the proxy must keep within that.
    databaseLimit: () => 100,
  },
  {
    name: '(b) the reference topology\'s small instance (databaseMaxConnections 90)',
    stack: () => endpointsProxyStack({ libraryDefaults: true, backend: { engine: ENGINE, databaseMaxConnections: 90 } }),
    // A db.t4g.medium accepts 90: the proxy must keep the servers within that.
    databaseLimit: () => 90,
  },
];

/** The families whose toolchain is here; the others are named once and skipped. */
const runnable = CLIENT_FAMILIES.filter((f) => {
  const why = f.missing();
  // eslint-disable-next-line no-console
  if (why) console.log(`dataplane clients: ${f.label} skipped — ${why}`);
  return !why;
});
const skipped = CLIENT_FAMILIES.filter((f) => !runnable.includes(f));

function summary(r: WorkloadResult): string {
  return `${r.elapsedMs} ms, ${r.errorCount} errors, ${r.reads} right reads, ${r.inserts.length} inserts`;
}

describeDataplane('dataplane: real client families, 100 pooled connections of reads and inserts, direct vs through ProxySQL', () => {
  let pair: ReplicatedPair;
  let fixtureMaxConnections: number;

  beforeAll(async () => {
    for (const f of runnable) f.build();
    // Room for the direct run's 100 connections beside the proxy's pooled ones (up to its budget of
    // 90 or 100 per server); each proxy run is held to its variant's limit below.
    pair = await startReplicatedPair({ maxConnections: FIXTURE_MAX_CONNECTIONS });
    fixtureMaxConnections = Number((await pair.primary.root<Array<{ m: number }>>('SELECT @@max_connections AS m'))[0].m);
  }, 900_000);

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  describe.each(VARIANTS)('$name', (variant) => {
    let s: DataplaneStack;
    let secrets: TaskSecrets;
    let task: ProxySqlTask;
    let direct: ClientEndpoint;
    let proxy: ClientEndpoint;
    let placement: string;

    beforeAll(async () => {
      s = variant.stack();
      secrets = secretValues(s, pair);
      const app = secrets[s.ids.app];
      await runBootstrap(s, pair, secrets);
      await onWriter(pair, app.dbname, workloadSchema());
      task = await startTask({ template: s.template, secrets, servers: pairServers(pair) });
      // A deployed task runs with the share for the tasks that run (here one), which it takes
      // within seconds of its start (fleet-share.sh); the workload runs from then on.
      await waitFor('the share for one task', async () => (task.log().includes('1 running tasks:') ? true : undefined), 30_000, 250);
      placement = placeTiers([task.pid], [process.pid, pair.primary.pid, pair.replica.pid]).description;
      proxy = { host: '127.0.0.1', port: task.trafficPort, user: app.username, password: app.password, database: app.dbname };
      direct = { ...proxy, port: pair.primary.port };
      // eslint-disable-next-line no-console
      const [{ n: share }] = await task.admin<Array<{ n: string }>>('SELECT MAX(max_connections) AS n FROM runtime_mysql_servers');
      console.log(`dataplane clients ${variant.name}: ${s.proxy.backendConnectionsPerServer} backend connections per task and server at synth (the static share), ${share} for one running task; ${placement}`);
    }, 120_000);

    afterAll(async () => {
      pin([process.pid], allCpus());
      await task?.dispose();
    });

    const name = '%s: 0 errors, within 2 × direct, every insert stored, right rows, connections within the limits';
    if (skipped.length > 0) test.skip.each(skipped.map((f) => [f.label]))(name, () => undefined);
    if (runnable.length === 0) return;
    test.each(runnable.map((f) => [f.label, f] as const))(name, async (_label, family) => {
      const tag = (where: string) => `${family.id}-${variant.name.slice(1, 2)}-${where}-${Date.now()}`;

      const directTag = tag('direct');
      const directRun = (await runClient(family, direct, directTag, RUN_DEADLINE_MS)).result;
      const directInserts = await checkInserts({ ...direct }, directTag, directRun.inserts);

      const proxyTag = tag('proxy');
      const db = await processlistSampler([pair.primary, pair.replica]);
      const pool = await connectionPoolSampler(task);
      db.sampler.start();
      pool.sampler.start();
      let proxyRun: WorkloadResult;
      try {
        proxyRun = (await runClient(family, proxy, proxyTag, RUN_DEADLINE_MS)).result;
      } finally {
        await Promise.all([db.sampler.stop(), pool.sampler.stop()]);
        await Promise.all([db.close(), pool.close()]);
      }
      const proxyInserts = await checkInserts({ ...direct }, proxyTag, proxyRun.inserts);
      const limit = variant.databaseLimit(fixtureMaxConnections);
      const writerRows = Object.entries(pool.result.peaks).filter(([k]) => k.endsWith(`:${pair.primary.port}`))
        .map(([k, v]) => `hg ${k.split(' ')[0]} ${v.connections}/${v.maxConnections}`).join(', ');
      // eslint-disable-next-line no-console
      console.log([
        `dataplane clients ${family.label} [${Object.entries(proxyRun.versions).map(([k, v]) => `${k} ${v}`).join(', ')}] ${variant.name}:`,
        `  direct ${summary(directRun)}`,
        `  proxy  ${summary(proxyRun)} (${(proxyRun.elapsedMs / directRun.elapsedMs).toFixed(2)} × direct)`,
        `  peak connections on the primary ${db.peaks[0]}, on the replica ${db.peaks[1]} (limit ${limit}; ${db.sampler.count} samples);`
          + ` ProxySQL to the writer ${writerRows} (${pool.sampler.count} samples)`,
        ...Object.entries(proxyRun.errors).map(([m, n]) => `  proxy error ${n} × ${m}`),
      ].join('\n'));

      // The direct run is the baseline: it must be right too.
      expect({ errors: directRun.errors, reads: directRun.reads, wrongReads: directRun.wrongReads, inserts: directRun.inserts.length, directInserts })
        .toEqual({ errors: {}, reads: EXPECTED_READS, wrongReads: [], inserts: EXPECTED_INSERTS, directInserts: [] });
      expect(db.sampler.count).toBeGreaterThan(0);
      expect(pool.sampler.count).toBeGreaterThan(0);
      expect({
        errors: proxyRun.errors,
        reads: proxyRun.reads,
        wrongReads: proxyRun.wrongReads.slice(0, 10),
        inserts: proxyRun.inserts.length,
        insertProblems: proxyInserts.slice(0, 10),
        time: proxyRun.elapsedMs <= 2 * directRun.elapsedMs ? 'within 2 × direct' : `${proxyRun.elapsedMs} ms > 2 × ${directRun.elapsedMs} ms`,
        databaseConnections: db.peaks.every((p) => p <= limit) ? `within ${limit}` : `peaks ${db.peaks.join(' / ')} > ${limit}`,
        backendOverCap: pool.result.overCap,
      }).toEqual({
        errors: {},
        reads: EXPECTED_READS,
        wrongReads: [],
        inserts: EXPECTED_INSERTS,
        insertProblems: [],
        time: 'within 2 × direct',
        databaseConnections: `within ${limit}`,
        backendOverCap: [],
      });
    }, 2 * RUN_DEADLINE_MS + 60_000);
  });
});
