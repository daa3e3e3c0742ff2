/**
 * The deployment path end to end, each piece real: the bootstrap handler runs with the custom
 * resource's synthesized properties against the primary, the task starts from the same template,
 * and `LambdaDemoApi`'s handler, pointed at the task, proves the write went to the primary and the
 * read to the replica.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as mysql from 'mysql2/promise';
import { DataplaneStack, endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { createDemoHandler } from '../../src/lambda-demo-api/demo-handler';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

async function accounts(server: { host: string; port: number }, admin: { user: string; password: string }, names: string[]): Promise<string[]> {
  const c = await mysql.createConnection({ host: server.host, port: server.port, ...admin });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT User FROM mysql.user WHERE User IN (?) ORDER BY User', [names]);
    return rows.map((r) => String(r.User));
  } finally {
    await c.end();
  }
}

describeDataplane('dataplane: bootstrap → proxy → demo handler', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let task: ProxySqlTask;
  let bootstrapLog: string[];

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    secrets = secretValues(s, pair);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('the bootstrap creates the monitor and application users from their secrets; the task then serves them', async () => {
    const monitor = secrets[s.ids.monitor];
    const app = secrets[s.ids.app];
    expect(await accounts(pair.primary, pair.admin, [monitor.username, app.username])).toEqual([]);

    bootstrapLog = await runBootstrap(s, pair, secrets);
    const expected = [app.username, monitor.username].sort();
    expect(await accounts(pair.primary, pair.admin, [monitor.username, app.username])).toEqual(expected);
    expect(await accounts(pair.replica, pair.admin, [monitor.username, app.username])).toEqual(expected);
    for (const v of Object.values(secrets).map((x) => x.password)) expect(bootstrapLog.join('\n')).not.toContain(v);

    task = await startTask({ template: s.template, secrets, servers: pairServers(pair) });
    const startedUs = Date.now() * 1000;
    // The monitor signs in with the bootstrap-made account: its read_only checks (every second)
    // succeed on both servers.
    const checks = await waitFor('monitor read_only checks on both servers', async () => {
      const r = await task.admin<Array<{ port: string; error: string | null }>>(
        `SELECT port, error FROM monitor.mysql_server_read_only_log WHERE time_start_us > ${startedUs}`);
      return new Set(r.map((x) => Number(x.port))).size === 2 ? r : undefined;
    });
    expect(checks.every((c) => c.error === null)).toBe(true);

    const conn = await task.client(app.username, app.password, { database: app.dbname });
    try {
      await conn.query('CREATE TABLE t (id INT PRIMARY KEY)');
      await conn.query('INSERT INTO t VALUES (1)');
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM t FOR UPDATE');
      expect(Number(rows[0].n)).toBe(1);
    } finally {
      await conn.end();
    }
  });

  test('the demo handler through the proxy reports the write on the primary and the read on the replica', async () => {
    const app = secrets[s.ids.app];
    const lines: string[] = [];
    const demo = createDemoHandler({
      fetchSecretString: async () => JSON.stringify(app),
      env: { DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:app-AbCdEf', DB_HOST: '127.0.0.1', DB_PORT: String(task.trafficPort) },
      logger: { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) },
      readAttempts: 20,
    });
    const event = {
      version: '2.0',
      routeKey: 'GET /',
      rawPath: '/',
      rawQueryString: '',
      headers: {},
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/', protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'jest' } },
    } as unknown as APIGatewayProxyEventV2;
    try {
      const res = await demo.handle(event);
      expect(res.statusCode).toBe(200);
      const body = JSON.parse(res.body!);
      expect(body.write.server).toEqual(expect.objectContaining({ serverId: 1, readOnly: false }));
      expect(body.read.server).toEqual(expect.objectContaining({ serverId: 2, readOnly: true }));
      expect(body.read.sawWrite).toBe(true);
      const again = JSON.parse((await demo.handle(event)).body!);
      expect(again.connection.reused).toBe(true);
      expect(again.read.server.serverId).toBe(2);
    } finally {
      await demo.close();
    }
    expect(lines.join('\n')).not.toContain(app.password);
  });
});
