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
import { BootstrapError } from './bootstrap-error';
import { ConnectionValues, RunOptions, withRetries } from './connection';
import { GLOBAL_SCOPE, GrantRecord, OWNER_PATTERN } from './grant-record';
import { BootstrapPlan, validatePlan } from './plan';
import { DEFAULT_GRANTS, normalizePrivilege, USERNAME_PATTERN } from './privileges';
import {
  account, databaseLevelPrivileges, ensureUser, Flavour, monitorGlobalPrivileges, serverFlavour, userExists,
} from './users';

// The run's parts, importable from here as before: the plan and its checks (plan.ts), the users and
// their privileges (users.ts), connections, retries and redaction (connection.ts).
export { BootstrapError } from './bootstrap-error';
export type { ConnectionValues, RunOptions } from './connection';
export { validatePlan } from './plan';
export type { BootstrapPlan, UserPlan } from './plan';
export { monitorGlobalPrivileges } from './users';
export type { Flavour } from './users';

export interface BootstrapResult {
  readonly flavour: Flavour;
  readonly serverVersion: string;
  /** One line per user: created / password updated / privileges changed / unchanged. */
  readonly changes: string[];
  readonly attempts: number;
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
