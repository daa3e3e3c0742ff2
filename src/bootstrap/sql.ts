/**
 * The SQL half of the database bootstrap: plain values in, no AWS. It creates the ProxySQL monitor
 * user and the application users, sets their passwords from the secrets, grants what they are
 * missing and revokes only what an earlier run of the same bootstrap added (grant-record.ts). It is
 * safe to run any number of times: a run against a database that already matches changes nothing.
 *
 * Works on MySQL 8 / Aurora MySQL 3 / RDS for MySQL and on MariaDB (the test server); the few
 * differences are picked from `SELECT VERSION()`.
 */
// mysql2 is bundled into the function's asset by esbuild; the library itself never loads this file.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { GLOBAL_SCOPE, GrantRecord, OWNER_PATTERN } from './grant-record';
import {
  checkGrants, DATABASE_NAME_PATTERN, DEFAULT_GRANTS, GRANT_RECORD_SCHEMA, MonitorPrivileges, MONITOR_PRIVILEGE_MODES,
  normalizePrivilege, USERNAME_PATTERN,
} from './privileges';

export interface ConnectionValues {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /**
   * TLS to the database. `true` verifies the server against the Amazon RDS CA bundle that mysql2
   * ships (RDS and Aurora certificates); an object is passed to mysql2 as is.
   */
  readonly ssl?: boolean | mysql.SslOptions;
}

export interface UserPlan {
  readonly username: string;
  readonly password: string;
  /** The user's database; created when missing. */
  readonly database: string;
  /** Database-level privileges on `database`. Default: ALL PRIVILEGES. */
  readonly grants?: readonly string[];
}

export interface BootstrapPlan {
  /**
   * Whose grant record this run reads and writes: the custom resource, as `<stack id>/<logical id>`.
   * Only privileges recorded under this owner are ever revoked.
   */
  readonly owner: string;
  readonly monitor: {
    readonly username: string;
    readonly password: string;
    readonly privileges: MonitorPrivileges;
  };
  readonly users: readonly UserPlan[];
}

export interface RunOptions {
  /** Epoch milliseconds after which no new attempt starts. */
  readonly deadline: number;
  /** Progress lines (user names and steps, never a password). */
  readonly log?: (line: string) => void;
  /**
   * How long "access denied" for the admin user is retried, in ms: a master password that was just
   * set or rotated can take a moment to apply. Default 30 s.
   */
  readonly accessDeniedGraceMs?: number;
}

export interface BootstrapResult {
  readonly flavour: Flavour;
  readonly serverVersion: string;
  /** One line per user: created / password updated / privileges changed / unchanged. */
  readonly changes: string[];
  readonly attempts: number;
}

export type Flavour = 'mysql' | 'mariadb';

/** Thrown with a message meant for the CloudFormation event. */
export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

/**
 * Checks names and grants before anything touches the database. `adminUsername` is the user the run
 * signs in as: no managed user may be that one.
 */
export function validatePlan(plan: BootstrapPlan, adminUsername?: string): void {
  if (!OWNER_PATTERN.test(plan.owner ?? '')) {
    throw new BootstrapError(`owner must be 1 to 512 printable ASCII characters (got ${JSON.stringify(plan.owner)})`);
  }
  const seen = new Set<string>();
  const check = (where: string, username: string) => {
    if (!USERNAME_PATTERN.test(username)) {
      throw new BootstrapError(`${where}: username must match ${USERNAME_PATTERN} (got ${JSON.stringify(username)})`);
    }
    if (adminUsername !== undefined && username === adminUsername) {
      // The run would manage the account it signs in with: set its password from another secret and
      // treat its privileges as an application user's. Refused before anything is changed.
      throw new BootstrapError(`${where}: username must not be the admin user the bootstrap signs in as (AdminSecretArn): `
        + 'give this user its own secret with another user name, e.g. the backend\'s application user secret '
        + `(got ${JSON.stringify(username)})`);
    }
    if (seen.has(username)) {
      throw new BootstrapError(`${where}: username ${JSON.stringify(username)} is used twice; each secret needs its own user`);
    }
    seen.add(username);
  };
  check('monitor', plan.monitor.username);
  if (!MONITOR_PRIVILEGE_MODES.includes(plan.monitor.privileges)) {
    throw new BootstrapError(`monitor: privileges must be one of ${MONITOR_PRIVILEGE_MODES.join(', ')} (got ${JSON.stringify(plan.monitor.privileges)})`);
  }
  plan.users.forEach((u, i) => {
    check(`users[${i}]`, u.username);
    if (!DATABASE_NAME_PATTERN.test(u.database)) {
      throw new BootstrapError(`users[${i}] (${u.username}): database must match ${DATABASE_NAME_PATTERN} (got ${JSON.stringify(u.database)})`);
    }
    if (u.database.toLowerCase() === GRANT_RECORD_SCHEMA) {
      throw new BootstrapError(`users[${i}] (${u.username}): database must not be ${GRANT_RECORD_SCHEMA}, which holds the bootstrap's grant record (got ${JSON.stringify(u.database)})`);
    }
    const problem = checkGrants(u.grants ?? DEFAULT_GRANTS);
    if (problem) throw new BootstrapError(`users[${i}] (${u.username}): grants ${problem}`);
  });
}

/**
 * Creates or updates the monitor user and the application users. Retries the whole run (it is
 * idempotent) while the database is starting or briefly unavailable, until `options.deadline`.
 */
export async function bootstrapDatabase(conn: ConnectionValues, plan: BootstrapPlan, options: RunOptions): Promise<BootstrapResult> {
  validatePlan(plan, conn.user);
  const log = options.log ?? (() => undefined);
  const secrets = [conn.password, plan.monitor.password, ...plan.users.map((u) => u.password)];
  return withRetries(conn, { ...options, secrets }, async (db, attempts) => {
    const { flavour, version } = await serverFlavour(db);
    log(`connected to ${conn.host}:${conn.port} (${flavour} ${version})`);
    const record = new GrantRecord(db, plan.owner);
    const changes: string[] = [];

    // The monitor's privileges are global; it gets nothing on any schema.
    const monitorGlobal = monitorGlobalPrivileges(plan.monitor.privileges, flavour, version);
    changes.push(await ensureUser(db, conn, record, plan.monitor.username, plan.monitor.password,
      new Map([[GLOBAL_SCOPE, monitorGlobal]]), log));

    // An application user's privileges are on its own database; its global privileges and those on
    // other schemas are never ours to change (unless the record says we added them).
    let allOnDatabase: string[] | undefined;
    for (const user of plan.users) {
      await db.query(`CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(user.database)} CHARACTER SET utf8mb4`);
      const wanted = new Set<string>();
      for (const p of (user.grants ?? DEFAULT_GRANTS).map(normalizePrivilege)) {
        if (p === 'ALL PRIVILEGES') {
          allOnDatabase ??= await databaseLevelPrivileges(db);
          allOnDatabase.forEach((q) => wanted.add(q));
        } else {
          wanted.add(p);
        }
      }
      changes.push(await ensureUser(db, conn, record, user.username, user.password,
        new Map([[user.database, [...wanted]]]), log));
    }
    return { flavour, serverVersion: version, changes, attempts };
  });
}

export interface DeleteOptions extends RunOptions {
  /** The bootstrap resource whose grant record rows of the dropped users are removed. */
  readonly owner: string;
}

/**
 * Drops the given users if they exist (used on Delete only when asked), and forgets what the grant
 * record holds about them. Databases are kept. The admin user is never dropped.
 */
export async function deleteUsers(conn: ConnectionValues, usernames: readonly string[], options: DeleteOptions): Promise<string[]> {
  const log = options.log ?? (() => undefined);
  usernames.forEach((u, i) => {
    if (!USERNAME_PATTERN.test(u)) throw new BootstrapError(`users[${i}]: username must match ${USERNAME_PATTERN} (got ${JSON.stringify(u)})`);
  });
  if (!OWNER_PATTERN.test(options.owner ?? '')) {
    throw new BootstrapError(`owner must be 1 to 512 printable ASCII characters (got ${JSON.stringify(options.owner)})`);
  }
  return withRetries(conn, { ...options, secrets: [conn.password] }, async (db) => {
    const record = new GrantRecord(db, options.owner);
    const dropped: string[] = [];
    for (const u of usernames) {
      if (u === conn.user) {
        // Create refuses such a plan; a resource made before that check must still not drop the admin.
        log(`not dropping ${u}: it is the admin user the bootstrap signs in as`);
        continue;
      }
      if (await userExists(db, u)) {
        await db.query(`DROP USER ${account(u)}`);
        log(`dropped user ${u}`);
        dropped.push(u);
      } else {
        log(`user ${u} does not exist; nothing to drop`);
      }
      await record.forget(u);
    }
    return dropped;
  });
}

/** Global privileges of the monitor user for a topology check mode (see privileges.ts for why). */
export function monitorGlobalPrivileges(mode: MonitorPrivileges, flavour: Flavour, version: string): string[] {
  if (mode === 'basic') return [];
  if (flavour === 'mariadb') {
    // MariaDB 10.5 moved SHOW SLAVE STATUS from REPLICATION CLIENT (now an alias of BINLOG MONITOR)
    // to SLAVE MONITOR (alias REPLICA MONITOR).
    const [major, minor] = version.split('.').map((n) => parseInt(n, 10));
    return major > 10 || (major === 10 && minor >= 5) ? ['SLAVE MONITOR'] : ['REPLICATION CLIENT'];
  }
  return ['REPLICATION CLIENT'];
}

// ---------------------------------------------------------------------------------------------
// Users and privileges
// ---------------------------------------------------------------------------------------------

/** scope (a schema name, or GLOBAL_SCOPE for `*.*`) → the privileges wanted there */
type WantedPrivileges = ReadonlyMap<string, readonly string[]>;

interface PrivilegeSnapshot {
  readonly global: Set<string>;
  /** schema → privilege types */
  readonly schemas: Map<string, Set<string>>;
}

/** `'name'@'%'`, escaped. Every account this bootstrap manages uses host `%`. */
function account(username: string): string {
  return `${mysql.escape(username)}@'%'`;
}

/** How INFORMATION_SCHEMA spells the grantee; usernames are restricted, so no quoting surprises. */
function grantee(username: string): string {
  return `'${username}'@'%'`;
}

async function ensureUser(
  db: mysql.Connection, conn: ConnectionValues, record: GrantRecord, username: string, password: string,
  wanted: WantedPrivileges, log: (line: string) => void,
): Promise<string> {
  const steps: string[] = [];
  if (!(await userExists(db, username))) {
    await db.query(`CREATE USER ${account(username)} IDENTIFIED BY ?`, [password]);
    steps.push('created');
  } else if (!(await passwordWorks(conn, username, password))) {
    // Only when the password really differs: re-setting it would rewrite a salted hash (MySQL 8)
    // and trip password-reuse policies for no reason.
    await db.query(`ALTER USER ${account(username)} IDENTIFIED BY ?`, [password]);
    steps.push('password updated');
  }

  const before = await privileges(db, username);
  await reconcilePrivileges(db, record, username, wanted, before);
  const after = await privileges(db, username);
  if (!samePrivileges(before, after)) steps.push('privileges changed');

  const line = `${username}: ${steps.length ? steps.join(', ') : 'unchanged'}`;
  log(line);
  return line;
}

async function userExists(db: mysql.Connection, username: string): Promise<boolean> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = '%'", [username]);
  return Number(rows[0].n) > 0;
}

/** Logs in as the user: the only check of a password that works on every flavour and hash. */
async function passwordWorks(conn: ConnectionValues, username: string, password: string): Promise<boolean> {
  try {
    const probe = await mysql.createConnection({ ...connectionOptions(conn, 10_000), user: username, password });
    await probe.end();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR') return false;
    throw e;
  }
}

async function privileges(db: mysql.Connection, username: string): Promise<PrivilegeSnapshot> {
  const [globalRows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?', [grantee(username)]);
  const [schemaRows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_SCHEMA AS s, PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?', [grantee(username)]);
  const global = new Set(globalRows.map((r) => String(r.p)).filter((p) => p !== 'USAGE'));
  const schemas = new Map<string, Set<string>>();
  for (const r of schemaRows) {
    const s = String(r.s);
    if (!schemas.has(s)) schemas.set(s, new Set());
    schemas.get(s)!.add(String(r.p));
  }
  return { global, schemas };
}

function samePrivileges(a: PrivilegeSnapshot, b: PrivilegeSnapshot): boolean {
  const key = (s: PrivilegeSnapshot) => JSON.stringify({
    g: [...s.global].sort(),
    s: [...s.schemas.entries()].map(([k, v]) => [k, [...v].sort()]).sort(),
  });
  return key(a) === key(b);
}

/**
 * Grants what is missing, then revokes what this bootstrap added on an earlier run and no longer
 * wants (the grant record's protocol is in grant-record.ts). Grants come first so that a user in use
 * never goes through a moment without its privileges, e.g. while it moves to another database.
 *
 * Never revoked: privileges the user held before we first granted them (they are not in the record),
 * and table- or column-level grants (we make none).
 */
async function reconcilePrivileges(
  db: mysql.Connection, record: GrantRecord, username: string, wanted: WantedPrivileges, held: PrivilegeSnapshot,
): Promise<void> {
  const who = account(username);
  for (const [scope, inScope] of wanted) {
    const missing = inScope.filter((p) => !isHeld(held, scope, p));
    if (missing.length === 0) continue;
    await record.add(username, scope, missing);
    await db.query(`GRANT ${missing.join(', ')} ON ${onScope(scope)} TO ${who}`);
  }
  for (const { scope, privilege } of await record.load(username)) {
    if (wanted.get(scope)?.includes(privilege)) continue;
    if (isHeld(held, scope, privilege)) await db.query(`REVOKE ${privilege} ON ${onScope(scope)} FROM ${who}`);
    await record.remove(username, scope, privilege);
  }
}

function onScope(scope: string): string {
  return scope === GLOBAL_SCOPE ? '*.*' : `${mysql.escapeId(scope)}.*`;
}

function isHeld(held: PrivilegeSnapshot, scope: string, privilege: string): boolean {
  if (scope !== GLOBAL_SCOPE) return held.schemas.get(scope)?.has(privilege) ?? false;
  return held.global.has(privilege) || aliasHeld(privilege, held.global);
}

/**
 * What `ALL PRIVILEGES ON db.*` stands for on this server, one privilege per `*_priv` column of
 * `mysql.db` (GRANT OPTION aside, which ALL does not include). It differs by flavour and version
 * (MariaDB adds DELETE HISTORY, later SHOW CREATE ROUTINE), and asking the server keeps the list
 * right without a version table. Spelled as INFORMATION_SCHEMA.SCHEMA_PRIVILEGES spells them, so
 * "held" and "wanted" compare directly and only the missing ones are granted.
 */
async function databaseLevelPrivileges(db: mysql.Connection): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'db' "
    + "AND COLUMN_NAME LIKE '%\\_priv' ORDER BY ORDINAL_POSITION");
  const all = rows.map((r) => String(r.c).replace(/_priv$/i, ''))
    .filter((c) => c.toLowerCase() !== 'grant')
    .map((c) => (c.toLowerCase() === 'create_tmp_table' ? 'CREATE TEMPORARY TABLES' : c.replace(/_/g, ' ').toUpperCase()));
  if (!all.includes('SELECT')) {
    throw new BootstrapError('could not read the database-level privileges from mysql.db: the admin user needs SELECT on the mysql schema');
  }
  return all;
}

/** MariaDB reports SLAVE MONITOR as REPLICA MONITOR in some versions; treat them as one. */
function aliasHeld(privilege: string, held: Set<string>): boolean {
  const aliases: Record<string, string[]> = {
    'SLAVE MONITOR': ['REPLICA MONITOR'],
    'REPLICATION CLIENT': ['BINLOG MONITOR'],
  };
  return (aliases[privilege] ?? []).some((a) => held.has(a));
}

async function serverFlavour(db: mysql.Connection): Promise<{ flavour: Flavour; version: string }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  const version = String(rows[0].v);
  return { flavour: /mariadb/i.test(version) ? 'mariadb' : 'mysql', version };
}

// ---------------------------------------------------------------------------------------------
// Connections and retries
// ---------------------------------------------------------------------------------------------

/**
 * Errors worth another attempt: the server is starting, restarting, failing over, or not yet in
 * DNS. Anything else (bad SQL, a privilege the admin lacks) fails at once with its own message.
 */
const RETRYABLE = new Set([
  'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET',
  'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_OPTION_PREVENTS_STATEMENT', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT',
]);

function connectionOptions(conn: ConnectionValues, connectTimeout: number): mysql.ConnectionOptions {
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    connectTimeout,
    ssl: conn.ssl === true ? 'Amazon RDS' : conn.ssl === false ? undefined : conn.ssl,
    multipleStatements: false,
  };
}

/** A server's error text can quote the statement it choked on; never let a password through. */
function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((t, s) => t.split(s).join('***'), text);
}

async function withRetries<T>(
  conn: ConnectionValues, options: RunOptions & { secrets: readonly string[] }, work: (db: mysql.Connection, attempts: number) => Promise<T>,
): Promise<T> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const grace = options.accessDeniedGraceMs ?? 30_000;
  let attempts = 0;
  let delay = 1_000;
  for (;;) {
    attempts += 1;
    let db: mysql.Connection | undefined;
    try {
      const remaining = Math.max(1_000, options.deadline - Date.now());
      db = await mysql.createConnection(connectionOptions(conn, Math.min(10_000, remaining)));
      return await work(db, attempts);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const code = err.code ?? 'UNKNOWN';
      const retryable = RETRYABLE.has(code) || (code === 'ER_ACCESS_DENIED_ERROR' && Date.now() - started < grace);
      const elapsed = Math.round((Date.now() - started) / 1000);
      if (e instanceof BootstrapError) throw e;
      if (!retryable || Date.now() + delay >= options.deadline) {
        const what = code === 'ER_ACCESS_DENIED_ERROR'
          ? `the admin user ${conn.user} was refused by ${conn.host}:${conn.port}: check the admin secret`
          : `database ${conn.host}:${conn.port} ${retryable ? 'not reachable' : 'failed'}`;
        throw new BootstrapError(`Bootstrap failed after ${attempts} attempt(s) in ${elapsed}s: ${what} (${code}: ${redact(String(err.message ?? e), options.secrets)})`);
      }
      log(`attempt ${attempts} failed (${code}); retrying in ${delay / 1000}s`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    } finally {
      await db?.end().catch(() => undefined);
    }
  }
}
