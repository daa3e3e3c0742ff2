/**
 * A rolling deployment and a scale-in under load, through the load balancer (HAProxy configured
 * from the synthesized target group and listener, test/fixtures/load-balancer.ts), in ECS's order
 * and with the service's deployment configuration from the template:
 * - new tasks start (each from its own address), are registered, pass the target group's healthy
 *   threshold and the container health check, up to `MaximumPercent` of the desired count running;
 * - old tasks, as many as `MinimumHealthyPercent` allows, are deregistered: new flows go elsewhere,
 *   open flows carry on through the deregistration delay (and past it: the template leaves
 *   connection termination off); then SIGTERM (`task.stop()`), on which the task closes its client
 *   sessions between statements, and SIGKILL after the container's `StopTimeout`.
 * The load: 32 Lambda-style clients with a warm connection each (a mysql2 pool of one, as a Lambda
 * instance keeps one between invocations) running point reads, and a steady stream of cold
 * clients (connect, one point read, close), all through the load balancer. Half the clients do not
 * retry; the other half retry a failed connect or a failed statement once, on a new connection —
 * the pattern the README recommends. The test prints, per family, the failed connects and the
 * failed statements and the phase each failed in (the phase when the client saw the failure: the
 * flows the load balancer resets at the end of the delay fail in the phase that follows), and
 * asserts that the retrying clients lost nothing.
 *
 * Then a task killed and a zone lost, under the same load: SIGKILL to one task (`task.kill()`: the
 * whole task, its process group and its other containers) while it holds warm flows; then, after a
 * scale-out to four tasks as two zones of two, to both tasks of one zone at once. What follows is
 * emulated in this order (`killAndReplace`): the load balancer keeps the dead targets registered
 * and healthy, and gives them new flows, until its health check marks them unhealthy
 * (`UnhealthyThresholdCount` × `HealthCheckIntervalSeconds`, the template's values) and closes the
 * flows they still have; then ECS deregisters each stopped task and starts its replacement, which
 * registers and becomes healthy. ECS may well deregister a stopped task sooner than the health check
 * marks it (it sees the essential container exit within seconds; AWS gives no bound), so the order
 * is the slower one and the test prints the failures by time since the kill: what an earlier
 * deregistration would have left. The statements in flight (sent, not answered) are read in the tick
 * of the kill. Asserted: the retrying clients fail no more statements than the retrying clients had
 * in flight then, and nothing of theirs fails once every dead target is marked. Their failed
 * *connects* before that are not bounded by the statements in flight, and they are printed, not
 * hidden: the load balancer forwards a new flow to a target that looks healthy and does not retry
 * a refused connect on another target, and the client's one retry lands on a dead target again with
 * the same odds (½ here: one target of two, two of four). The clients that do not retry are printed,
 * not bounded. Where the emulation is kinder than AWS: the kill leaves this machine's kernel, which
 * resets the dead task's flows at once; a lost host or zone resets nothing, and on AWS those flows
 * (and connects to the dead targets) hang until the unhealthy connection termination or the client's
 * own timeout.
 *
 * Removal experiment: `DEPLOY_DEREGISTRATION_DELAY=0 npx jest test/dataplane/deploy.test.ts` runs the
 * load balancer with a deregistration delay of 0 (the one override, printed): the old tasks' open
 * flows are reset and SIGTERM follows at once. `DEPLOY_SKIP_DEREGISTRATION=1` stops the old tasks
 * without deregistering them first (SIGTERM while the load balancer still sends them flows, until
 * its health check marks them unhealthy). `DEPLOY_CONNECTION_TERMINATION=1` turns connection
 * termination on (the one override, printed): the load balancer resets the flows left at the end
 * of the delay, before SIGTERM, as the library's target group did until the task closed its
 * sessions itself — the comparison docs/stopping-and-health.md gives.
 */
import * as mysql from 'mysql2/promise';
import { FAMILIES, Family, Failure, Load } from './load';
import { DataplaneStack, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { CfnValue } from '../fixtures/cfn-eval';
import { LoadBalancer, loadBalancerMissing, Target } from '../fixtures/load-balancer';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { proxysqlBinary } from '../fixtures/proxysql-binary';
import { containerDefinition, disposeAllTasks, ExitResult, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';
import { ownAddress } from '../fixtures/source-address';

const describeIf = proxysqlBinary() && !loadBalancerMissing() ? describe : describe.skip;

/** Deployment configuration and stop timeout as synthesized. */
interface ServiceSettings { desired: number; minimumHealthyPercent: number; maximumPercent: number; stopTimeoutSeconds: number }

function serviceSettings(template: Record<string, CfnValue>): ServiceSettings {
  const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, CfnValue> }>;
  const services = Object.values(resources).filter((r) => r.Type === 'AWS::ECS::Service');
  if (services.length !== 1) throw new Error(`expected one ECS service, found ${services.length}`);
  const service = services[0].Properties;
  const config = service.DeploymentConfiguration as Record<string, number>;
  // Without a DesiredCount the service runs what its scalable target's minimum sets.
  const scalable = Object.values(resources).filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget');
  const desired = Number(service.DesiredCount ?? (scalable.length === 1 ? scalable[0].Properties.MinCapacity : 1));
  const container = containerDefinition(template) as unknown as { StopTimeout?: number };
  return {
    desired,
    // ECS's defaults for a service without the settings.
    minimumHealthyPercent: config?.MinimumHealthyPercent ?? 100,
    maximumPercent: config?.MaximumPercent ?? 200,
    stopTimeoutSeconds: container.StopTimeout ?? 30,
  };
}

/** A running task of the service and its target. */
interface Member { task: ProxySqlTask; target: Target }
/** How a task left: its exit code, the flows reset at the end of the delay, SIGTERM to exit. */
interface Stopped { code: number | null; closedAtEnd: number; openAtEnd: number; stopMs: number }
/** What a kill under load came to (see `killAndReplace`). */
interface Crash {
  /** Statements in flight, per family, read in the tick of the kill. */
  inFlight: Record<Family, number>;
  killedAt: number;
  /** The phase from the kill until the load balancer had marked every killed target unhealthy. */
  killedPhase: string;
  exits: ExitResult[];
  /** Per killed target: ms from the kill to marked unhealthy, and the flows it had at the last look before. */
  marked: Array<{ ms: number; openBefore: number }>;
  /** ms from the kill until each replacement was healthy to the load balancer and its container health check. */
  replacedMs: number[];
  /** Flows still open at the end of the deregistration delay of each killed target. */
  closedAtEnd: number[];
  replacements: Member[];
}

describeIf('dataplane: a rolling deployment, a scale-in, a killed task and a lost zone under load, through the load balancer', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let app: Record<string, string>;
  let lb: LoadBalancer;
  let service: ServiceSettings;
  let endpoint: mysql.ConnectionOptions;
  /** The service's running tasks and their targets. */
  let fleet: Member[] = [];
  const removal = process.env.DEPLOY_DEREGISTRATION_DELAY;
  const skipDeregistration = process.env.DEPLOY_SKIP_DEREGISTRATION === '1';
  const termination = process.env.DEPLOY_CONNECTION_TERMINATION === '1';
  const experiment = [
    removal !== undefined ? ` (deregistration delay ${removal} s)` : '',
    skipDeregistration ? ' (no deregistration before SIGTERM)' : '',
    termination ? ' (connection termination on)' : '',
  ].join('');

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    service = serviceSettings(s.template);
    await runBootstrap(s, pair, secrets);
    await onWriter(pair, app.dbname, ['CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(16))', "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')"]);
    // The removal experiment's one change; otherwise every setting is the template's.
    const overrides = removal !== undefined || termination
      ? { ...(removal !== undefined ? { deregistrationDelaySeconds: Number(removal) } : {}), ...(termination ? { connectionTermination: true } : {}) }
      : undefined;
    // 12 slots: the zone test has 4 targets, 2 of them leaving, and 2 replacements at once.
    lb = await LoadBalancer.start({ template: s.template, overrides, slots: 12 });
    endpoint = { host: lb.host, port: lb.port, user: app.username, password: app.password, database: app.dbname };
    console.log(`dataplane deploy: service from the template: ${service.desired} tasks, minimum healthy ${service.minimumHealthyPercent} %, maximum ${service.maximumPercent} %, stop timeout ${service.stopTimeoutSeconds} s`);
    // The service's first deployment: its tasks start, are registered and become healthy.
    fleet = await Promise.all(Array.from({ length: service.desired }, () => startServiceTask()));
  });

  afterAll(async () => {
    await Load.stopAll();
    await lb?.dispose();
    await disposeAllTasks();
    await pair?.destroy();
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** ECS starting a task of the service: the task starts, is registered, passes the load balancer's health check and its container health check. */
  async function startServiceTask(): Promise<Member> {
    const task = await startTask({ template: s.template, secrets, servers: pairServers(pair), sourceAddress: ownAddress() });
    const target = await lb.register({ host: '127.0.0.1', port: task.trafficPort });
    await lb.waitHealthy(target);
    await waitFor('the container health check', async () => ((await task.healthCheck()).code === 0 ? true : undefined), 60_000, 1000);
    return { task, target };
  }

  /** ECS stopping a task of the service: deregistration (the delay), SIGTERM, SIGKILL after the stop timeout. */
  async function stopServiceTask(member: Member, load: Load, label: string): Promise<Stopped> {
    if (skipDeregistration) {
      // The removal experiment: SIGTERM while the target is registered; it leaves the group later.
      load.phase = `${label}: SIGTERM to exit, still registered`;
      const t0 = Date.now();
      const exit = await member.task.stop(service.stopTimeoutSeconds * 1000);
      const stopMs = Date.now() - t0;
      load.phase = `${label}: exited, still registered until marked unhealthy`;
      await lb.waitState(member.target, 'unhealthy', 60_000);
      load.phase = `${label}: marked unhealthy, deregistration`;
      await lb.deregister(member.target);
      return { code: exit.code, closedAtEnd: 0, openAtEnd: 0, stopMs };
    }
    load.phase = `${label}: deregistration delay`;
    const atEnd = lb.settings.connectionTermination
      ? `${label}: flows reset at the end of the delay, SIGTERM to exit`
      : `${label}: SIGTERM, the task closes its client sessions between statements and exits`;
    const { closedAtEnd, openAtEnd } = await lb.deregister(member.target, () => { load.phase = atEnd; });
    const t0 = Date.now();
    const exit = await member.task.stop(service.stopTimeoutSeconds * 1000);
    const drain = member.task.log().split('\n').filter((l) => /proxysql-start: (no client session left|drain time up)/.test(l));
    console.log(`dataplane ${label}: ${drain.join('; ')}`);
    return { code: exit.code, closedAtEnd, openAtEnd, stopMs: Date.now() - t0 };
  }

  /**
   * The slow clients do not retry: a statement of theirs running when the task stops must finish.
   * The task closes each session only between two statements; a close that crosses the next
   * statement on the wire is the one failure allowed (a slow client's pause is 300 ms). A reset at
   * the end of the deregistration delay (`DEPLOY_CONNECTION_TERMINATION=1`) cuts the statements
   * running then: that fails here.
   */
  function expectSlowStatementsSurvive(load: Load): void {
    expect(load.slowServed).toBeGreaterThan(0);
    const failed = load.slowFailures();
    console.log(`dataplane slow statements: ${load.slowServed} served, ${failed.length} failed${failed.length ? ` (${failed.map((f) => f.phase).join('; ')})` : ''}`);
    expect(failed.length).toBeLessThanOrEqual(1);
  }

  function expectServedInEveryPhase(load: Load): void {
    const phases = new Set([...load.served.keys()].map((k) => k.split('|')[1]));
    for (const phase of phases) {
      for (const family of FAMILIES) expect({ family, phase, served: (load.served.get(`${family}|${phase}`) ?? 0) > 0 }).toEqual({ family, phase, served: true });
    }
  }

  /**
   * SIGKILL to whole tasks at once (`task.kill()`: the container's process group and its other
   * containers), and what the NLB and ECS do next, in this order (see the file's header):
   * 1. the kill, in the tick the statements in flight are read;
   * 2. the load balancer keeps each killed target registered and healthy, and keeps giving it new
   *    flows, until its health check has failed `UnhealthyThresholdCount` times in a row (every
   *    `HealthCheckIntervalSeconds`); then it marks it unhealthy and closes the flows it still has
   *    (unhealthy connection termination);
   * 3. only then, per target: ECS deregisters the stopped task (the deregistration delay; a
   *    deregistered target takes no new flow) and starts its replacement, which registers, passes
   *    the healthy threshold and its container health check (`startServiceTask`);
   * 4. the load runs on (phase `after`, 5 s at least) until the killed targets have left the group.
   * ECS sees the essential container exit within seconds and could deregister the target before the
   * health check marks it; AWS documents no bound for that, so the test takes the later order, the
   * longest time the dead target takes new flows (printed: what an earlier deregistration would have
   * left is in the failures by time since the kill). The replacement starts after the marking too: a
   * Fargate task takes longer to start than threshold × interval, and one healthy earlier would take
   * a share of the new flows that on AWS still go to the dead target.
   */
  async function killAndReplace(load: Load, victims: Member[], label: string): Promise<Crash> {
    const { healthCheckIntervalSeconds: interval, unhealthyThresholdCount: fall } = lb.settings;
    const killedPhase = `${label}: killed, still registered and taking new flows until marked unhealthy`;
    for (const v of victims) expect(await lb.state(v.target)).toBe('healthy');
    load.phase = killedPhase;
    const inFlight = load.inFlight();
    const killedAt = Date.now();
    for (const v of victims) v.task.kill();
    const exits = await Promise.all(victims.map((v) => v.task.exited));
    let markedCount = 0;
    const leaving: Array<Promise<{ closedAtEnd: number }>> = [];
    const marked: Crash['marked'] = [];
    const replacing = victims.map(async (v) => {
      let openBefore = 0;
      for (;;) {
        const [state, flows] = await Promise.all([lb.state(v.target), lb.flows(v.target)]);
        if (state === 'unhealthy') break;
        openBefore = flows.open;
        if (Date.now() - killedAt > (fall + 1) * interval * 1000) throw new Error(`${v.target.slot} not marked unhealthy within ${fall + 1} intervals`);
        await sleep(100);
      }
      marked.push({ ms: Date.now() - killedAt, openBefore });
      if (++markedCount === victims.length) load.phase = `${label}: marked unhealthy; ECS deregisters, replacements start`;
      leaving.push(lb.deregister(v.target));
      const replacement = await startServiceTask();
      return { replacement, ms: Date.now() - killedAt };
    });
    const replaced = await Promise.all(replacing);
    // The load runs on with the replacements (5 s at least) while the killed targets finish their deregistration.
    load.phase = 'after';
    const [left] = await Promise.all([Promise.all(leaving), sleep(5000)]);
    return {
      inFlight,
      killedAt,
      killedPhase,
      exits,
      marked: marked.sort((a, b) => a.ms - b.ms),
      replacedMs: replaced.map((r) => r.ms).sort((a, b) => a - b),
      closedAtEnd: left.map((l) => l.closedAtEnd),
      replacements: replaced.map((r) => r.replacement),
    };
  }

  /** The output of a kill: the order emulated, its timings, the failures by time since the kill. */
  function reportCrash(load: Load, crash: Crash, scenario: string): string[] {
    const { healthCheckIntervalSeconds: interval, unhealthyThresholdCount: fall } = lb.settings;
    const lines = load.report(scenario);
    lines.push(`dataplane ${scenario}: statements in flight at the kill ${JSON.stringify(crash.inFlight)}; `
      + `the tasks exited ${JSON.stringify(crash.exits.map((e) => e.signal ?? e.code))}; order emulated: SIGKILL → the load balancer `
      + `marks the target unhealthy (threshold ${fall} × every ${interval} s) after ${JSON.stringify(crash.marked.map((m) => m.ms))} ms, `
      + `flows open at the last look before ${JSON.stringify(crash.marked.map((m) => m.openBefore))} → ECS deregisters the stopped task `
      + `(delay ${lb.settings.deregistrationDelaySeconds} s, flows closed at its end ${JSON.stringify(crash.closedAtEnd)}) and starts a replacement, `
      + `healthy ${JSON.stringify(crash.replacedMs)} ms after the kill`);
    const within = (list: Failure[], ms: number) => list.filter((f) => f.at - crash.killedAt <= ms).length;
    for (const family of FAMILIES) {
      const mine = load.failuresOf(family);
      const connects = mine.filter((f) => f.kind.endsWith('connect'));
      const statements = mine.filter((f) => f.kind.endsWith('statement'));
      lines.push(`dataplane ${scenario}, clients that ${family === 'no retry' ? 'do not retry' : 'retry once'}, failures by time since the kill `
        + '(what an ECS deregistration that soon after the kill would have left): '
        + [1000, 2000, 5000, 10_000].map((ms) => `≤ ${ms / 1000} s: ${within(connects, ms)} connects, ${within(statements, ms)} statements`).join('; ')
        + `; in all: ${connects.length} connects, ${statements.length} statements`);
    }
    return lines;
  }

  /** What a kill must come to: see the file's header. */
  function expectCrashBounds(load: Load, crash: Crash, lines: string[]): void {
    const { healthCheckIntervalSeconds: interval, unhealthyThresholdCount: fall } = lb.settings;
    expect(crash.exits.map((e) => e.signal)).toEqual(crash.exits.map(() => 'SIGKILL'));
    // The first failed check comes within an interval of the kill, the threshold's last (fall − 1) intervals later.
    for (const m of crash.marked) {
      expect(m.ms).toBeGreaterThanOrEqual((fall - 1) * interval * 1000 - 1000);
      expect(m.ms).toBeLessThanOrEqual(fall * interval * 1000 + 1000);
    }
    const retrying = load.failuresOf('retry once');
    // A retrying client loses a statement only if it was in flight on a killed task: its retry runs on a new connection.
    expect(retrying.filter((f) => f.kind.endsWith('statement')).length).toBeLessThanOrEqual(crash.inFlight['retry once']);
    // Its connects, though, fail for as long as the load balancer sends new flows to a dead target (it does not retry a
    // connect on another target, and the client's retry lands on a dead one again as often): not bounded by the statements
    // in flight, printed. Once every killed target is marked unhealthy nothing fails any more.
    expect(retrying.filter((f) => f.phase !== crash.killedPhase)).toEqual([]);
    // The clients that do not retry are not bounded: their figures are printed.
    expect(lines.filter((l) => l.includes('clients that do not retry')).length).toBe(2);
    expectServedInEveryPhase(load);
  }

  test('a rolling deployment in ECS\'s order: the retrying clients lose no statement', async () => {
    const load = new Load(endpoint);
    await load.start();
    await sleep(5000);
    const maxRunning = Math.floor((service.desired * service.maximumPercent) / 100);
    const minHealthy = Math.ceil((service.desired * service.minimumHealthyPercent) / 100);
    let old = fleet;
    const fresh: typeof fleet = [];
    const stops: Stopped[] = [];
    let wave = 0;
    while (old.length > 0) {
      wave += 1;
      const canStart = Math.min(maxRunning - old.length - fresh.length, service.desired - fresh.length);
      if (canStart > 0) {
        load.phase = `wave ${wave}: new tasks start and become healthy`;
        fresh.push(...await Promise.all(Array.from({ length: canStart }, () => startServiceTask())));
      }
      const canStop = Math.min(old.length, old.length + fresh.length - minHealthy);
      if (canStart <= 0 && canStop <= 0) throw new Error('the deployment configuration allows no progress');
      if (canStop > 0) {
        const leaving = old.slice(0, canStop);
        old = old.slice(canStop);
        stops.push(...await Promise.all(leaving.map((m) => stopServiceTask(m, load, `wave ${wave}: old tasks`))));
      }
    }
    load.phase = 'after';
    await sleep(5000);
    await load.stop();
    fleet = fresh;
    for (const line of load.report(`rolling deployment${experiment}`)) console.log(line);
    console.log(`dataplane rolling deployment: ${wave} wave(s); old tasks exited ${JSON.stringify(stops.map((x) => x.code))} `
      + `${JSON.stringify(stops.map((x) => x.stopMs))} ms after SIGTERM; flows reset at the end of the delay ${JSON.stringify(stops.map((x) => x.closedAtEnd))}, `
      + `open at SIGTERM ${JSON.stringify(stops.map((x) => x.openAtEnd))}`);
    expectServedInEveryPhase(load);
    expect(stops.map((x) => x.code)).toEqual(stops.map(() => 0));
    expect(load.failuresOf('retry once')).toEqual([]);
    expectSlowStatementsSurvive(load);
  }, 300_000);

  test('a scale-in of one task (after a scale-out to three) in ECS\'s order: the retrying clients lose no statement', async () => {
    const load = new Load(endpoint);
    await load.start();
    await sleep(3000);
    load.phase = 'scale-out: a new task starts and becomes healthy';
    fleet.push(await startServiceTask());
    load.phase = 'three tasks';
    await sleep(5000);
    const leaving = fleet.shift()!;
    const stop = await stopServiceTask(leaving, load, 'scale-in');
    load.phase = 'after';
    await sleep(5000);
    await load.stop();
    for (const line of load.report(`scale-in${experiment}`)) console.log(line);
    console.log(`dataplane scale-in: the task exited ${stop.code} ${stop.stopMs} ms after SIGTERM; flows reset at the end of the delay ${stop.closedAtEnd}, open at SIGTERM ${stop.openAtEnd}`);
    expectServedInEveryPhase(load);
    expect(stop.code).toBe(0);
    expect(load.failuresOf('retry once')).toEqual([]);
    expectSlowStatementsSurvive(load);
  }, 300_000);

  test('a task killed (SIGKILL) under load: the retrying clients lose no more statements than were in flight', async () => {
    const load = new Load(endpoint);
    await load.start();
    await sleep(3000);
    // One of the two tasks: about half the warm connections are on it, and it has half the new flows until it is marked.
    const victim = fleet[0];
    const crash = await killAndReplace(load, [victim], 'one task');
    fleet = [...fleet.filter((m) => m !== victim), ...crash.replacements];
    await load.stop();
    const lines = reportCrash(load, crash, `task killed${experiment}`);
    for (const line of lines) console.log(line);
    expectCrashBounds(load, crash, lines);
  }, 300_000);

  test('a zone lost (both tasks of one of two zones killed at once) under load: the same bounds', async () => {
    const load = new Load(endpoint);
    await load.start();
    await sleep(3000);
    // Four tasks, two per zone: a scale-out in ECS's order (start, register, healthy). The fixture stack's maxCapacity is
    // 2, so its autoscaling would not run four; the service runs four during a deployment (MaximumPercent 200 %), and a
    // bigger service would.
    load.phase = 'scale-out: two new tasks start and become healthy';
    fleet.push(...await Promise.all([startServiceTask(), startServiceTask()]));
    // ECS spreads a service's tasks over the zones: one of the first two and one of the two new ones in each.
    const zoneA = [fleet[0], fleet[2]];
    load.phase = 'four tasks in two zones';
    await sleep(3000);
    const crash = await killAndReplace(load, zoneA, 'zone A');
    fleet = [...fleet.filter((m) => !zoneA.includes(m)), ...crash.replacements];
    await load.stop();
    const lines = reportCrash(load, crash, `zone lost${experiment}`);
    for (const line of lines) console.log(line);
    expectCrashBounds(load, crash, lines);
  }, 300_000);
});
