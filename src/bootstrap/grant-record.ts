/**
 * The grant record: which privileges a bootstrap resource added to which user, so that a later run
 * revokes those and nothing else. A privilege a user held before we first touched it never enters
 * the record, so it is never revoked: on an existing database, an application user keeps its
 * global privileges and its privileges on other schemas.
 *
 * Where it lives, and why there: a table in the database the grants are made in,
 * `cdk_proxysql.bootstrap_grants`, created (with its schema) the first time a run adds a privilege.
 * CloudFormation cannot carry it. It hands a custom resource back only its PhysicalResourceId and,
 * on Update, its OldResourceProperties: the response's Data is never passed back, the properties
 * come from the template and cannot hold what a run found on the server, and a new
 * PhysicalResourceId makes CloudFormation delete the "old" resource after the update (with
 * `dropUsersOnDelete` that would drop the users). A record kept beside the grants also covers what
 * CloudFormation loses: the grants of an update that fails half-way are in the record, so the
 * rollback (an Update back to the old properties) revokes them.
 *
 * Rows are keyed by owner (`<stack id>/<logical id>` of the custom resource), user, scope (a schema
 * name, or `*` for `*.*`) and privilege. Two bootstrap resources that manage the same user keep
 * separate rows: each revokes only what it added.
 *
 * The protocol, which makes every run safe to repeat (handler retries, a re-sent event, a rollback)
 * and its outcome depend only on the plan, the server's grants and the record:
 *   - to grant: write the row, then GRANT. A run that stops in between leaves a row for a privilege
 *     not yet held; the next run finds it missing, grants it, and the row is already right.
 *   - to revoke: REVOKE, then delete the row. A run that stops in between leaves a row for a
 *     privilege no longer held; the next run finds it unwanted and not held, and deletes the row.
 *   - wanted and already held without a row: not ours; no row is written, nothing is revoked later.
 */
// mysql2 is bundled into the function's asset by esbuild; the library itself never loads this file.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { GRANT_RECORD_SCHEMA } from './privileges';

const TABLE = `${mysql.escapeId(GRANT_RECORD_SCHEMA)}.\`bootstrap_grants\``;

/** `*` stands for `*.*` (global privileges); anything else is a schema name. */
export const GLOBAL_SCOPE = '*';

/** Owner keys are ASCII (stack ARN and logical id) and fit the column. */
export const OWNER_PATTERN = /^[\x21-\x7e]{1,512}$/;
/** What a recorded privilege name may look like before it is pasted into REVOKE. */
const PRIVILEGE_NAME = /^[A-Z]+( [A-Z]+)*$/;

export interface RecordedGrant {
  readonly scope: string;
  readonly privilege: string;
}

export class GrantRecord {
  private tableReady = false;

  /** `owner` must match OWNER_PATTERN (checked with the plan, before anything connects). */
  constructor(private readonly db: mysql.Connection, private readonly owner: string) {}

  /** What this owner added to `username` on earlier runs (empty before the first grant). */
  public async load(username: string): Promise<RecordedGrant[]> {
    try {
      const [rows] = await this.db.query<mysql.RowDataPacket[]>(
        `SELECT on_schema AS s, privilege_type AS p FROM ${TABLE} WHERE owner = ? AND grantee = ? ORDER BY 1, 2`,
        [this.owner, username]);
      // Rows are pasted into REVOKE: anything that is not a plain privilege name is not ours.
      return rows.map((r) => ({ scope: String(r.s), privilege: String(r.p) }))
        .filter((g) => PRIVILEGE_NAME.test(g.privilege));
    } catch (e) {
      if (missingTable(e)) return [];
      throw e;
    }
  }

  /** Records privileges about to be granted (before the GRANT: see the protocol above). */
  public async add(username: string, scope: string, privileges: readonly string[]): Promise<void> {
    await this.ensureTable();
    for (const p of privileges) {
      await this.db.query(
        `INSERT IGNORE INTO ${TABLE} (owner, grantee, on_schema, privilege_type) VALUES (?, ?, ?, ?)`,
        [this.owner, username, scope, p]);
    }
  }

  /** Forgets one privilege (after the REVOKE). */
  public async remove(username: string, scope: string, privilege: string): Promise<void> {
    await this.db.query(
      `DELETE FROM ${TABLE} WHERE owner = ? AND grantee = ? AND on_schema = ? AND privilege_type = ?`,
      [this.owner, username, scope, privilege]);
  }

  /** Forgets everything about a user (after DROP USER). */
  public async forget(username: string): Promise<void> {
    try {
      await this.db.query(`DELETE FROM ${TABLE} WHERE owner = ? AND grantee = ?`, [this.owner, username]);
    } catch (e) {
      if (!missingTable(e)) throw e;
    }
  }

  private async ensureTable(): Promise<void> {
    if (this.tableReady) return;
    await this.db.query(`CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(GRANT_RECORD_SCHEMA)} CHARACTER SET ascii`);
    // ascii_bin: user names compare as MySQL compares them (case-sensitive). The key is 720 bytes,
    // under InnoDB's 767-byte limit of older row formats.
    await this.db.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      owner VARCHAR(512) NOT NULL COMMENT 'CloudFormation stack id / logical id of the bootstrap resource',
      grantee VARCHAR(80) NOT NULL COMMENT 'user name (host is always %)',
      on_schema VARCHAR(64) NOT NULL COMMENT 'schema, or * for *.*',
      privilege_type VARCHAR(64) NOT NULL,
      recorded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      PRIMARY KEY (owner, grantee, on_schema, privilege_type)
    ) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin
      COMMENT='Privileges the cdk-proxysql bootstrap added; only these are ever revoked by it'`);
    this.tableReady = true;
  }
}

function missingTable(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR';
}
