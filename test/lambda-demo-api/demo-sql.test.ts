import * as mysql from 'mysql2/promise';
import { DemoSql } from '../../src/lambda-demo-api/demo-sql';
import { mariadbAdmin, uniqueName } from '../fixtures/mariadb';

let admin: mysql.Connection;
let conn: mysql.Connection;
const databases: string[] = [];

beforeAll(async () => {
  admin = await mysql.createConnection({ ...mariadbAdmin() });
  conn = await mysql.createConnection({ ...mariadbAdmin() });
});

afterAll(async () => {
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await conn.end();
  await admin.end();
});

function freshDatabase(): string {
  const db = uniqueName('demo_sql');
  databases.push(db);
  return db;
}

async function serverFacts() {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    'SELECT @@hostname AS h, @@server_id AS s, @@innodb_read_only AS i, @@read_only AS r, @@version AS v');
  return rows[0];
}

describe('DemoSql', () => {
  test('ensureSchema creates the database and table, and is idempotent', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database });
    await sql.ensureSchema();
    await sql.ensureSchema();
    const [tables] = await admin.query<mysql.RowDataPacket[]>(
      'SELECT TABLE_NAME AS t, ENGINE AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database]);
    expect(tables).toEqual([{ t: 'proxysql_demo_writes', e: 'InnoDB' }]);
  });

  test('write reports the identity of the server that ran it, inside the committed transaction', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database });
    await sql.ensureSchema();
    const write = await sql.write();
    const facts = await serverFacts();

    expect(write.id).toBeGreaterThan(0);
    expect(write.server).toEqual({
      hostname: facts.h,
      serverId: Number(facts.s),
      auroraServerId: null, // MariaDB has no @@aurora_server_id; the query must not fail on it
      innodbReadOnly: Number(facts.i) === 1,
      readOnly: Number(facts.r) === 1,
      version: facts.v,
    });
    // Committed: another connection sees the row and what the server wrote into it.
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT written_by FROM \`${database}\`.proxysql_demo_writes WHERE id = ?`, [write.id]);
    expect(rows).toEqual([{ written_by: `${facts.h}:${facts.s}` }]);
  });

  test('read sees the write, counts the rows and reports its server', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database });
    await sql.ensureSchema();
    await sql.write();
    const write = await sql.write();
    const read = await sql.read(write.id);
    const facts = await serverFacts();
    expect(read).toEqual({
      sawWrite: true,
      rowCount: 2,
      attempts: 1,
      server: expect.objectContaining({ hostname: facts.h, serverId: Number(facts.s), auroraServerId: null }),
    });
  });

  test('read retries while the row is not visible, then reports it unseen', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database, readAttempts: 3, readRetryDelayMs: 10 });
    await sql.ensureSchema();
    const read = await sql.read(987654321);
    expect(read).toMatchObject({ sawWrite: false, rowCount: 0, attempts: 3 });
  });

  test('read treats a missing table as replica lag until its attempts run out', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database, readAttempts: 2, readRetryDelayMs: 10 });
    await sql.ensureSchema();
    await admin.query(`DROP TABLE \`${database}\`.proxysql_demo_writes`);
    await expect(sql.read(1)).rejects.toMatchObject({ errno: 1146 });
  });

  test('a failed write rolls back and leaves the connection usable', async () => {
    const database = freshDatabase();
    const sql = new DemoSql(conn, { database });
    await sql.ensureSchema();
    await admin.query(`DROP TABLE \`${database}\`.proxysql_demo_writes`);
    await expect(sql.write()).rejects.toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
    const [tx] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()');
    expect(Number(tx[0].n)).toBe(0);
    const run = await sql.run().catch((e) => e);
    expect(run).toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
    await sql.ensureSchema();
    await expect(sql.run()).resolves.toMatchObject({ read: { sawWrite: true } });
  });

  test('run does the whole request on a fresh instance', async () => {
    const database = freshDatabase();
    const result = await new DemoSql(conn, { database }).run();
    expect(result.read.sawWrite).toBe(true);
    expect(result.read.rowCount).toBe(1);
    expect(result.write.server.hostname).toBe(result.read.server.hostname);
  });

  test('write before ensureSchema says what to call', async () => {
    await expect(new DemoSql(conn, { database: 'x' }).write()).rejects.toThrow(/call ensureSchema\(\) before write\(\)/);
  });

  test('database and table names are limited to plain identifiers', () => {
    expect(() => new DemoSql(conn, { database: 'demo`; DROP' })).toThrow(
      /database must be 1-64 characters of letters, digits, '_' or '\$' \(got "demo`; DROP"\)/);
    expect(() => new DemoSql(conn, { database: 'demo', table: '' })).toThrow(/table must be 1-64 characters.*\(got ""\)/);
  });
});
