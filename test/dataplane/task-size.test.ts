/**
 * The task-size emulation the bench's size table runs on (`test/fixtures/cgroup.ts`): a task started
 * in a cgroup has its whole process tree in it, passes its health check there, and the cgroup holds
 * what it says: a CPU-bound process gets no more than its quota, and one that outgrows the memory
 * limit is killed by it.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { cgroupName, cgroupsUnavailable, joinCommand, TaskCgroup } from '../fixtures/cgroup';
import { withChildren } from '../fixtures/cpu';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask } from '../fixtures/proxysql-task';

const unavailable = cgroupsUnavailable();
// eslint-disable-next-line no-console
if (unavailable) console.log(`dataplane task size: skipped — ${unavailable}`);
const testCg = unavailable ? test.skip : test;

/** Run `command` in the cgroup until it exits or `ms` pass; its exit signal. */
function runIn(cgroup: TaskCgroup, command: string[], ms: number): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    const argv = joinCommand(cgroup, command);
    const p = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    const timer = setTimeout(() => p.kill('SIGTERM'), ms);
    p.on('exit', (_code, signal) => { clearTimeout(timer); resolve(signal); });
  });
}

describeDataplane('dataplane: a task in a cgroup of its size (CPU quota, memory limit)', () => {
  let pair: ReplicatedPair;
  const cgroups: TaskCgroup[] = [];
  const made = (vcpus: number, memoryMiB: number) => {
    const c = new TaskCgroup(cgroupName(`test-${vcpus}vcpu`), { vcpus, memoryMiB });
    cgroups.push(c);
    return c;
  };

  beforeAll(async () => {
    pair = await startReplicatedPair();
  });

  afterAll(async () => {
    await disposeAllTasks();
    for (const c of cgroups) c.remove();
    await pair?.destroy();
  });

  testCg('the task\'s whole process tree and its health check run in the cgroup', async () => {
    const s = endpointsProxyStack({ proxy: { cpu: 256, memoryLimitMiB: 512 } });
    const secrets = secretValues(s, pair);
    await runBootstrap(s, pair, secrets);
    const cgroup = made(0.25, 512);
    expect(cgroup.quota).toMatch(/^25000\/100000 µs$/);
    const task: ProxySqlTask = await startTask({ template: s.template, secrets, servers: pairServers(pair), cgroup });
    const tree = withChildren(task.pid);
    const inside = new Set(cgroup.pids());
    // The task starts short-lived children (the fleet counter's mysql, sleep): one that exited between
    // the two readings cannot be checked; every one still running must be in the cgroup.
    const again = new Set(cgroup.pids());
    const outside = tree.filter((pid) => !inside.has(pid) && !again.has(pid) && fs.existsSync(`/proc/${pid}`));
    expect(outside).toEqual([]);
    expect(tree.filter((pid) => inside.has(pid)).length).toBeGreaterThanOrEqual(2);
    expect(task.proxysqlPids().length).toBeGreaterThanOrEqual(1);
    expect(task.proxysqlRssKiB()).toBeGreaterThan(0);
    const health = await task.healthCheck();
    expect(health).toEqual(expect.objectContaining({ code: 0 }));
    await task.dispose();
    await waitFor('the cgroup to empty', async () => (cgroup.pids().length === 0 ? true : undefined), 5000, 100);
  });

  testCg('a CPU-bound process gets at most its quota', async () => {
    const cgroup = made(0.25, 512);
    const before = cgroup.cpuUse();
    const t0 = Date.now();
    await runIn(cgroup, ['sh', '-c', 'while :; do :; done'], 2000);
    const seconds = (Date.now() - t0) / 1000;
    const after = cgroup.cpuUse();
    // 0.25 vCPU of every 100 ms period, and one period's worth of slack.
    expect(after.cpuSeconds - before.cpuSeconds).toBeLessThanOrEqual(0.25 * seconds + 0.025);
    expect(after.throttledPeriods - before.throttledPeriods).toBeGreaterThan(0);
  });

  testCg('a process that outgrows the memory limit is killed by it', async () => {
    const cgroup = made(0.25, 64);
    // 256 MiB, touched page by page, in a 64 MiB cgroup (swap included, where the kernel accounts it).
    const signal = await runIn(cgroup, ['python3', '-c', 'b = bytearray(256 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1'], 20_000);
    expect(signal).toBe('SIGKILL');
    expect(cgroup.oomKills()).toBe(1);
  });
});
