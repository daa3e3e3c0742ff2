import { BootstrapError } from './bootstrap-error';
import { OWNER_PATTERN } from './grant-record';
import {
  checkGrants, DATABASE_NAME_PATTERN, DEFAULT_GRANTS, GRANT_RECORD_SCHEMA, MonitorPrivileges, MONITOR_PRIVILEGE_MODES,
  USERNAME_PATTERN,
} from './privileges';

// What a bootstrap run is asked to do, and the checks it passes before anything touches the database.

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
