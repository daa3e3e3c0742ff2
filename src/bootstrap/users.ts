// mysql2 is bundled into the function's asset by esbuild; the library itself never loads this file.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { BootstrapError } from './bootstrap-error';
import { connectionOptions, ConnectionValues } from './connection';
import { GLOBAL_SCOPE, GrantRecord } from './grant-record';
import { MonitorPrivileges } from './privileges';

// The users a run manages and their privileges: create, set the password only when it differs, grant
// what is missing and revoke what the grant record says an earlier run added.

export type Flavour = 'mysql' | 'mariadb';

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

/** scope (a schema name, or GLOBAL_SCOPE for `*.*`) → the privileges wanted there */
type WantedPrivileges = ReadonlyMap<string, readonly string[]>;

interface PrivilegeSnapshot {
  readonly global: Set<string>;
  /** schema → privilege types */
  readonly schemas: Map<string, Set<string>>;
}

/** `'name'@'%'`, escaped. Every account this bootstrap manages uses host `%`. */
export function account(username: string): string {
  return `${mysql.escape(username)}@'%'`;
}

/** How INFORMATION_SCHEMA spells the grantee; usernames are restricted, so no quoting surprises. */
function grantee(username: string): string {
  return `'${username}'@'%'`;
}

export async function ensureUser(
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

export async function userExists(db: mysql.Connection, username: string): Promise<boolean> {
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
export async function databaseLevelPrivileges(db: mysql.Connection): Promise<string[]> {
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

export async function serverFlavour(db: mysql.Connection): Promise<{ flavour: Flavour; version: string }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  const version = String(rows[0].v);
  return { flavour: /mariadb/i.test(version) ? 'mariadb' : 'mysql', version };
}
