/**
 * Connect-time statements do not pin: through the real ProxySQL started from the synthesized task (in
 * front of the fixture's MariaDB, engine set), the real Connector/J + HikariCP opens a pool of 10 and
 * goes idle, and mysql2 sends what SQLAlchemy, go-sql-driver, Sequelize, TypeORM and others send on
 * connect; afterwards no idle session holds a backend connection (`stats_mysql_processlist`) and the
 * pool has none in use (`stats_mysql_connection_pool.ConnUsed`).
 */
import { deployTask, endpointsProxyStack, onWriter, secretValues } from './topology';
import { ProxySqlEngine } from '../../src';
import { CONNECTOR_J_MARIADB, OTHERS, SQLALCHEMY } from '../fixtures/connect-statements';
import { connectorJMissing, startProbe } from '../fixtures/connectorj';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask } from '../fixtures/proxysql-task';

const cj = connectorJMissing();
// eslint-disable-next-line no-console
if (cj) console.log(`dataplane connect statements: ${cj}`);
const testCj = cj ? test.skip : test;

describeDataplane('dataplane: statements drivers send on every connection leave no backend connection attached', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let app: Record<string, string>;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    const s = endpointsProxyStack({ backend: { engine: ProxySqlEngine.mariaDb('10.11') } });
    const secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    task = await deployTask(s, pair, secrets);
    await onWriter(pair, app.dbname, ['CREATE TABLE utf8_probe (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(64) CHARACTER SET utf8mb4)']);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  /** Backend connections in use, by hostgroup, and the idle client sessions that hold one. */
  async function attached(): Promise<{ connUsed: number; holding: number[] }> {
    const pool = await task.admin<Array<{ ConnUsed: string }>>('SELECT ConnUsed FROM stats_mysql_connection_pool');
    const sessions = await task.admin<Array<{ SessionID: string; srv_port: string | null }>>(
      'SELECT SessionID, srv_port FROM stats_mysql_processlist');
    return {
      connUsed: pool.reduce((n, r) => n + Number(r.ConnUsed), 0),
      holding: sessions.filter((r) => r.srv_port !== null && r.srv_port !== '').map((r) => Number(r.SessionID)),
    };
  }

  testCj('Connector/J + HikariCP: a pool of 10 idle connections holds no backend connection', async () => {
    await task.admin('SELECT COUNT(*) FROM stats_mysql_query_digest_reset');
    const probe = await startProbe({ port: task.trafficPort, user: app.username, password: app.password, database: app.dbname, poolSize: 10 });
    try {
      expect(probe.lines[0]).toBe('pool 10');
      // Its connect query ran once per pooled connection, on a reader, as recorded in the fixture.
      const digests = await task.admin<Array<{ hostgroup: string; count_star: string; digest_text: string }>>(
        'SELECT hostgroup, count_star, digest_text FROM stats_mysql_query_digest');
      const connect = digests.find((d) => d.digest_text === CONNECTOR_J_MARIADB[0]);
      expect([Number(connect?.hostgroup), Number(connect?.count_star)]).toEqual([20, 10]);
      const sessions = await task.admin<unknown[]>('SELECT SessionID FROM stats_mysql_processlist');
      expect(sessions.length).toBeGreaterThanOrEqual(10);
      expect(await attached()).toEqual({ connUsed: 0, holding: [] });
    } finally {
      expect(await probe.close()).toBe(0);
    }
  });

  test('mysql2 sending the others\' connect statements (SQLAlchemy, go-sql-driver, Sequelize, TypeORM, ...): the idle session holds nothing', async () => {
    const c = await task.client(app.username, app.password, { database: app.dbname });
    try {
      // MariaDB 10.11 has no @@transaction_isolation (what SQLAlchemy reads from MySQL 8); the unit test covers it.
      const statements = [...CONNECTOR_J_MARIADB, ...SQLALCHEMY, ...OTHERS].filter((q) => !/@@transaction_isolation/.test(q));
      expect(statements.length).toBeGreaterThanOrEqual(18);
      for (const sql of statements) await c.query(sql);
      await c.query('SET AUTOCOMMIT = 1');
      expect(await attached()).toEqual({ connUsed: 0, holding: [] });
    } finally {
      await c.end();
    }
  });
});
