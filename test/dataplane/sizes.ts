/**
 * The bench's task-size table: Fargate sizes emulated with cgroups (`test/fixtures/cgroup.ts`).
 * Per size, a synthesized default `ProxySqlFargate` with that `cpu` and `memoryLimitMiB` (worker
 * threads and client `max_connections` follow from them in the rendered configuration) runs as
 * two tasks, each from its own address, each in a cgroup of its own: CPU quota = vCPUs × period,
 * memory limit = the task's memory, for ProxySQL and every process of its container. The tasks'
 * cgroups stay on the proxy's CPU as the rest of the bench places them (`cpu.ts`). It prints
 * beside direct: the sustained QPS of 32 warm clients, the largest cold burst served in full
 * within `borrowTimeout`, one client's point-read p50/p99, and ProxySQL's RSS at rest and at its
 * peak under that burst. It asserts nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as mysql from 'mysql2/promise';
import { endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { BurstResult, coldBurst, Endpoint, latencies, percentile, sustainedQps } from './workloads';
import { cgroupName, cgroupsUnavailable, TaskCgroup } from '../fixtures/cgroup';
import { placeTiers, withChildren } from '../fixtures/cpu';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { proxysqlBinary, proxysqlVersion } from '../fixtures/proxysql-binary';
import { ProxySqlTask, startTask } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

/**
 * Fargate's sizes measured here, by key: `<vCPUs>` for the smallest memory Fargate offers with that
 * many vCPUs times two (as the library's sizes go), `<vCPUs>/<MiB>` for another memory.
 */
export const SIZES: Record<string, { vcpus: number; cpu: number; memoryLimitMiB: number }> = {
  '0.25': { vcpus: 0.25, cpu: 256, memoryLimitMiB: 512 },
  // 0.25 vCPU with more memory: the client max_connections follow the memory.
  '0.25/1024': { vcpus: 0.25, cpu: 256, memoryLimitMiB: 1024 },
  '0.5': { vcpus: 0.5, cpu: 512, memoryLimitMiB: 1024 },
  '1': { vcpus: 1, cpu: 1024, memoryLimitMiB: 2048 },
  '2': { vcpus: 2, cpu: 2048, memoryLimitMiB: 4096 },
};

/** The keys of SIZES, smallest first (vCPUs, then memory). */
export function sizeKeys(): string[] {
  return Object.keys(SIZES).sort((a, b) => SIZES[a].vcpus - SIZES[b].vcpus || SIZES[a].memoryLimitMiB - SIZES[b].memoryLimitMiB);
}

export interface SizeTableOptions {
  /** The sizes to run (keys of SIZES). */
  readonly sizes: string[];
  /** Cold bursts to try, smallest first; the table stops at the first one not served in full. */
  readonly bursts: number[];
  readonly sustainSeconds: number;
  readonly sql: string;
}

interface BurstRun {
  readonly r: BurstResult;
  /** Peak RSS of each task's ProxySQL processes during the burst (KiB). */
  readonly peakKiB: number[];
  readonly inFull: boolean;
}

interface SizeRow {
  readonly label: string;
  readonly config: string;
  readonly quota: string;
  readonly qps: number;
  /** The direct run's QPS right after the proxy's (the same minute of the machine's load). */
  readonly directQps: number;
  /** One task alone on the proxy's CPU, with its half of the 32 clients (`soloRun`). */
  readonly soloQps: number;
  readonly soloCpu: number;
  readonly soloThrottled: number;
  readonly cpuUsed: string;
  readonly bursts: BurstRun[];
  readonly p50: number;
  readonly p99: number;
  readonly restKiB: number[];
  readonly notes: string[];
}

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

const mib = (kib: number) => (kib / 1024).toFixed(0);

/**
 * CPU seconds the `socat` relays of this process have used (the tasks' own source addresses,
 * `source-address.ts`): an emulation cost that production does not pay, on the client's CPU here.
 */
function relayCpuSeconds(): number {
  let ticks = 0;
  for (const pid of withChildren(process.pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'socat') continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch { /* gone meanwhile */ }
  }
  return ticks / 100; // USER_HZ
}

/**
 * Bursts smallest first until one is not served in full (every client its row, the slowest within
 * `borrowMs`). `sample` runs every 100 ms during each burst (the RSS peaks).
 */
async function burstLadder(ep: Endpoint | Endpoint[], bursts: number[], sql: string, borrowMs: number,
  sample: () => number[]): Promise<BurstRun[]> {
  const runs: BurstRun[] = [];
  for (const n of bursts) {
    let peak = sample();
    const timer = setInterval(() => { peak = sample().map((v, i) => Math.max(v, peak[i])); }, 100);
    const r = await coldBurst(ep, n, sql);
    clearInterval(timer);
    peak = sample().map((v, i) => Math.max(v, peak[i]));
    const inFull = r.served === n && r.maxMs <= borrowMs;
    runs.push({ r, peakKiB: peak, inFull });
    if (!inFull) break;
  }
  return runs;
}

function burstLines(label: string, runs: BurstRun[]): string[] {
  return runs.flatMap(({ r, peakKiB, inFull }) => [
    `    ${label}: burst ${r.clients}: ${r.served}/${r.clients} served, p50 ${r.p50Ms} ms, slowest ${r.maxMs} ms${inFull ? '' : ' (not in full)'}`
    + (peakKiB.length > 0 ? `; ProxySQL RSS peak ${peakKiB.map(mib).join(' / ')} MiB` : ''),
    ...Object.entries(r.errors).map(([msg, count]) => `      ${count} × ${msg}`),
  ]);
}

function largest(runs: BurstRun[]): BurstRun | undefined {
  return runs.filter((b) => b.inFull).pop();
}

/** The table's burst cell. */
function burstCell(runs: BurstRun[]): string {
  const best = largest(runs);
  const failed = runs.find((b) => !b.inFull);
  const first = best ? `${best.r.clients} (slowest ${(best.r.maxMs / 1000).toFixed(1)} s)` : 'none';
  return failed ? `${first}; ${failed.r.clients}: ${failed.r.served} served, slowest ${(failed.r.maxMs / 1000).toFixed(1)} s` : `${first}; larger not tried`;
}

/**
 * One task alone with its half of the 32 clients. With two tasks on the proxy's one CPU each can have
 * half of it, so quotas above 0.5 vCPU do not bind in the two-task run; alone, a task's quota binds
 * up to the whole CPU. This task connects to the databases straight, without a relay (the relays cost
 * the client's CPU 0.24–0.28 vCPU in the two-task runs, which then limits the proxy's clients): a
 * lone task needs no address of its own to count itself.
 */
async function soloRun(key: string, s: ReturnType<typeof endpointsProxyStack>, secrets: ReturnType<typeof secretValues>, pair: ReplicatedPair,
  o: SizeTableOptions): Promise<{ soloQps: number; soloCpu: number; soloThrottled: number }> {
  const size = SIZES[key];
  const cgroup = new TaskCgroup(cgroupName(`${key.replace('/', 'v')}vcpu-solo`), { vcpus: size.vcpus, memoryMiB: size.memoryLimitMiB });
  let task: ProxySqlTask | undefined;
  try {
    task = await startTask({ template: s.template, secrets, servers: pairServers(pair), cgroup });
    placeTiers([task.pid], [process.pid, pair.primary.pid, pair.replica.pid]);
    const app = secrets[s.ids.app];
    const ep: Endpoint = { host: '127.0.0.1', port: task.trafficPort, user: app.username, password: app.password, database: app.dbname };
    await sustainedQps(ep, 16, 1, o.sql);
    const before = cgroup.cpuUse();
    const soloQps = await sustainedQps(ep, 16, o.sustainSeconds, o.sql);
    const after = cgroup.cpuUse();
    const soloCpu = (after.cpuSeconds - before.cpuSeconds) / o.sustainSeconds;
    return { soloQps, soloCpu, soloThrottled: after.throttledPeriods - before.throttledPeriods };
  } finally {
    await task?.dispose();
    cgroup.remove();
  }
}

async function measureSize(key: string, pair: ReplicatedPair, direct: Endpoint, o: SizeTableOptions, proxyCpus: number): Promise<SizeRow> {
  const size = SIZES[key];
  const label = `${size.vcpus} vCPU / ${size.memoryLimitMiB} MiB`;
  const s = endpointsProxyStack({ proxy: { cpu: size.cpu, memoryLimitMiB: size.memoryLimitMiB } });
  const secrets = secretValues(s, pair);
  await runBootstrap(s, pair, secrets);
  const cgroups = [1, 2].map((i) => new TaskCgroup(cgroupName(`${key.replace('/', 'v')}vcpu-${i}`), { vcpus: size.vcpus, memoryMiB: size.memoryLimitMiB }));
  const tasks: ProxySqlTask[] = [];
  const notes: string[] = [];
  try {
    for (const cgroup of cgroups) {
      tasks.push(await startTask({ template: s.template, secrets, servers: pairServers(pair), sourceAddress: ownAddress(), cgroup }));
    }
    // The socat relays (each task's own source address, an emulation cost) stay on the client's CPU:
    // on the proxy's CPU they took 0.3 vCPU of it from the tasks (measured, 2026-12-03 18:51 UTC).
    placeTiers(tasks.map((t) => t.pid), [process.pid, pair.primary.pid, pair.replica.pid]);
    const variable = async (name: string) =>
      (await tasks[0].admin<Array<{ v: string }>>(`SELECT variable_value AS v FROM runtime_global_variables WHERE variable_name = '${name}'`))[0]?.v;
    const threads = await variable('mysql-threads');
    const maxConns = await variable('mysql-max_connections');
    const borrowMs = Number(await variable('mysql-connect_timeout_server_max'));
    const shareOf = async (t: ProxySqlTask) => Number((await t.admin<Array<{ n: string }>>('SELECT MAX(max_connections) AS n FROM runtime_mysql_servers'))[0].n);
    const fleetShares = /server_shares=[0-9]+,[0-9]+,[0-9]+,([0-9:,]+)/.exec(JSON.stringify(s.template))![1].split(',').map((x) => Number(x.split(':')[0]));
    await waitFor('the share for two tasks', async () => ((await Promise.all(tasks.map(shareOf))).every((n) => n === fleetShares[1]) ? true : undefined), 60_000, 500);

    const app = secrets[s.ids.app];
    const proxy: Endpoint[] = tasks.map((t) => ({ host: '127.0.0.1', port: t.trafficPort, user: app.username, password: app.password, database: app.dbname }));
    const setup = await mysql.createConnection(proxy[0]);
    await setup.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(32))');
    await setup.query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    await setup.end();
    await pair.sync();

    const pids = tasks.map((t) => t.proxysqlPids());
    const rss = () => tasks.map((t, i) => t.proxysqlRssKiB(pids[i]));
    const restKiB = rss();
    // What each cgroup holds: the container's whole process tree (ProxySQL, the start script, its helpers).
    const comm = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return '?'; } };
    cgroups.forEach((c, i) => {
      const names = c.pids().map(comm);
      const counts = [...new Set(names)].map((n) => `${n} × ${names.filter((x) => x === n).length}`);
      notes.push(`    ${label}: task ${i + 1}'s cgroup at rest holds ${counts.join(', ')}; ProxySQL processes ${pids[i].length}`);
    });

    await sustainedQps(proxy, 32, 1, o.sql);
    const lat = await latencies(proxy[0], 3000, o.sql);
    const before = cgroups.map((c) => c.cpuUse());
    const relayBefore = relayCpuSeconds();
    const qps = await sustainedQps(proxy, 32, o.sustainSeconds, o.sql);
    const after = cgroups.map((c) => c.cpuUse());
    const relayUsed = (relayCpuSeconds() - relayBefore) / o.sustainSeconds;
    const used = after.map((a, i) => (a.cpuSeconds - before[i].cpuSeconds) / o.sustainSeconds);
    const throttled = after.map((a, i) => a.throttledPeriods - before[i].throttledPeriods);
    const directQps = await sustainedQps(direct, 32, o.sustainSeconds, o.sql);
    const solo = await soloRun(key, s, secrets, pair, o);

    notes.push(`    ${label}: during the 32-client run the socat relays (each task's own source address; not there in production) used ${relayUsed.toFixed(2)} vCPU`
      + ' of the client\'s CPU');
    const bursts = await burstLadder(proxy, o.bursts, o.sql, borrowMs, rss);
    notes.push(...burstLines(label, bursts));
    const oom = cgroups.map((c) => c.oomKills());
    if (oom.some((n) => n > 0)) notes.push(`    ${label}: the memory limit killed processes (oom_kill ${oom.join(' / ')})`);
    tasks.forEach((t, i) => { if (t.hasExited) notes.push(`    ${label}: task ${i + 1} exited during the run:\n${t.log().slice(-1500)}`); });
    const share = Math.min(size.vcpus, proxyCpus / tasks.length);
    return {
      label,
      config: `${threads} / ${maxConns}`,
      quota: `${cgroups[0].quota}` + (share < size.vcpus ? ` (does not bind: the ${tasks.length} tasks share ${proxyCpus} CPU, ${share} each)` : ''),
      qps,
      directQps,
      ...solo,
      cpuUsed: `${used.map((u) => u.toFixed(2)).join(' / ')} (throttled in ${throttled.join(' / ')} periods)`,
      bursts,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      restKiB,
      notes,
    };
  } finally {
    await Promise.all(tasks.map((t) => t.dispose()));
    for (const c of cgroups) c.remove();
  }
}

/** Print the task-size table (or the one line saying why it was skipped). */
export async function printSizeTable(o: SizeTableOptions): Promise<void> {
  console.log('');
  for (const v of o.sizes) if (!SIZES[v]) throw new Error(`task size ${v}: not one of the sizes measured (${sizeKeys().join(', ')}: vCPUs, or vCPUs/MiB)`);
  const reason = cgroupsUnavailable();
  if (reason) {
    console.log(`size table: skipped — ${reason}`);
    return;
  }
  const bin = proxysqlBinary();
  if (!bin) throw new Error('no ProxySQL binary');
  const pair = await startReplicatedPair();
  try {
    console.log(`Task sizes: ${proxysqlVersion(bin)}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB;`
      + ` load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the start; ${new Date().toISOString()}`);
    // Direct: the same client straight to the replica, placed as for the proxy runs (no proxy runs now).
    const placement = placeTiers([], [process.pid, pair.primary.pid, pair.replica.pid]);
    const proxyCpus = placement.placed ? placement.proxyCpus.split(',').length : 1;
    const probe = endpointsProxyStack();
    const dsecrets = secretValues(probe, pair);
    await runBootstrap(probe, pair, dsecrets);
    const dapp = dsecrets[probe.ids.app];
    const direct: Endpoint = { host: '127.0.0.1', port: pair.replica.port, user: dapp.username, password: dapp.password, database: dapp.dbname };
    const setup = await mysql.createConnection({ ...direct, port: pair.primary.port });
    await setup.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(32))');
    await setup.query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    await setup.end();
    await pair.sync();
    await sustainedQps(direct, 32, 1, o.sql);
    const dlat = await latencies(direct, 3000, o.sql);
    const dqps = await sustainedQps(direct, 32, o.sustainSeconds, o.sql);
    // The default borrowTimeout as rendered (each size reads its own from its running task).
    const borrowMs = Number(/connect_timeout_server_max=(\d+)/.exec(JSON.stringify(probe.template))![1]);
    const dbursts = await burstLadder(direct, o.bursts, o.sql, borrowMs, () => []);

    const rows: SizeRow[] = [];
    for (const key of o.sizes) rows.push(await measureSize(key, pair, direct, o, proxyCpus));

    console.log(`Two tasks per size, each task's container in a cgroup (CPU quota = vCPUs × period, memory limit = task memory), ${placement.description};`
      + ` bursts tried ${o.bursts.join(', ')} over both tasks, smallest first, up to the first not served in full (every client its row within borrowTimeout).`);
    console.log(row(['task size', 'worker threads / client max_connections', 'CPU quota per task',
      `32 warm clients, QPS (${o.sustainSeconds} s; × the direct run right after it)`,
      'CPU used per task meanwhile (vCPU)', `one task alone, no relay, 16 clients: QPS (CPU used; periods throttled)${proxyCpus === 1 ? '; a quota binds up to 1 vCPU' : ''}`, 'largest cold burst served in full', 'one client, point read p50 / p99 (ms)', 'ProxySQL RSS at rest (MiB, task 1 / 2)',
      'ProxySQL RSS peak under that burst (MiB)']));
    console.log(row(['---', '---', '---', '---', '---', '---', '---', '---', '---', '---']));
    console.log(row(['direct to the replica', '—', '—', dqps.toFixed(0), '—', '—', burstCell(dbursts),
      `${percentile(dlat, 50).toFixed(3)} / ${percentile(dlat, 99).toFixed(3)}`, '—', '—']));
    for (const r of rows) {
      const best = largest(r.bursts);
      console.log(row([r.label, r.config, r.quota, `${r.qps.toFixed(0)} (${(r.qps / r.directQps).toFixed(2)} × ${r.directQps.toFixed(0)})`, r.cpuUsed,
        `${r.soloQps.toFixed(0)} (${r.soloCpu.toFixed(2)} vCPU; ${r.soloThrottled})`, burstCell(r.bursts),
        `${r.p50.toFixed(3)} / ${r.p99.toFixed(3)}`, r.restKiB.map(mib).join(' / '), best ? best.peakKiB.map(mib).join(' / ') : '—']));
    }
    for (const l of burstLines('direct', dbursts)) console.log(l);
    for (const r of rows) for (const l of r.notes) console.log(l);
    console.log(`Task sizes: load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end; ${new Date().toISOString()}`);
  } finally {
    await pair.destroy();
  }
}
