/**
 * The SQL of the demo API, kept apart from the Lambda plumbing so tests can drive it with any
 * mysql2 connection (the real MariaDB fixture) and so the handler stays small.
 *
 * What the statements are shaped for: behind ProxySQL's read/write split, the write and the
 * identity query that follows it run inside one transaction, so `transaction_persistent=1` keeps
 * both on the writer hostgroup; the read is a single autocommit SELECT (no locking clause) that
 * the query rules send to a reader. Reading the row and the server identity in the same statement
 * means the identity reported is that of the server that actually served the read.
 */
import type { Connection, RowDataPacket, ResultSetHeader } from 'mysql2/promise';

/** Who served a statement, as that server reports itself. */
export interface ServerIdentity {
  /** `@@hostname`: the host name of the database server (on Aurora, the instance's host). */
  readonly hostname: string;
  /** `@@server_id`. */
  readonly serverId: number;
  /** `@@aurora_server_id`: the Aurora DB instance identifier; `null` on MySQL and MariaDB. */
  readonly auroraServerId: string | null;
  /** `@@innodb_read_only`: true on Aurora readers. */
  readonly innodbReadOnly: boolean;
  /** `@@read_only`: true on MySQL/MariaDB replicas configured read-only. */
  readonly readOnly: boolean;
  /** `@@version`. */
  readonly version: string;
}

export interface WriteProof {
  /** The id of the row inserted by this request. */
  readonly id: number;
  /** Identity of the server that ran the INSERT, read inside the same transaction. */
  readonly server: ServerIdentity;
}

export interface ReadProof {
  /** Whether the row written by this request was visible to the read. */
  readonly sawWrite: boolean;
  /** Rows in the demo table as seen by the read. */
  readonly rowCount: number;
  /** Reads made before the row was seen (replicas may lag a little behind the writer). */
  readonly attempts: number;
  /** Identity of the server that served the read. */
  readonly server: ServerIdentity;
}

export interface DemoResult {
  readonly write: WriteProof;
  readonly read: ReadProof;
}

export interface DemoSqlOptions {
  /** Database (schema) holding the demo table; created when missing. */
  readonly database: string;
  /** Table name. @default 'proxysql_demo_writes' */
  readonly table?: string;
  /** How many times the read is tried until it sees the write. @default 5 */
  readonly readAttempts?: number;
  /** Pause between read attempts, in milliseconds. @default 100 */
  readonly readRetryDelayMs?: number;
}

const NAME = /^[A-Za-z0-9_$]{1,64}$/;
// MySQL/MariaDB error numbers the read tolerates while a replica catches up with the DDL.
const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_DB_ERROR = 1049;

function quoteName(kind: string, name: string): string {
  // Identifiers cannot be bound as parameters; accept only plain names so quoting is trivially safe.
  if (!NAME.test(name)) {
    throw new Error(`${kind} must be 1-64 characters of letters, digits, '_' or '$' (got ${JSON.stringify(name)})`);
  }
  return `\`${name}\``;
}

function toIdentity(row: RowDataPacket): ServerIdentity {
  return {
    hostname: String(row.hostname),
    serverId: Number(row.serverId),
    auroraServerId: row.auroraServerId === undefined || row.auroraServerId === null ? null : String(row.auroraServerId),
    innodbReadOnly: Number(row.innodbReadOnly) === 1,
    readOnly: Number(row.readOnly) === 1,
    version: String(row.version),
  };
}

function errno(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { errno?: unknown }).errno === 'number'
    ? (err as { errno: number }).errno
    : undefined;
}

/** The demo's statements over one connection. Create one per connection. */
export class DemoSql {
  private readonly database: string;
  private readonly table: string;
  private readonly readAttempts: number;
  private readonly readRetryDelayMs: number;
  private identityColumns: string | undefined;

  constructor(private readonly conn: Connection, options: DemoSqlOptions) {
    this.database = options.database;
    this.table = `${quoteName('database', options.database)}.${quoteName('table', options.table ?? 'proxysql_demo_writes')}`;
    this.readAttempts = Math.max(1, options.readAttempts ?? 5);
    this.readRetryDelayMs = options.readRetryDelayMs ?? 100;
  }

  /**
   * Creates the database and table when missing, and learns whether the server is Aurora.
   * Idempotent; the handler runs it once per connection.
   */
  public async ensureSchema(): Promise<void> {
    // Only Aurora has @@aurora_server_id; SHOW VARIABLES answers on every server without an error,
    // where selecting an unknown variable would fail (ER_UNKNOWN_SYSTEM_VARIABLE).
    const [aurora] = await this.conn.query<RowDataPacket[]>("SHOW VARIABLES LIKE 'aurora_server_id'");
    const auroraColumn = aurora.length > 0 ? '@@aurora_server_id' : 'NULL';
    this.identityColumns = [
      '@@hostname AS hostname',
      '@@server_id AS serverId',
      `${auroraColumn} AS auroraServerId`,
      '@@innodb_read_only AS innodbReadOnly',
      '@@read_only AS readOnly',
      '@@version AS version',
    ].join(', ');

    // Checking first lets an app user with rights on an existing database, but no global CREATE,
    // run the demo: CREATE DATABASE IF NOT EXISTS checks the privilege before existence.
    const [schemas] = await this.conn.query<RowDataPacket[]>(
      'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [this.database]);
    if (schemas.length === 0) {
      await this.conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteName('database', this.database)}`);
    }
    await this.conn.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (`
      + 'id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, '
      + 'written_by VARCHAR(255) NOT NULL, '
      + 'written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)'
      + ') ENGINE=InnoDB');
  }

  /** INSERTs one row and reports the server that did it, from inside the same transaction. */
  public async write(): Promise<WriteProof> {
    const columns = this.columns();
    await this.conn.beginTransaction();
    try {
      const [inserted] = await this.conn.query<ResultSetHeader>(
        `INSERT INTO ${this.table} (written_by) VALUES (CONCAT(@@hostname, ':', @@server_id))`);
      const [identity] = await this.conn.query<RowDataPacket[]>(`SELECT ${columns}`);
      await this.conn.commit();
      return { id: Number(inserted.insertId), server: toIdentity(identity[0]) };
    } catch (err) {
      // The original error matters; a failed rollback on a dead connection would only hide it.
      await this.conn.rollback().catch(() => undefined);
      throw err;
    }
  }

  /** A plain autocommit SELECT of the written row and of the serving server's identity. */
  public async read(writtenId: number): Promise<ReadProof> {
    const sql = `SELECT (SELECT COUNT(*) FROM ${this.table} WHERE id = ?) AS seen, `
      + `(SELECT COUNT(*) FROM ${this.table}) AS rowCount, ${this.columns()}`;
    let attempts = 0;
    for (;;) {
      attempts += 1;
      const last = attempts >= this.readAttempts;
      let row: RowDataPacket;
      try {
        const [rows] = await this.conn.query<RowDataPacket[]>(sql, [writtenId]);
        row = rows[0];
      } catch (err) {
        // A replica that has not yet applied CREATE DATABASE/TABLE is lag too, not a failure.
        const n = errno(err);
        if (last || (n !== ER_NO_SUCH_TABLE && n !== ER_BAD_DB_ERROR)) throw err;
        await sleep(this.readRetryDelayMs);
        continue;
      }
      const sawWrite = Number(row.seen) > 0;
      if (sawWrite || last) {
        return { sawWrite, rowCount: Number(row.rowCount), attempts, server: toIdentity(row) };
      }
      await sleep(this.readRetryDelayMs);
    }
  }

  /** ensureSchema, write, read: the whole demo request. */
  public async run(): Promise<DemoResult> {
    if (this.identityColumns === undefined) await this.ensureSchema();
    const write = await this.write();
    const read = await this.read(write.id);
    return { write, read };
  }

  private columns(): string {
    if (this.identityColumns === undefined) {
      throw new Error('DemoSql: call ensureSchema() before write() or read()');
    }
    return this.identityColumns;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
