/**
 * The load balancer of the tier (test/fixtures/load-balancer.ts: HAProxy configured from the
 * synthesized target group and listener) in front of two real tasks: flows spread over the healthy
 * targets, a new target takes flows only once it has passed the healthy threshold, a killed task
 * is marked unhealthy after the unhealthy threshold × the interval, and a deregistered target takes
 * no new flow and keeps its open flows past the deregistration delay (connection termination is off),
 * until SIGTERM makes the task close them between statements. Every interval, threshold and
 * delay is the template's (no `overrides`).
 */
import * as mysql from 'mysql2/promise';
import { DataplaneStack, endpointsProxyStack, pairServers, runBootstrap, secretValues } from './topology';
import { CfnValue } from '../fixtures/cfn-eval';
import { LoadBalancer, loadBalancerMissing, Target } from '../fixtures/load-balancer';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { proxysqlBinary } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

const describeIf = proxysqlBinary() && !loadBalancerMissing() ? describe : describe.skip;
if (proxysqlBinary() && loadBalancerMissing()) console.log(`dataplane load balancer: skipped — ${loadBalancerMissing()}`);

describeIf('dataplane: the load balancer in front of the tasks', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let app: Record<string, string>;
  let lb: LoadBalancer;
  const open: mysql.Connection[] = [];

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  function startFleetTask(): Promise<ProxySqlTask> {
    return startTask({ template: s.template, secrets, servers: pairServers(pair), sourceAddress: ownAddress() });
  }

  async function register(task: ProxySqlTask): Promise<Target> {
    return lb.register({ host: '127.0.0.1', port: task.trafficPort });
  }

  /** A client connection through the load balancer, kept until afterAll (or closed by the test). */
  async function connect(): Promise<mysql.Connection> {
    const c = await mysql.createConnection({ host: lb.host, port: lb.port, user: app.username, password: app.password, connectTimeout: 10_000 });
    c.on('error', () => undefined);
    open.push(c);
    return c;
  }

  /** The slot each connection's flow goes to, by its source port. */
  async function slotsOf(conns: mysql.Connection[]): Promise<string[]> {
    const sessions = await lb.sessions();
    return conns.map((c) => sessions.get((c as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort) ?? '?');
  }

  /** Client sessions the task itself sees. */
  async function clientSessions(task: ProxySqlTask): Promise<number> {
    const rows = await task.admin<Array<{ n: string }>>('SELECT COUNT(*) AS n FROM stats_mysql_processlist');
    return Number(rows[0].n);
  }

  function closeAll(conns: mysql.Connection[]): void {
    for (const c of conns) c.destroy();
  }

  let t1: ProxySqlTask;
  let t2: ProxySqlTask;
  let target1: Target;
  let target2: Target;
  let killedLeaves: Promise<unknown> | undefined;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    await runBootstrap(s, pair, secrets);
    lb = await LoadBalancer.start({ template: s.template });
    [t1, t2] = await Promise.all([startFleetTask(), startFleetTask()]);
  });

  afterAll(async () => {
    closeAll(open);
    await lb?.dispose();
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('it runs with the target group\'s and the listener\'s settings as synthesized', () => {
    const resources = s.template.Resources as Record<string, { Type: string; Properties: Record<string, CfnValue> }>;
    const group = Object.values(resources).find((r) => r.Type === 'AWS::ElasticLoadBalancingV2::TargetGroup')!.Properties;
    const listener = Object.values(resources).find((r) => r.Type === 'AWS::ElasticLoadBalancingV2::Listener')!.Properties;
    const attr = (list: CfnValue, key: string) => (list as Array<{ Key: string; Value: string }>).find((a) => a.Key === key)?.Value;
    expect(lb.settings).toEqual(lb.templateSettings);
    expect(lb.settings).toMatchObject({
      healthCheckIntervalSeconds: group.HealthCheckIntervalSeconds,
      healthyThresholdCount: group.HealthyThresholdCount,
      unhealthyThresholdCount: group.UnhealthyThresholdCount,
      deregistrationDelaySeconds: Number(attr(group.TargetGroupAttributes, 'deregistration_delay.timeout_seconds')),
      connectionTermination: attr(group.TargetGroupAttributes, 'deregistration_delay.connection_termination.enabled') === 'true',
      idleTimeoutSeconds: Number(attr(listener.ListenerAttributes, 'tcp.idle_timeout.seconds')),
    });
    // The values this file's timings rest on.
    expect(lb.settings).toMatchObject({
      healthCheckIntervalSeconds: 10,
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 2,
      deregistrationDelaySeconds: 20,
      connectionTermination: false,
      idleTimeoutSeconds: 1800,
    });
  });

  test('a new target gets no flow until it passes the healthy threshold; then new flows spread over both tasks', async () => {
    const { healthCheckIntervalSeconds: interval, healthyThresholdCount: rise } = lb.settings;
    target1 = await register(t1);
    expect(await lb.state(target1)).toBe('unhealthy');
    const healthy1 = await lb.waitHealthy(target1);
    target2 = await register(t2);
    expect(await lb.state(target2)).toBe('unhealthy');
    // While the second target climbs to its threshold, every new flow goes to the first.
    const early = await Promise.all(Array.from({ length: 20 }, connect));
    expect(await lb.state(target2)).toBe('unhealthy');
    expect(new Set(await slotsOf(early))).toEqual(new Set([target1.slot]));
    expect([await clientSessions(t1), await clientSessions(t2)]).toEqual([20, 0]);
    closeAll(early);
    const healthy2 = await lb.waitHealthy(target2);
    console.log(`dataplane load balancer: targets healthy ${healthy1} ms and ${healthy2} ms after registration (threshold ${rise} checks every ${interval} s)`);
    for (const ms of [healthy1, healthy2]) {
      expect(ms).toBeGreaterThanOrEqual((rise - 1) * interval * 1000 - 1000);
      expect(ms).toBeLessThanOrEqual(rise * interval * 1000 + 1000);
    }

    await sleep(500);
    const conns: mysql.Connection[] = [];
    for (let i = 0; i < 10; i++) conns.push(...await Promise.all(Array.from({ length: 20 }, connect)));
    const slots = await slotsOf(conns);
    const on = [target1, target2].map((t) => slots.filter((x) => x === t.slot).length);
    const seen = [await clientSessions(t1), await clientSessions(t2)];
    console.log(`dataplane load balancer: 200 new flows → ${on.join(' and ')} (the tasks count ${seen.join(' and ')} client sessions)`);
    expect(on[0] + on[1]).toBe(200);
    // The tasks see what the load balancer says it sent them.
    expect(seen).toEqual(on);
    // An even spread: 200 flows at ½ each land within 100 ± 40 (± 5.7 σ).
    for (const n of on) expect(Math.abs(n - 100)).toBeLessThanOrEqual(40);
    for (const c of conns) await c.query('SELECT 1');
    closeAll(conns);
  }, 120_000);

  test('a killed task is marked unhealthy after the unhealthy threshold × the interval, and new flows go to the other', async () => {
    const { healthCheckIntervalSeconds: interval, unhealthyThresholdCount: fall } = lb.settings;
    expect(await lb.state(target2)).toBe('healthy');
    t2.kill();
    const killedAt = Date.now();
    const downMs = await lb.waitState(target2, 'unhealthy', (fall + 1) * interval * 1000);
    console.log(`dataplane load balancer: killed task marked unhealthy ${downMs} ms after SIGKILL (threshold ${fall} checks every ${interval} s)`);
    // The first failed check comes within one interval of the kill, the threshold's last (fall − 1) intervals later.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual((fall - 1) * interval * 1000 - 500);
    expect(downMs).toBeLessThanOrEqual(fall * interval * 1000 + 1000);
    const conns = await Promise.all(Array.from({ length: 20 }, connect));
    expect(new Set(await slotsOf(conns))).toEqual(new Set([target1.slot]));
    closeAll(conns);
    // ECS replaces the task: the killed one leaves the group (after the delay), a new one comes in.
    killedLeaves = lb.deregister(target2);
  }, 120_000);

  test('a deregistered target takes no new flow and keeps its open flows past the delay (connection termination off); '
    + 'SIGTERM then closes each of them between statements', async () => {
    const delay = lb.settings.deregistrationDelaySeconds;
    t2 = await startFleetTask();
    target2 = await register(t2);
    await lb.waitHealthy(target2);
    await sleep(500);
    const before = await Promise.all(Array.from({ length: 24 }, connect));
    const slots = await slotsOf(before);
    const onLeaving = before.filter((_c, i) => slots[i] === target2.slot);
    const onStaying = before.filter((_c, i) => slots[i] === target1.slot);
    expect(onLeaving.length).toBeGreaterThan(0);
    expect(onLeaving.length + onStaying.length).toBe(24);
    const closedAt = new Map<mysql.Connection, number>();
    for (const c of onLeaving) {
      const mark = () => { if (!closedAt.has(c)) closedAt.set(c, Date.now()); };
      (c as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection.stream.once('close', mark);
    }

    const started = Date.now();
    const done = lb.deregister(target2);
    await sleep(300);
    expect(await lb.state(target2)).toBe('draining');
    const during = await Promise.all(Array.from({ length: 12 }, connect));
    expect(new Set(await slotsOf(during))).toEqual(new Set([target1.slot]));
    const { closedAtEnd, openAtEnd } = await done;
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(delay * 1000);
    expect(closedAtEnd).toBe(0);
    expect(openAtEnd).toBe(onLeaving.length);
    expect(await lb.state(target2)).toBe('unused');
    // Past the delay, the target has left the group and its flows still work.
    await sleep(1000);
    for (const c of onLeaving) await c.query('SELECT 1');
    expect(closedAt.size).toBe(0);
    const after = await Promise.all(Array.from({ length: 6 }, connect));
    expect(new Set(await slotsOf(after))).toEqual(new Set([target1.slot]));

    // ECS's next step: SIGTERM. The task closes every idle client session; the clients see their
    // connections end (no statement of theirs was running), and the task exits 0.
    const sigterm = Date.now();
    const exit = await t2.stop();
    await sleep(200);
    expect(exit.code).toBe(0);
    expect(closedAt.size).toBe(onLeaving.length);
    const lastClose = Math.max(...closedAt.values()) - sigterm;
    console.log(`dataplane load balancer: deregistration of a target with ${onLeaving.length} open flows took ${tookMs} ms (delay ${delay} s); `
      + `the flows stayed open; after SIGTERM the task closed them within ${lastClose} ms and exited ${exit.code} ${exit.at - sigterm} ms after it`);
    expect(lastClose).toBeLessThanOrEqual(exit.at - sigterm + 200);
    for (const c of onLeaving) await expect(c.query('SELECT 1')).rejects.toThrow();
    // The flows to the target that stays are untouched.
    for (const c of [...onStaying, ...during, ...after]) await c.query('SELECT 1');
    await killedLeaves;
  }, 120_000);
});
