/**
 * A switchover while a writer loop runs through the proxy: the primary turns read_only, the replica
 * catches up and is promoted. Writes resume through the same endpoint and every acknowledged
 * write is on the new primary. The time to resume is printed, not asserted (`npx projen bench`
 * reports it too).
 */
import { DataplaneStack, deployTask, endpointsProxyStack, secretValues } from './topology';
import { writesAcrossSwitchover } from './workloads';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, TaskSecrets } from '../fixtures/proxysql-task';

describeDataplane('dataplane: failover', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let task: ProxySqlTask;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    secrets = secretValues(s, pair);
    task = await deployTask(s, pair, secrets);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('writes resume through the same endpoint after a role swap and no acknowledged write is lost', async () => {
    const app = secrets[s.ids.app];
    const r = await writesAcrossSwitchover(
      { host: '127.0.0.1', port: task.trafficPort, user: app.username, password: app.password, database: app.dbname }, pair, 'w');
    // eslint-disable-next-line no-console
    console.log(`dataplane failover: ${r.acknowledged} writes acknowledged, ${r.failedAttempts} failed attempts, first write on the new primary ${r.resumeMs} ms after the switchover began (the switchover took ${r.switchMs} ms)`);
    expect(r.beforeSwitch).toBeGreaterThan(0);
    expect(r.lost).toEqual([]);
    expect(r.resumeMs).toBeDefined();
    expect(pair.writer()).toBe(pair.replica);

    // ProxySQL followed the swap: the new primary is the only ONLINE server of the writer hostgroup.
    const hg = await task.admin<Array<{ port: string }>>(
      "SELECT port FROM runtime_mysql_servers WHERE hostgroup_id = 10 AND status = 'ONLINE'");
    expect(hg.map((h) => Number(h.port))).toEqual([pair.replica.port]);
  });
});
