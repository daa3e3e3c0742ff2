/**
 * The ProxySQL container's command and health check: `src/task-programs/start.sh` (renders the
 * configuration from the template and the secrets in the environment, runs ProxySQL, and turns
 * SIGTERM into a graceful drain) and `health-check.sh`; see each file for what it does and why.
 */
import { taskProgram } from './task-programs';

/** Env var with the seconds to drain after `PROXYSQL PAUSE` on SIGTERM. */
export const DRAIN_SECONDS_ENV = 'PROXYSQL_DRAIN_SECONDS';
/** Env var with the directory for the rendered config and the admin client file (default /var/lib/proxysql). */
export const CONFIG_DIR_ENV = 'PROXYSQL_CONFIG_DIR';
/** Env var with ProxySQL's datadir (default /var/lib/proxysql). */
export const DATADIR_ENV = 'PROXYSQL_DATADIR';

/**
 * What the stop handler counts as work in flight, as one admin query on
 * `stats_mysql_processlist` answering `<statements> <transactions>`:
 * - sessions whose command is neither `Sleep` (idle) nor `Connecting client` (a handshake: no work
 *   yet, and the paused listener admits no one new);
 * - idle sessions inside an open transaction: `active_transactions` of the session's
 *   `extended_info` JSON (the configuration sets `mysql-show_processlist_extended=1`).
 * Measured on 2.7.1, `stats_mysql_global`'s `Active_Transactions` will not do: it is a per-thread
 * sum refreshed by each worker's maintenance pass (every second while busy, every
 * `mysql-poll_timeout` = 2 s when idle), and ProxySQL counts every running statement as a
 * transaction until then; it still read 1 for 2.1 s after an autocommit `SELECT SLEEP(3)` ended.
 * The session's own value is set when a statement starts and re-read from the backend when it
 * ends. The admin interface's own sessions are not in the processlist.
 */
export const IN_FLIGHT_SQL = 'SELECT '
  + 'COALESCE(SUM(command NOT IN (\'Sleep\', \'Connecting client\')), 0), '
  + 'COALESCE(SUM(command = \'Sleep\' AND json_extract(extended_info, \'$.active_transactions\') > 0), 0) '
  + 'FROM stats_mysql_processlist';

/** The awk program that writes the admin mysql client option file (start.sh and metrics.sh use it). */
export const ADMIN_CLIENT_AWK = taskProgram('admin-client.awk').command;

/** `start.sh` with its inputs: run as `['sh', '-c', START_PROGRAM.command]`. */
export const START_PROGRAM = taskProgram('start.sh', {
  RENDER_AWK: taskProgram('render-config.awk').command,
  PEM_AWK: taskProgram('pem.awk').command,
  ADMIN_CLIENT_AWK,
  FLEET_SHARE_SH: taskProgram('fleet-share.sh').command,
  IN_FLIGHT_SQL,
});

/** The ProxySQL container's command, run as `['sh', '-c', START_SCRIPT]`. */
export const START_SCRIPT = START_PROGRAM.command;

/** Container health check (`CMD-SHELL`): see `health-check.sh`. ECS runs it as one line. */
export const HEALTH_CHECK_SCRIPT = taskProgram('health-check.sh').command.trimEnd();
