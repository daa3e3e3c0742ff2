/**
 * Every row of the "Where each statement goes" table (docs/configuration.md), through the real ProxySQL started
 * from the synthesized task: each statement's hostgroup is read from ProxySQL's own
 * `stats_mysql_query_digest`, and where it matters from the server that answered (`@@server_id`:
 * 1 = primary, 2 = replica).
 */
import * as mysql from 'mysql2/promise';
import { DataplaneStackOptions, deployTask, endpointsProxyStack, onWriter, secretValues } from './topology';
import { QueryRules, RuleDestination } from '../../src';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask } from '../fixtures/proxysql-task';

const WRITER = 10;
const READERS = 20;

type AppCredentials = { username: string; password: string; dbname: string };

/** Pair, bootstrap and task; `ddl` runs on the writer directly (in the bootstrap's database), then a proxy client. */
async function routingSetup(options: DataplaneStackOptions, ddl: string[]) {
  const pair = await startReplicatedPair();
  const s = endpointsProxyStack(options);
  const secrets = secretValues(s, pair);
  const app = secrets[s.ids.app] as AppCredentials;
  const task = await deployTask(s, pair, secrets);
  await onWriter(pair, app.dbname, ddl);
  const conn = await task.client(app.username, app.password, { database: app.dbname });
  return { pair, task, app, conn };
}

async function routingTeardown(conn: mysql.Connection | undefined, pair: ReplicatedPair | undefined): Promise<void> {
  await conn?.end().catch(() => undefined);
  await disposeAllTasks();
  await pair?.destroy();
}

describeDataplane('dataplane: where each statement runs (default read/write split)', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let app: AppCredentials;
  let conn: mysql.Connection;

  beforeAll(async () => {
    ({ pair, task, app, conn } = await routingSetup({}, [
      'CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64))',
      "INSERT INTO items (note) VALUES ('a'), ('b'), ('c')",
      'CREATE PROCEDURE touch() SELECT 1',
    ]));
  });

  afterAll(() => routingTeardown(conn, pair));

  /** Run one statement and return the hostgroups ProxySQL recorded for it (digest rows since a reset). */
  async function hostgroupsOf(run: () => Promise<unknown>): Promise<number[]> {
    await task.admin('SELECT COUNT(*) FROM stats_mysql_query_digest_reset');
    await run();
    const rows = await task.admin<Array<{ hostgroup: number; digest_text: string }>>(
      'SELECT hostgroup, digest_text FROM stats_mysql_query_digest ORDER BY first_seen');
    return rows.map((r) => Number(r.hostgroup));
  }

  async function serverIdOf(sql: string): Promise<number> {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
    return Number(Object.values(rows[0])[0]);
  }

  const writerRows: Array<[string, string]> = [
    ['locking read FOR UPDATE', 'SELECT id FROM items WHERE id = 1 FOR UPDATE'],
    ['locking read FOR UPDATE NOWAIT', 'SELECT id FROM items WHERE id = 1 FOR UPDATE NOWAIT'],
    ['locking read FOR UPDATE SKIP LOCKED', 'SELECT id FROM items FOR UPDATE SKIP LOCKED'],
    ['locking read LOCK IN SHARE MODE', 'SELECT id FROM items WHERE id = 2 LOCK IN SHARE MODE'],
    ['SELECT ... INTO @var', 'SELECT note INTO @n FROM items WHERE id = 1'],
    ['SELECT reading a user variable', 'SELECT @n'],
    ['SELECT LAST_INSERT_ID()', 'SELECT LAST_INSERT_ID()'],
    ['SELECT FOUND_ROWS()', 'SELECT FOUND_ROWS()'],
    ['SELECT ROW_COUNT()', 'SELECT ROW_COUNT()'],
    ['SELECT GET_LOCK()', "SELECT GET_LOCK('dataplane', 0)"],
    ['SELECT IS_USED_LOCK()', "SELECT IS_USED_LOCK('dataplane')"],
    ['SELECT IS_FREE_LOCK()', "SELECT IS_FREE_LOCK('dataplane')"],
    ['SELECT RELEASE_LOCK()', "SELECT RELEASE_LOCK('dataplane')"],
    ['SELECT CONNECTION_ID()', 'SELECT CONNECTION_ID()'],
    ['SELECT SQL_CALC_FOUND_ROWS', 'SELECT SQL_CALC_FOUND_ROWS id FROM items LIMIT 1'],
    ['INSERT', "INSERT INTO items (note) VALUES ('w')"],
    ['UPDATE', "UPDATE items SET note = 'u' WHERE id = 3"],
    ['DELETE', 'DELETE FROM items WHERE id = 999'],
    ['REPLACE', "REPLACE INTO items (id, note) VALUES (100, 'r')"],
    ['DDL', 'CREATE TABLE IF NOT EXISTS other (id INT PRIMARY KEY)'],
    ['SHOW', 'SHOW TABLES'],
    ['CALL', 'CALL touch()'],
    ['WITH ... SELECT ... FOR UPDATE', 'WITH c AS (SELECT id FROM items) SELECT id FROM c WHERE id = 1 FOR UPDATE'],
    ['WITH ... SELECT reading a user variable', 'WITH c AS (SELECT id FROM items) SELECT id, @n FROM c'],
    ['WITH ... INSERT ... SELECT', 'INSERT INTO items (note) WITH c AS (SELECT note FROM items WHERE id = 1) SELECT note FROM c'],
  ];
  test.each(writerRows)('%s → writer', async (_label, sql) => {
    expect(await hostgroupsOf(() => conn.query(sql))).toEqual([WRITER]);
  });

  const readerRows: Array<[string, string]> = [
    ['plain SELECT', 'SELECT note FROM items WHERE id = 1'],
    ['SELECT @@version (a system variable is not a user variable)', 'SELECT @@version'],
    ['(SELECT ...) UNION (SELECT ...)', '(SELECT id FROM items WHERE id = 1) UNION (SELECT id FROM items WHERE id = 2)'],
    ['leading comment', '/* report */ SELECT COUNT(*) FROM items'],
    ['lower case', 'select note from items where id = 2'],
    ["a literal that looks like a lock ('FOR UPDATE')", "SELECT note FROM items WHERE note = 'FOR UPDATE'"],
    ['WITH ... SELECT', 'WITH c AS (SELECT id FROM items) SELECT COUNT(*) FROM c'],
    ['WITH RECURSIVE ... SELECT', 'WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT SUM(n) FROM r'],
  ];
  test.each(readerRows)('%s → readers', async (_label, sql) => {
    expect(await hostgroupsOf(() => conn.query(sql))).toEqual([READERS]);
  });

  test('the digest proof agrees with the server that answered: reads on the replica, writes on the primary', async () => {
    expect(await serverIdOf('SELECT @@server_id')).toBe(2);
    expect(await serverIdOf('SELECT @@server_id FOR UPDATE')).toBe(1);
    expect(await serverIdOf('/* c */ select @@server_id')).toBe(2);
  });

  test('prepared statements (mysql2 execute): a read on the replica, a write on the primary', async () => {
    const [read] = await conn.execute<mysql.RowDataPacket[]>('SELECT @@server_id AS s, note FROM items WHERE id = ?', [1]);
    expect(read[0]).toEqual({ s: 2, note: 'a' });
    const [write] = await conn.execute<mysql.ResultSetHeader>('INSERT INTO items (note) VALUES (?)', ['prepared']);
    const direct = await mysql.createConnection({ host: pair.primary.host, port: pair.primary.port, ...pair.admin, database: app.dbname });
    try {
      const [rows] = await direct.query<mysql.RowDataPacket[]>('SELECT note FROM items WHERE id = ?', [write.insertId]);
      expect(rows).toEqual([{ note: 'prepared' }]);
    } finally {
      await direct.end();
    }
  });

  test('inside BEGIN … COMMIT every statement runs on the writer and reads see the transaction\'s own write', async () => {
    const groups = await hostgroupsOf(async () => {
      await conn.query('BEGIN');
      const [ins] = await conn.query<mysql.ResultSetHeader>("INSERT INTO items (note) VALUES ('in-tx')");
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT note, @@server_id AS s FROM items WHERE id = ?', [ins.insertId]);
      expect(rows).toEqual([{ note: 'in-tx', s: 1 }]);
      await conn.query('COMMIT');
    });
    expect(new Set(groups)).toEqual(new Set([WRITER]));
    expect(groups.length).toBeGreaterThanOrEqual(3);
  });

  test('START TRANSACTION READ ONLY runs the whole transaction on a reader', async () => {
    const groups = await hostgroupsOf(async () => {
      await conn.query('START TRANSACTION READ ONLY');
      expect(await serverIdOf('SELECT @@server_id')).toBe(2);
      await conn.query('COMMIT');
    });
    expect(groups[0]).toBe(READERS);
    expect(groups.slice(0, 2)).toEqual([READERS, READERS]);
  });

  test('a user variable set on the connection is read back on the same backend, and plain reads still go to a reader', async () => {
    const c = await task.client(app.username, app.password, { database: app.dbname });
    try {
      await c.query('SET @marker = 42');
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @marker AS m, @@server_id AS s');
      expect(rows[0]).toEqual({ m: 42, s: 1 });
      // ProxySQL's default would lock the session to the writer here and refuse the read
      // ("connection is locked to hostgroup 10 but trying to reach hostgroup 20").
      const [plain] = await c.query<mysql.RowDataPacket[]>('SELECT note, @@server_id AS s FROM items WHERE id = 1');
      expect(plain).toEqual([{ note: 'a', s: 2 }]);
      const [again] = await c.query<mysql.RowDataPacket[]>('SELECT @marker AS m');
      expect(again[0].m).toBe(42);
    } finally {
      await c.end();
    }
  });

  test('autocommit=0, read first (PyMySQL and several Java pools): the client reads its own uncommitted write and COMMIT keeps it', async () => {
    const other = await task.client(app.username, app.password, { database: app.dbname });
    try {
      await other.query('SET autocommit = 0');
      const [first] = await other.query<mysql.RowDataPacket[]>('SELECT note FROM items WHERE id = 2');
      expect(first).toEqual([{ note: 'b' }]);
      const [upd] = await other.query<mysql.ResultSetHeader>("UPDATE items SET note = 'uncommitted' WHERE id = 2");
      expect(upd.affectedRows).toBe(1);
      const [own] = await other.query<mysql.RowDataPacket[]>('SELECT note, @@server_id AS s FROM items WHERE id = 2');
      expect(own).toEqual([{ note: 'uncommitted', s: 1 }]);
      // Nobody else sees it before COMMIT ...
      const [outside] = await conn.query<mysql.RowDataPacket[]>('SELECT note FROM items WHERE id = 2 FOR UPDATE SKIP LOCKED');
      expect(outside).toEqual([]);
      await other.query('COMMIT');
      await pair.sync();
      // ... and everybody after it, the replica included.
      const [after] = await other.query<mysql.RowDataPacket[]>('SELECT note, @@server_id AS s FROM items WHERE id = 2');
      expect(after).toEqual([{ note: 'uncommitted', s: 2 }]);
    } finally {
      await other.end();
    }
  });

  test('LAST_INSERT_ID() answers for the insert this client made', async () => {
    const [ins] = await conn.query<mysql.ResultSetHeader>("INSERT INTO items (note) VALUES ('last-id')");
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT LAST_INSERT_ID() AS id');
    expect(Number(rows[0].id)).toBe(ins.insertId);
    expect(ins.insertId).toBeGreaterThan(0);
  });
});

describeDataplane('dataplane: query rules run on RE2, the engine the synth checks them against', () => {
  let pair: ReplicatedPair;
  let task: ProxySqlTask;
  let conn: mysql.Connection;

  beforeAll(async () => {
    // One rule whose outcome differs between the engines: RE2 reads UTF-8, so its `.` is the whole
    // 'é'; PCRE, ProxySQL's default, reads bytes, where `.` is half of it and `$` cannot follow.
    const queryRules = QueryRules.readWriteSplit({ before: [{ match: '^SELECT .* FROM caf.$', destination: RuleDestination.WRITER, comment: 'cafe' }] });
    ({ pair, task, conn } = await routingSetup({ proxy: { queryRules } }, ['CREATE TABLE café (id INT PRIMARY KEY)']));
  });

  afterAll(() => routingTeardown(conn, pair));

  test('a rule matches a non-ASCII identifier by characters: `caf.$` catches `café`', async () => {
    await conn.query('SELECT * FROM café');
    const rows = await task.admin<Array<{ hostgroup: number; digest_text: string }>>(
      "SELECT hostgroup, digest_text FROM stats_mysql_query_digest WHERE digest_text LIKE '%caf%'");
    expect(rows.map((r) => [r.digest_text, Number(r.hostgroup)])).toEqual([['SELECT * FROM café', WRITER]]);
  });
});
