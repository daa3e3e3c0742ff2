/**
 * The client-family workload in Node.js, with the real mysql2 (`query` and `execute`), Knex and
 * Sequelize. Every family (this file, ../python, ../java, ../go) runs the same thing, spelled out in
 * test/dataplane/clients.ts: `clients` workers at once on a pool of `clients` connections, each
 * running `statements` statements; statement s of worker w is an autocommit INSERT into
 * workload_writes (tag, w, s) when s % 5 == 4, else a point read of workload_items by primary key
 * ((w × statements + s) mod items) + 1, whose note must be `note-<id>`.
 *
 * mysql2 workers hold one pooled connection for their statements (`pool.getConnection()`); Knex and
 * Sequelize borrow from their pool per statement, as code written with them does.
 */
import { Knex, knex } from 'knex';
import * as mysql from 'mysql2/promise';
import { DataTypes, Model, ModelStatic, Sequelize } from 'sequelize';

export type NodeApi = 'query' | 'execute' | 'knex' | 'sequelize';

export interface WorkloadEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface WorkloadConfig {
  /** Workers are spread over the endpoints in turn, each endpoint with a pool of its share. */
  readonly endpoints: WorkloadEndpoint[];
  readonly clients: number;
  readonly statements: number;
  readonly items: number;
  /** Written with every insert, so the test can find this run's rows. */
  readonly tag: string;
}

/** What every client program prints, as one JSON line. */
export interface WorkloadResult {
  readonly client: string;
  readonly versions: Record<string, string>;
  /** From the pool's creation to the last statement's answer. */
  readonly elapsedMs: number;
  /** Reads that returned the expected row. */
  readonly reads: number;
  /** Reads that returned anything else (described). */
  readonly wrongReads: string[];
  /** [insert id, worker, statement] of every insert that succeeded. */
  readonly inserts: Array<[number, number, number]>;
  /** Failed statements (and failed connection borrows): message → count. */
  readonly errors: Record<string, number>;
  readonly errorCount: number;
}

export const ITEMS_TABLE = 'workload_items';
export const WRITES_TABLE = 'workload_writes';

/** Statement `s` of a worker is an insert on every fifth statement (20 % writes). */
export function isInsert(s: number): boolean {
  return s % 5 === 4;
}

export function itemId(worker: number, s: number, statements: number, items: number): number {
  return ((worker * statements + s) % items) + 1;
}

/** What one worker can run: a read returning the note (undefined when no row), an insert returning its id. */
interface Session {
  read(id: number): Promise<unknown>;
  insert(tag: string, worker: number, seq: number): Promise<number>;
  release(): void;
}

interface Client {
  readonly name: string;
  readonly versions: Record<string, string>;
  session(endpoint: number): Promise<Session>;
  close(): Promise<void>;
}

function version(pkg: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

const READ_SQL = `SELECT id, note FROM ${ITEMS_TABLE} WHERE id = ?`;
const INSERT_SQL = `INSERT INTO ${WRITES_TABLE} (tag, worker, seq) VALUES (?, ?, ?)`;

function mysql2Client(api: 'query' | 'execute', config: WorkloadConfig): Client {
  const perPool = Math.ceil(config.clients / config.endpoints.length);
  const pools = config.endpoints.map((e) => mysql.createPool({
    ...e, connectionLimit: perPool, waitForConnections: true, queueLimit: 0, connectTimeout: 60_000,
  }));
  return {
    name: `mysql2 ${api}`,
    versions: { mysql2: version('mysql2') },
    async session(endpoint) {
      const conn = await pools[endpoint].getConnection();
      const run = <T>(sql: string, values: unknown[]) => (api === 'query' ? conn.query<T & mysql.QueryResult>(sql, values) : conn.execute<T & mysql.QueryResult>(sql, values as mysql.ExecuteValues));
      return {
        async read(id) {
          const [rows] = await run<mysql.RowDataPacket[]>(READ_SQL, [id]);
          return rows.length === 1 && Number(rows[0].id) === id ? rows[0].note : JSON.stringify(rows);
        },
        async insert(tag, worker, seq) {
          const [ok] = await run<mysql.ResultSetHeader>(INSERT_SQL, [tag, worker, seq]);
          return ok.insertId;
        },
        release: () => conn.release(),
      };
    },
    close: async () => { await Promise.all(pools.map((p) => p.end())); },
  };
}

function knexClient(config: WorkloadConfig): Client {
  const perPool = Math.ceil(config.clients / config.endpoints.length);
  const dbs: Knex[] = config.endpoints.map((e) => knex({
    client: 'mysql2',
    connection: { host: e.host, port: e.port, user: e.user, password: e.password, database: e.database, connectTimeout: 60_000 },
    pool: { min: 0, max: perPool },
    acquireConnectionTimeout: 60_000,
  }));
  return {
    name: 'knex',
    versions: { knex: version('knex'), mysql2: version('mysql2') },
    async session(endpoint) {
      const db = dbs[endpoint];
      return {
        async read(id) {
          const rows = await db(ITEMS_TABLE).select('id', 'note').where('id', id);
          return rows.length === 1 && Number(rows[0].id) === id ? rows[0].note : JSON.stringify(rows);
        },
        async insert(tag, worker, seq) {
          const [id] = await db(WRITES_TABLE).insert({ tag, worker, seq });
          return Number(id);
        },
        release: () => undefined,
      };
    },
    close: async () => { await Promise.all(dbs.map((d) => d.destroy())); },
  };
}

class Item extends Model {
  declare id: number;
  declare note: string;
}
class Write extends Model {
  declare id: number;
}

function sequelizeClient(config: WorkloadConfig): Client {
  const perPool = Math.ceil(config.clients / config.endpoints.length);
  const models = config.endpoints.map((e) => {
    const sequelize = new Sequelize(e.database, e.user, e.password, {
      host: e.host,
      port: e.port,
      dialect: 'mysql',
      logging: false,
      pool: { min: 0, max: perPool, acquire: 60_000 },
      dialectOptions: { connectTimeout: 60_000 },
    });
    // Each endpoint has its own Sequelize instance, so each gets its own model classes.
    const item = class extends Item {} as ModelStatic<Item>;
    item.init({ id: { type: DataTypes.INTEGER, primaryKey: true }, note: DataTypes.STRING(32) },
      { sequelize, tableName: ITEMS_TABLE, timestamps: false });
    const write = class extends Write {} as ModelStatic<Write>;
    write.init({
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      tag: DataTypes.STRING(64),
      worker: DataTypes.INTEGER,
      seq: DataTypes.INTEGER,
    }, { sequelize, tableName: WRITES_TABLE, timestamps: false });
    return { sequelize, item, write };
  });
  return {
    name: 'sequelize',
    versions: { sequelize: version('sequelize'), mysql2: version('mysql2') },
    async session(endpoint) {
      const m = models[endpoint];
      return {
        async read(id) {
          const row = await m.item.findByPk(id);
          return row && Number(row.id) === id ? row.note : JSON.stringify(row);
        },
        async insert(tag, worker, seq) {
          const row = await m.write.create({ tag, worker, seq });
          return Number(row.id);
        },
        release: () => undefined,
      };
    },
    close: async () => { await Promise.all(models.map((m) => m.sequelize.close())); },
  };
}

function errorKey(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return `${err.code ? `${err.code}: ` : ''}${String(err.message ?? e)}`.slice(0, 160);
}

/** Run the workload with one Node.js client family. */
export async function runWorkload(api: NodeApi, config: WorkloadConfig): Promise<WorkloadResult> {
  const t0 = Date.now();
  const client = api === 'knex' ? knexClient(config) : api === 'sequelize' ? sequelizeClient(config) : mysql2Client(api, config);
  let reads = 0;
  const wrongReads: string[] = [];
  const inserts: Array<[number, number, number]> = [];
  const errors: Record<string, number> = {};
  const fail = (e: unknown) => { const k = errorKey(e); errors[k] = (errors[k] ?? 0) + 1; };
  await Promise.all(Array.from({ length: config.clients }, async (_v, w) => {
    let session: Session;
    try {
      session = await client.session(w % config.endpoints.length);
    } catch (e) {
      fail(e);
      return;
    }
    try {
      for (let s = 0; s < config.statements; s++) {
        try {
          if (isInsert(s)) {
            inserts.push([await session.insert(config.tag, w, s), w, s]);
          } else {
            const id = itemId(w, s, config.statements, config.items);
            const note = await session.read(id);
            if (note === `note-${id}`) reads += 1;
            else wrongReads.push(`id ${id}: ${String(note)}`);
          }
        } catch (e) {
          fail(e);
        }
      }
    } finally {
      session.release();
    }
  }));
  const elapsedMs = Date.now() - t0;
  await client.close().catch(fail);
  return {
    client: client.name,
    versions: client.versions,
    elapsedMs,
    reads,
    wrongReads,
    inserts,
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
  };
}
