/**
 * A rolling deployment and a scale-in under load, through the load balancer (HAProxy configured
 * from the synthesized target group and listener, test/fixtures/load-balancer.ts), in ECS's order
 * and with the service's deployment configuration from the template:
 * - new tasks start (each from its own address), are registered, pass the target group's healthy
 *   threshold and the container health check, up to `MaximumPercent` of the desired count running;
 * - old tasks, as many as `MinimumHealthyPercent` allows, are deregistered: new flows go elsewhere,
 *   open flows carry on for the deregistration delay and are then reset; then SIGTERM
 *   (`task.stop()`), and SIGKILL after the container's `StopTimeout`.
 * The load: 32 Lambda-style clients with a warm connection each (a mysql2 pool of one, as a Lambda
 * instance keeps one between invocations) running point reads, and a steady stream of cold
 * clients (connect, one point read, close), all through the load balancer. Half the clients do not
 * retry; the other half retry a failed connect or a failed statement once, on a new connection —
 * the pattern the README recommends. The test prints, per family, the failed connects and the
 * failed statements and the phase each failed in (the phase when the client saw the failure: the
 * flows the load balancer resets at the end of the delay fail in the phase that follows), and
 * asserts that the retrying clients lost nothing.
 *
 * Removal experiment: `DEPLOY_DEREGISTRATION_DELAY=0 npx jest test/dataplane/deploy.test.ts` runs the
 * load balancer with a deregistration delay of 0 (the one override, printed): the old tasks' open
 * flows are reset and SIGTERM follows at once. `DEPLOY_SKIP_DEREGISTRATION=1` stops the old tasks
 * without deregistering them first (SIGTERM while the load balancer still sends them flows, until
 * its health check marks them unhealthy).
 */
import * as mysql from 'mysql2/promise';
import { FAMILIES, Load } from './load';
import { DataplaneStack, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { CfnValue } from '../fixtures/cfn-eval';
import { LoadBalancer, loadBalancerMissing, Target } from '../fixtures/load-balancer';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { proxysqlBinary } from '../fixtures/proxysql-binary';
import { containerDefinition, disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';
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
interface Stopped { code: number | null; closedAtEnd: number; stopMs: number }

describeIf('dataplane: a rolling deployment and a scale-in under load, through the load balancer', () => {
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
  const experiment = [removal !== undefined ? ` (deregistration delay ${removal} s)` : '', skipDeregistration ? ' (no deregistration before SIGTERM)' : ''].join('');

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    service = serviceSettings(s.template);
    await runBootstrap(s, pair, secrets);
    await onWriter(pair, app.dbname, ['CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(16))', "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')"]);
    // The removal experiment's one change; otherwise every setting is the template's.
    const overrides = removal !== undefined ? { deregistrationDelaySeconds: Number(removal) } : undefined;
    lb = await LoadBalancer.start({ template: s.template, overrides });
    endpoint = { host: lb.host, port: lb.port, user: app.username, password: app.password, database: app.dbname };
    console.log(`dataplane deploy: service from the template: ${service.desired} tasks, minimum healthy ${service.minimumHealthyPercent} %, maximum ${service.maximumPercent} %, stop timeout ${service.stopTimeoutSeconds} s`);
    // The service's first deployment: its tasks start, are registered and become healthy.
    fleet = await Promise.all(Array.from({ length: service.desired }, () => startServiceTask()));
  });

  afterAll(async () => {
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
      return { code: exit.code, closedAtEnd: 0, stopMs };
    }
    load.phase = `${label}: deregistration delay`;
    const { closedAtEnd } = await lb.deregister(member.target, () => { load.phase = `${label}: flows reset at the end of the delay, SIGTERM to exit`; });
    const t0 = Date.now();
    const exit = await member.task.stop(service.stopTimeoutSeconds * 1000);
    return { code: exit.code, closedAtEnd, stopMs: Date.now() - t0 };
  }

  function expectServedInEveryPhase(load: Load): void {
    const phases = new Set([...load.served.keys()].map((k) => k.split('|')[1]));
    for (const phase of phases) {
      for (const family of FAMILIES) expect({ family, phase, served: (load.served.get(`${family}|${phase}`) ?? 0) > 0 }).toEqual({ family, phase, served: true });
    }
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
      + `${JSON.stringify(stops.map((x) => x.stopMs))} ms after SIGTERM; flows reset at the end of the delay ${JSON.stringify(stops.map((x) => x.closedAtEnd))}`);
    expectServedInEveryPhase(load);
    expect(stops.map((x) => x.code)).toEqual(stops.map(() => 0));
    expect(load.failuresOf('retry once')).toEqual([]);
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
    console.log(`dataplane scale-in: the task exited ${stop.code} ${stop.stopMs} ms after SIGTERM; flows reset at the end of the delay ${stop.closedAtEnd}`);
    expectServedInEveryPhase(load);
    expect(stop.code).toBe(0);
    expect(load.failuresOf('retry once')).toEqual([]);
  }, 300_000);
});
