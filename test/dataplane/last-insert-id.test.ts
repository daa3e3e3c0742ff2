/**
 * LAST_INSERT_ID() through the real ProxySQL started from the synthesized task, with the library's
 * default `mysql-auto_increment_delay_multiplex` (0): after an INSERT the writer connection goes back
 * to the pool at once, so another client's INSERT may run on it before this client asks for its id.
 * Every form below runs with such an interleaved INSERT between this client's INSERT and its question:
 * a form answered from a wrong backend connection would return the other client's id.
 */
import * as mysql from 'mysql2/promise';
import { DataplaneStackOptions, deployTask, endpointsProxyStack, onWriter, secretValues } from './topology';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask } from '../fixtures/proxysql-task';

type AppCredentials = { username: string; password: string; dbname: string };
type Row = mysql.RowDataPacket;

export interface Harness {
  readonly pair: ReplicatedPair;
  readonly task: ProxySqlTask;
  readonly app: AppCredentials;
  /** The client whose id matters, and the one that interleaves its own inserts. */
  readonly a: mysql.Connection;
  readonly b: mysql.Connection;
}

export async function lastInsertIdHarness(options: DataplaneStackOptions = {}): Promise<Harness> {
  const pair = await startReplicatedPair();
  const s = endpointsProxyStack(options);
  const secrets = secretValues(s, pair);
  const app = secrets[s.ids.app] as AppCredentials;
  const task = await deployTask(s, pair, secrets);
  await onWriter(pair, app.dbname, ['CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(8))']);
  const a = await task.client(app.username, app.password, { database: app.dbname, multipleStatements: true });
  const b = await task.client(app.username, app.password, { database: app.dbname, multipleStatements: true });
  return { pair, task, app, a, b };
}

export async function disposeHarness(h: Harness | undefined): Promise<void> {
  await h?.a.end().catch(() => undefined);
  await h?.b.end().catch(() => undefined);
  await disposeAllTasks();
  await h?.pair.destroy();
}

/** An INSERT of one row; the id from the OK packet (what drivers and ORMs return as insertId). */
export async function insert(c: mysql.Connection, who: string): Promise<number> {
  const [ok] = await c.query<mysql.ResultSetHeader>('INSERT INTO t (who) VALUES (?)', [who]);
  return ok.insertId;
}

/** The first column of the first row of `sql` (or of its last result set). */
async function scalar(c: mysql.Connection, sql: string): Promise<number> {
  const [result] = await c.query(sql);
  const sets = Array.isArray(result) && Array.isArray(result[0]) ? result as Row[][] : [result as Row[]];
  const rows = sets[sets.length - 1];
  return rows.length === 0 ? NaN : Number(Object.values(rows[0])[0]);
}

/** A inserts (own id), B inserts (other id), A asks with `sql`: what it got. */
export async function interleaved(h: Harness, sql: string): Promise<{ own: number; other: number; got: number }> {
  const own = await insert(h.a, 'a');
  const other = await insert(h.b, 'b');
  const got = await scalar(h.a, sql);
  return { own, other, got };
}

/** The backend connection the idle session of `c` still holds (`srv_port`), per ProxySQL's processlist. */
export async function heldBackend(task: ProxySqlTask, c: mysql.Connection): Promise<number | undefined> {
  const id = Number(c.threadId);
  const rows = await task.admin<Array<{ SessionID: string; srv_port: string | null }>>(
    `SELECT SessionID, srv_port FROM stats_mysql_processlist WHERE SessionID = ${id}`);
  const port = rows[0]?.srv_port;
  return port === null || port === undefined || port === '' ? undefined : Number(port);
}

const ROUNDS = 4;

/** Forms ProxySQL answers itself from the session's last id (its handler for issue #1421: exact text, text protocol). */
const INTERCEPTED: Array<[string, string]> = [
  ['SELECT LAST_INSERT_ID()', 'SELECT LAST_INSERT_ID()'],
  ['lower case', 'select last_insert_id()'],
  ['mixed case', 'Select Last_Insert_Id()'],
  ['FROM DUAL', 'SELECT LAST_INSERT_ID() FROM DUAL'],
  ['LIMIT 1', 'SELECT LAST_INSERT_ID() LIMIT 1'],
  ['@@identity', 'SELECT @@identity'],
  ['@@IDENTITY LIMIT 1', 'SELECT @@IDENTITY LIMIT 1'],
];

/**
 * Forms that reach a backend: the rules send them to the writer, on whichever pooled connection is
 * free, which (one writer connection here) last ran the other client's INSERT.
 */
const ON_A_POOLED_WRITER_CONNECTION: Array<[string, string]> = [
  ['AS id', 'SELECT LAST_INSERT_ID() AS id'],
  ['+ 0', 'SELECT LAST_INSERT_ID() + 0'],
  ['two spaces', 'SELECT  LAST_INSERT_ID()'],
  ['trailing semicolon', 'SELECT LAST_INSERT_ID();'],
  ['WHERE id = LAST_INSERT_ID() as its own statement', 'SELECT id FROM t WHERE id = LAST_INSERT_ID()'],
];

describeDataplane('dataplane: LAST_INSERT_ID() with another client interleaving inserts (default multiplexing)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await lastInsertIdHarness();
  });
  afterAll(() => disposeHarness(h));

  test('after an INSERT the idle client holds no backend connection', async () => {
    const own = await insert(h.a, 'idle');
    expect(own).toBeGreaterThan(0);
    expect(await heldBackend(h.task, h.a)).toBeUndefined();
    const pool = await h.task.admin<Array<{ ConnUsed: string }>>('SELECT ConnUsed FROM stats_mysql_connection_pool WHERE hostgroup = 10');
    expect(pool.map((r) => Number(r.ConnUsed))).toEqual([0]);
  });

  test('the OK packet\'s insertId (what drivers and ORMs return) names the client\'s own row', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const own = await insert(h.a, `a${i}`);
      const other = await insert(h.b, `b${i}`);
      expect(other).not.toBe(own);
      const [rows] = await h.a.query<Row[]>('SELECT who FROM t WHERE id = ? FOR UPDATE', [own]);
      expect(rows.map((r) => r.who)).toEqual([`a${i}`]);
    }
  });

  test.each(INTERCEPTED)('%s: right (ProxySQL answers it from the session)', async (_name, sql) => {
    // The pooled writer connection last ran the other client's INSERT (the forms below show it), so
    // only ProxySQL's own answer can be right here.
    for (let i = 0; i < ROUNDS; i++) {
      const r = await interleaved(h, sql);
      expect(r.got).toBe(r.own);
    }
  });

  test.each(ON_A_POOLED_WRITER_CONNECTION)('%s: NOT supported — returns the other client\'s id (documented)', async (_name, sql) => {
    for (let i = 0; i < ROUNDS; i++) {
      const r = await interleaved(h, sql);
      expect(r.got).toBe(r.other);
    }
  });

  test('@@last_insert_id: NOT supported — read on a replica, returns 0 (documented)', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const r = await interleaved(h, 'SELECT @@last_insert_id');
      expect(r.got).toBe(0);
    }
  });

  test('a prepared SELECT LAST_INSERT_ID() (binary protocol): NOT supported — returns the other client\'s id (documented)', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const own = await insert(h.a, 'a');
      const other = await insert(h.b, 'b');
      const [rows] = await h.a.execute<Row[]>('SELECT LAST_INSERT_ID() AS id');
      expect(Number(rows[0].id)).not.toBe(own);
      expect(Number(rows[0].id)).toBe(other);
    }
  });

  test('INSERT ...; SELECT ... WHERE id = LAST_INSERT_ID() in one multi-statement query: right', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const [sets] = await h.a.query<Row[][]>(`INSERT INTO t (who) VALUES ('m${i}'); SELECT id, who FROM t WHERE id = LAST_INSERT_ID()`);
      await insert(h.b, 'b');
      const ok = sets[0] as unknown as mysql.ResultSetHeader;
      expect(sets[1].map((r) => [r.id, r.who])).toEqual([[ok.insertId, `m${i}`]]);
    }
  });

  test('inside an explicit transaction every form is right (the transaction keeps its connection)', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await h.a.query('START TRANSACTION');
      const own = await insert(h.a, `tx${i}`);
      const other = await insert(h.b, 'b');
      expect(other).not.toBe(own);
      for (const [, sql] of ON_A_POOLED_WRITER_CONNECTION) expect(await scalar(h.a, sql)).toBe(own);
      await h.a.query('COMMIT');
    }
  });
});

describeDataplane('dataplane: LAST_INSERT_ID() with ProxySQL\'s own hold after an INSERT (rawMysqlVariables auto_increment_delay_multiplex 5)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await lastInsertIdHarness({ proxy: { rawMysqlVariables: { auto_increment_delay_multiplex: '5' } } });
  });
  afterAll(() => disposeHarness(h));

  test('the forms in expressions are right, at the price of the idle client holding the writer connection', async () => {
    for (const [, sql] of ON_A_POOLED_WRITER_CONNECTION) {
      const r = await interleaved(h, sql);
      expect(r.got).toBe(r.own);
    }
    await insert(h.a, 'idle');
    expect(await heldBackend(h.task, h.a)).toBe(h.pair.primary.port);
  });
});
