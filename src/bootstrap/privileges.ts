/**
 * Names and rules shared by the bootstrap construct (synth-time validation) and its handler
 * (run-time validation). No imports: the construct must not pull `mysql2` into the library.
 */

/**
 * What the ProxySQL monitor user must be able to do.
 *
 * - `basic`: connect, ping and the `read_only` / `innodb_read_only` / `super_read_only` checks of
 *   `mysql_replication_hostgroups`. Reading a global variable needs no privilege: USAGE is enough.
 * - `replication`: `basic` plus the replication lag check (`max_replication_lag` on a server), which
 *   runs `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS`: REPLICATION CLIENT on MySQL, SLAVE MONITOR on
 *   MariaDB 10.5+ (MariaDB split REPLICATION CLIENT into BINLOG MONITOR and SLAVE MONITOR).
 * - `aurora`: `mysql_aws_aurora_hostgroups` discovery. ProxySQL's Aurora check
 *   (`QUERY_AWS_AURORA_REPLICA_HOST_STATUS` in sysown/proxysql `include/MySQL_Monitor.hpp`) is one
 *   SELECT on `INFORMATION_SCHEMA.REPLICA_HOST_STATUS` (SERVER_ID, SESSION_ID, LAST_UPDATE_TIMESTAMP,
 *   REPLICA_LAG_IN_MILLISECONDS, CPU); the Blue/Green variant reads the same table. INFORMATION_SCHEMA
 *   views that describe the server rather than objects need no table privilege, and neither the AWS
 *   page on the Aurora information_schema tables nor ProxySQL's Aurora documentation names one. We
 *   could not run Aurora here, so this mode adds REPLICATION CLIENT as a margin: it only shows
 *   replication/binlog status (no data, no writes), and a monitor that cannot read the topology would
 *   silently stop discovering instances. The RDS topology probe ProxySQL runs for
 *   `*.rds.amazonaws.com` hosts (`mysql.rds_topology`, Multi-AZ DB clusters / Blue-Green) is left
 *   without SELECT on purpose: the probe then finds no table and skips discovery.
 */
export type MonitorPrivileges = 'basic' | 'replication' | 'aurora';

export const MONITOR_PRIVILEGE_MODES: readonly MonitorPrivileges[] = ['basic', 'replication', 'aurora'];

/** Database-level privileges an application user may be given (MySQL 8 and MariaDB names). */
export const DATABASE_PRIVILEGES: readonly string[] = [
  'ALL PRIVILEGES', 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX',
  'ALTER', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW',
  'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
];

/**
 * The schema holding the bootstrap's grant record (see grant-record.ts). No application user may be
 * given it as its database: a user who can write the record could steer what the admin revokes.
 */
export const GRANT_RECORD_SCHEMA = 'cdk_proxysql';

/** The default grant: everything on the user's own database, nothing elsewhere. */
export const DEFAULT_GRANTS: readonly string[] = ['ALL PRIVILEGES'];

/**
 * User names are pasted into `'name'@'%'` and compared with INFORMATION_SCHEMA grantee strings, and
 * ProxySQL copies them into its own SQLite tables: keep them to the characters RDS itself allows.
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9_]{1,32}$/;

/** Unquoted-identifier characters only, so the name reads the same in SQL, ProxySQL and logs. */
export const DATABASE_NAME_PATTERN = /^[A-Za-z0-9_$]{1,64}$/;

/** `all` → `ALL PRIVILEGES`, extra spaces folded, upper case. */
export function normalizePrivilege(privilege: string): string {
  const p = privilege.trim().replace(/\s+/g, ' ').toUpperCase();
  return p === 'ALL' ? 'ALL PRIVILEGES' : p;
}

/** Returns an error message for an unknown privilege, or undefined when every one is known. */
export function checkGrants(grants: readonly string[]): string | undefined {
  if (grants.length === 0) return 'must list at least one privilege (got an empty list)';
  for (const g of grants) {
    if (!DATABASE_PRIVILEGES.includes(normalizePrivilege(g))) {
      return `must be database-level privileges (${DATABASE_PRIVILEGES.join(', ')}) (got ${JSON.stringify(g)})`;
    }
  }
  return undefined;
}
