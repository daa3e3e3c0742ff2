/**
 * Secrets with every awkward character reach the real ProxySQL byte for byte: the start script's
 * escaping is proven by logins and by ProxySQL's own runtime tables, not by reading the file.
 */
import * as mysql from 'mysql2/promise';
import { DataplaneStack, deployTask, endpointsProxyStack, pairServers, secretValues, waitFor } from './topology';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, launchTask, ProxySqlTask, TaskSecrets } from '../fixtures/proxysql-task';

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

// Bootstrap user names are [A-Za-z0-9_] by design; the admin user name is ProxySQL's alone.
const ADMIN = { username: "adm'in\\ $`#ü", password: "p'w$`\\ #x'$(id)${HOME} é€" };
const MONITOR_PASSWORD = 'a\'b"c\\d$e`f g#h;i:j ü€ "" \'\' \\';
const APP_PASSWORD = '\'"\\$`\' ;:#😀 end\\';

describeDataplane('dataplane: hostile secrets', () => {
  let pair: ReplicatedPair;
  let s: DataplaneStack;
  let secrets: TaskSecrets;
  let task: ProxySqlTask;
  let startedUs: number;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    s = endpointsProxyStack();
    const base = secretValues(s, pair);
    secrets = {
      ...base,
      [s.ids.admin]: ADMIN,
      [s.ids.monitor]: { ...base[s.ids.monitor], password: MONITOR_PASSWORD },
      [s.ids.app]: { ...base[s.ids.app], password: APP_PASSWORD },
    };
    startedUs = Date.now() * 1000;
    task = await deployTask(s, pair, secrets);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  test('the application user logs in through ProxySQL with the exact secret value and reaches the database', async () => {
    const app = secrets[s.ids.app];
    const conn = await task.client(app.username, app.password, { database: app.dbname });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      expect(rows[0].u).toBe(`${app.username}@%`);
    } finally {
      await conn.end();
    }
    await expect(task.client(app.username, `${app.password}x`)).rejects.toThrow(/Access denied/);
  });

  test('the metrics sidecar logs in to the admin interface with the hostile admin secret and prints samples, never the password', async () => {
    const metrics = task.startContainer('metrics', { PROXYSQL_METRICS_INTERVAL_SECONDS: () => '1' });
    const line = await waitFor('a metrics sample', async () => metrics.log().split('\n').find((l) => l.includes('"WriterAvailable":1')));
    expect(JSON.parse(line).ProxyName).toBe('Dataplane/Proxy');
    await metrics.stop();
    expect(metrics.log()).not.toContain(ADMIN.password);
    expect(metrics.log()).not.toMatch(/proxysql-metrics:/);
  });

  test('the monitor logs in with its hostile password: fresh read_only checks without error on both servers', async () => {
    const rows = await waitFor('fresh read_only checks', async () => {
      const r = await task.admin<Array<{ port: number; read_only: number | null; error: string | null }>>(
        `SELECT port, read_only, error FROM monitor.mysql_server_read_only_log WHERE time_start_us > ${startedUs} ORDER BY time_start_us DESC LIMIT 20`);
      const ports = new Set(r.map((x) => Number(x.port)));
      return ports.has(pair.primary.port) && ports.has(pair.replica.port) ? r : undefined;
    });
    for (const r of rows) expect(r.error).toBeNull();
    expect(rows.find((r) => Number(r.port) === pair.primary.port)!.read_only).toBe('0');
    expect(rows.find((r) => Number(r.port) === pair.replica.port)!.read_only).toBe('1');
  });

  test('runtime_mysql_users and the runtime variables hold the exact values', async () => {
    const app = secrets[s.ids.app];
    const users = await task.admin<Array<{ u: string; p: string }>>('SELECT DISTINCT hex(username) AS u, hex(password) AS p FROM runtime_mysql_users');
    expect(users).toEqual([{ u: hex(app.username), p: hex(APP_PASSWORD) }]);
    const vars = await task.admin<Array<{ n: string; v: string }>>(
      "SELECT variable_name AS n, hex(variable_value) AS v FROM runtime_global_variables WHERE variable_name IN ('mysql-monitor_username', 'mysql-monitor_password', 'admin-admin_credentials') ORDER BY variable_name");
    expect(vars).toEqual([
      { n: 'admin-admin_credentials', v: hex(`${ADMIN.username}:${ADMIN.password}`) },
      { n: 'mysql-monitor_password', v: hex(MONITOR_PASSWORD) },
      { n: 'mysql-monitor_username', v: hex(secrets[s.ids.monitor].username) },
    ]);
  });

  test('ProxySQL logged no SQLITE error and no secret value', () => {
    const log = task.log();
    expect(log).toMatch(/configuration rendered/);
    expect(log).not.toMatch(/SQLITE error/i);
    for (const v of [ADMIN.password, MONITOR_PASSWORD, APP_PASSWORD]) expect(log).not.toContain(v);
  });

  test.each([
    ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'password', 'pa"ss'],
    ['PROXYSQL_SECRET_ADMIN_USERNAME', 'username', 'ad"min'],
    ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'password', 'pa:ss'],
  ])('a value ProxySQL cannot carry is refused at start, naming %s', async (envVar, field, value) => {
    const refused = await launchTask({
      template: s.template,
      secrets: { ...secrets, [s.ids.admin]: { ...ADMIN, [field]: value } },
      servers: pairServers(pair),
    });
    const exit = await refused.exited;
    expect(exit.code).toBe(3);
    expect(refused.log()).toContain(`refusing to start: ${envVar} contains`);
    expect(refused.log()).not.toContain(value);
    await refused.dispose();
  });
});
