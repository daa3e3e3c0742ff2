/**
 * `npx projen bench`: the data-plane figures, side by side with direct connections, in one run on
 * this machine. A benchmark prints; it asserts nothing (the tests assert behaviour).
 *
 * Topology: the synthesized default `ProxySqlFargate` (plain-endpoints backend, read_only checks)
 * emulated as two tasks (the default desiredCount; new connections alternate between them as the
 * NLB spreads them), in front of a MariaDB primary + read-only replica on 127.0.0.1. "Direct"
 * means the same client straight to the replica (reads) of a second pair alike, which no proxy
 * holds connections on — what a Lambda function would do without the proxy — except for the write
 * mix (the client-family tier's workload, `clients.ts`: 100 pooled mysql2 connections, 20
 * statements each, one in five an autocommit INSERT), which goes straight to that pair's primary.
 *
 * CPU placement: in production the proxy runs on its own Fargate vCPUs, the database on its
 * instance and the client in Lambda. Here all of them share the machine's cores, so a proxy in the
 * path takes CPU from the client and the database it serves. The bench prints the shared figure,
 * then places the tiers as production does (ProxySQL's tasks on the last core, the client and the
 * databases on the others, for both paths alike) for the rest of the table.
 *
 * Then the task-size table (`sizes.ts`): Fargate's 0.25 (512 MiB and 1 GiB), 0.5, 1 and 2 vCPU sizes emulated
 * with cgroups, two tasks each, beside direct. BENCH_SIZES (keys of SIZES, e.g. `0.25/1024,1`) and BENCH_SIZE_BURSTS
 * choose what it runs, and BENCH_ONLY=sizes runs the size table alone; it prints one line instead when
 * cgroups are not writable here.
 */
import * as os from 'os';
import * as mysql from 'mysql2/promise';
import { WORKLOAD, workloadSchema } from './clients';
import { runWorkload, WorkloadResult } from './clients/node/workload';
import { printSizeTable, sizeKeys } from './sizes';
import { deployTask, endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { BurstResult, coldBurst, Endpoint, latencies, percentile, sustainedQps, writesAcrossSwitchover } from './workloads';
import { allCpus, pin, placeTiers } from '../fixtures/cpu';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { proxysqlBinary, proxysqlVersion, SKIP_LINE } from '../fixtures/proxysql-binary';
import { disposeAllTasks, startTask } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

const READ = 'SELECT note FROM items WHERE id = ?';
const SUSTAIN_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BURSTS = (process.env.BENCH_BURSTS ?? '2000,5000').split(',').map(Number);
/**
 * The task-size table (`sizes.ts`): the sizes (vCPUs) and its cold bursts. A short run (BENCH_BURSTS
 * given, as CI's bench-smoke does) runs the smallest size with those bursts only.
 */
const SIZE_LIST = (process.env.BENCH_SIZES ?? (process.env.BENCH_BURSTS ? '0.25' : sizeKeys().join(','))).split(',');
const SIZE_BURSTS = (process.env.BENCH_SIZE_BURSTS ?? process.env.BENCH_BURSTS ?? '1000,2000,5000').split(',').map(Number);

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

async function main(): Promise<void> {
  const bin = proxysqlBinary();
  if (!bin) {
    console.log(SKIP_LINE);
    return;
  }
  if (process.env.BENCH_ONLY === 'sizes') {
    await printSizeTable({ sizes: SIZE_LIST, bursts: SIZE_BURSTS, sustainSeconds: SUSTAIN_SECONDS, sql: READ });
    return;
  }
  const pair = await startReplicatedPair();
  // "Direct" runs against a pair of its own, alike: the proxy's tasks keep their pooled backend
  // connections (up to their share, 2 × 62 on the replica) open on `pair`, which would leave a direct
  // client there fewer than the 151 it would find on a database without a proxy.
  const directPair = await startReplicatedPair();
  const failoverPair = await startReplicatedPair();
  try {
    const s = endpointsProxyStack();
    const secrets = secretValues(s, pair);
    // The service's default: two tasks, new connections spread over them as the NLB does, each
    // from its own address as on Fargate (they count each other and share the budget).
    const task = await deployTask(s, pair, secrets, { sourceAddress: ownAddress() });
    const task2 = await startTask({ template: s.template, secrets, servers: pairServers(pair), sourceAddress: ownAddress() });
    const app = secrets[s.ids.app];
    const proxy1: Endpoint = { host: '127.0.0.1', port: task.trafficPort, user: app.username, password: app.password, database: app.dbname };
    const proxy: Endpoint[] = [proxy1, { ...proxy1, port: task2.trafficPort }];
    const direct: Endpoint = { ...proxy1, port: directPair.replica.port };
    await runBootstrap(s, directPair, { ...secrets, [s.ids.dbAdmin]: { username: directPair.admin.user, password: directPair.admin.password } });
    /** Queries the tasks sent to the writer's fallback row in the reader hostgroup. */
    const spilled = async () => {
      let n = 0;
      for (const t of [task, task2]) {
        // The writer as this task reaches it (its relay's port).
        const [{ port }] = await t.admin<Array<{ port: string }>>('SELECT port FROM runtime_mysql_servers WHERE hostgroup_id = 10');
        const rows = await t.admin<Array<{ q: string }>>(`SELECT Queries AS q FROM stats_mysql_connection_pool WHERE hostgroup = 20 AND srv_port = ${Number(port)}`);
        n += rows.reduce((sum, r) => sum + Number(r.q), 0);
      }
      return n;
    };
    // Each task takes the share for two running tasks within seconds (fleet-share.sh).
    const shareOf = async (t: typeof task) => Number((await t.admin<Array<{ n: string }>>('SELECT MAX(max_connections) AS n FROM runtime_mysql_servers'))[0].n);
    const fleetShares = /server_shares=[0-9]+,[0-9]+,[0-9]+,([0-9:,]+)/.exec(JSON.stringify(s.template))![1].split(',').map((x) => Number(x.split(':')[0]));
    await waitFor('the share for two tasks', async () => ((await Promise.all([task, task2].map(shareOf))).every((n) => n === fleetShares[1]) ? true : undefined), 60_000, 500);
    const setup = await mysql.createConnection(proxy1);
    await setup.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(32))');
    await setup.query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    // The client-family tier's read/write mix (test/dataplane/clients.ts) has tables of its own.
    for (const sql of workloadSchema()) await setup.query(sql);
    await setup.end();
    await pair.sync();
    const dsetup = await mysql.createConnection({ ...direct, port: directPair.primary.port });
    await dsetup.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(32))');
    await dsetup.query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    for (const sql of workloadSchema()) await dsetup.query(sql);
    await dsetup.end();
    await directPair.sync();
    const maxConn = await directPair.replica.root<Array<{ m: number }>>('SELECT @@max_connections AS m');

    console.log(`ProxySQL: ${proxysqlVersion(bin)}`);
    console.log(`MariaDB: ${(await pair.primary.root<Array<{ v: string }>>('SELECT VERSION() AS v'))[0].v}, max_connections ${maxConn[0].m} per server`);
    console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${new Date().toISOString()}`);
    console.log('');

    // Warm up both paths (pools fill, caches warm).
    await sustainedQps(proxy, 32, 1, READ);
    await sustainedQps(direct, 32, 1, READ);

    const lp = await latencies(proxy1, 3000, READ);
    const ld = await latencies(direct, 3000, READ);
    const sharedProxy = await sustainedQps(proxy, 32, SUSTAIN_SECONDS, READ);
    const sharedDirect = await sustainedQps(direct, 32, SUSTAIN_SECONDS, READ);

    const placement = placeTiers([task.pid, task2.pid], [process.pid, ...[pair, directPair].flatMap((p) => [p.primary.pid, p.replica.pid])]);
    const where = placement.description;
    const qpsProxy = await sustainedQps(proxy, 32, SUSTAIN_SECONDS, READ);
    const qpsDirect = await sustainedQps(direct, 32, SUSTAIN_SECONDS, READ);


    console.log(row(['measure', 'direct', 'through ProxySQL', 'ratio / overhead']));
    console.log(row(['---', '---', '---', '---']));
    console.log(row(['one client, point read p50 (ms)', ld[1500].toFixed(3), lp[1500].toFixed(3), `+${((percentile(lp, 50) - percentile(ld, 50)) * 1000).toFixed(0)} µs`]));
    console.log(row(['one client, point read p99 (ms)', percentile(ld, 99).toFixed(3), percentile(lp, 99).toFixed(3), `+${((percentile(lp, 99) - percentile(ld, 99)) * 1000).toFixed(0)} µs`]));
    console.log(row([`32 warm clients, QPS (${SUSTAIN_SECONDS} s), all tiers sharing every CPU`, sharedDirect.toFixed(0), sharedProxy.toFixed(0),
      `${(sharedProxy / sharedDirect).toFixed(2)} ×`]));
    console.log(row([`32 warm clients, QPS (${SUSTAIN_SECONDS} s), ${where}`, qpsDirect.toFixed(0), qpsProxy.toFixed(0), `${(qpsProxy / qpsDirect).toFixed(2)} ×`]));

    for (const n of BURSTS) {
      const results: Array<{ label: string; r: BurstResult; peaks: number[] }> = [];
      for (const [label, ep, db] of [['direct', direct, directPair], ['proxy', proxy, pair]] as Array<[string, Endpoint | Endpoint[], ReplicatedPair]>) {
        await Promise.all([db.primary.root('FLUSH LOCAL STATUS'), db.replica.root('FLUSH LOCAL STATUS')]);
        const spillBefore = await spilled();
        const r = await coldBurst(ep, n, READ);
        if (label === 'proxy') console.log(`    proxy: ${(await spilled()) - spillBefore} of the ${n} reads spilled onto the writer (the readers' pool was full)`);
        const peaks = await Promise.all([db.primary, db.replica].map(async (srv) =>
          Number((await srv.root<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Max_used_connections'"))[0].Value)));
        results.push({ label, r, peaks });
      }
      const budget = `budget ${fleetShares[1]} per task and server × 2 tasks (static share ${s.proxy.backendConnectionsPerServer})`;
      const cell = ({ label, r, peaks }: typeof results[number]) =>
        `${r.served}/${r.clients} (${((100 * r.served) / r.clients).toFixed(1)} %), p50 ${r.p50Ms} ms, peak conns primary ${peaks[0]} / replica ${peaks[1]}`
        + (label === 'proxy' ? ` (${budget})` : ` (limit ${maxConn[0].m})`);
      console.log(row([`cold burst ${n} clients (connect, 1 read, close)`, cell(results[0]), cell(results[1]), '']));
      for (const { label, r } of results) {
        for (const [msg, count] of Object.entries(r.errors)) console.log(`    ${label} errors: ${count} × ${msg}`);
      }
      const after = await sustainedQps(proxy, 32, SUSTAIN_SECONDS, READ);
      const afterDirect = await sustainedQps(direct, 32, SUSTAIN_SECONDS, READ);
      console.log(row([`32 warm clients right after the ${n} burst, QPS`, afterDirect.toFixed(0), after.toFixed(0), `${(after / afterDirect).toFixed(2)} ×`]));
    }

    // The client-family tier's write mix with the mysql2 pool: writes go to the primary, so that is
    // where "direct" points here; through the proxy the pool's connections are spread over both tasks.
    const mix = async (endpoints: Endpoint[], tag: string): Promise<WorkloadResult> => runWorkload('query', {
      endpoints: endpoints.map((e) => ({ ...e, database: e.database! })), ...WORKLOAD, tag,
    });
    const mixDirect = await mix([{ ...proxy1, port: directPair.primary.port }], 'bench-direct');
    const mixProxy = await mix(proxy, 'bench-proxy');
    const statements = WORKLOAD.clients * WORKLOAD.statements;
    const mixCell = (r: WorkloadResult) => `${r.elapsedMs} ms (${Math.round((1000 * statements) / r.elapsedMs)} statements/s), ${r.errorCount} errors`;
    console.log(row([`write mix: ${WORKLOAD.clients} pooled clients (mysql2 pool), ${WORKLOAD.statements} statements each, 20 % autocommit inserts (direct: the primary)`,
      mixCell(mixDirect), mixCell(mixProxy), `${(mixProxy.elapsedMs / mixDirect.elapsedMs).toFixed(2)} × the time`]));
    for (const [label, r] of [['direct', mixDirect], ['proxy', mixProxy]] as const) {
      for (const [msg, count] of Object.entries(r.errors)) console.log(`    write mix ${label} errors: ${count} × ${msg}`);
      if (r.wrongReads.length > 0) console.log(`    write mix ${label}: ${r.wrongReads.length} reads returned another row`);
    }

    // Failover on its own pair and task (the swap changes the topology), every tier on every CPU.
    if (placement.placed) pin([process.pid], allCpus());
    const fs2 = endpointsProxyStack();
    const fsecrets = secretValues(fs2, failoverPair);
    const ftask = await deployTask(fs2, failoverPair, fsecrets);
    const fapp = fsecrets[fs2.ids.app];
    const f = await writesAcrossSwitchover(
      { host: '127.0.0.1', port: ftask.trafficPort, user: fapp.username, password: fapp.password, database: fapp.dbname }, failoverPair, 'w');
    console.log(row(['failover: first write on the new primary after the switchover began', '—', `${f.resumeMs} ms`,
      `${f.acknowledged} acknowledged, ${f.lost.length} lost, ${f.failedAttempts} failed attempts (switchover ${f.switchMs} ms)`]));

    // The task sizes, each on its own tasks: nothing else of the bench runs meanwhile.
    await disposeAllTasks();
    await printSizeTable({ sizes: SIZE_LIST, bursts: SIZE_BURSTS, sustainSeconds: SUSTAIN_SECONDS, sql: READ });
  } finally {
    await disposeAllTasks();
    await Promise.all([pair.destroy(), directPair.destroy(), failoverPair.destroy()]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
