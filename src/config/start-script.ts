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
/** Env var with the task volume the credentials sidecar writes the secrets' stages to (live credentials only). */
export const CREDENTIALS_DIR_ENV = 'PROXYSQL_CREDENTIALS_DIR';
/** Env var with the entries the ProxySQL container applies from it (`user0 ... monitor`). */
export const CREDENTIALS_NAMES_ENV = 'PROXYSQL_CREDENTIALS_NAMES';
/** Env vars of the credentials sidecar: `entry=secret-arn` words, and the poll interval in seconds. */
export const CREDENTIALS_SECRETS_ENV = 'PROXYSQL_CREDENTIALS_SECRETS';
export const CREDENTIALS_INTERVAL_ENV = 'PROXYSQL_CREDENTIALS_INTERVAL';
/** The credentials sidecar's command (`credentials-fetch.sh`), run with `sh -c` in the AWS CLI image. */
export const CREDENTIALS_FETCH_SCRIPT = taskProgram('credentials-fetch.sh').command;

/** Env var with ProxySQL's datadir (default /var/lib/proxysql). */
export const DATADIR_ENV = 'PROXYSQL_DATADIR';

/**
 * What the stop handler counts as work in flight, as one admin query on
 * `stats_mysql_processlist` answering `<statements> <transactions> <sessions>`:
 * - sessions whose command is neither `Sleep` (idle) nor `Connecting client` (a handshake: no work
 *   yet, and the paused listener admits no one new);
 * - idle sessions inside an open transaction: `active_transactions` of the session's
 *   `extended_info` JSON (the configuration sets `mysql-show_processlist_extended=1`).
 * Measured on 2.7.1, `stats_mysql_global`'s `Active_Transactions` will not do: it is a per-thread
 * sum refreshed by each worker's maintenance pass (every second while busy, every
 * `mysql-poll_timeout` = 2 s when idle), and ProxySQL counts every running statement as a
 * transaction until then; it still read 1 for 2.1 s after an autocommit `SELECT SLEEP(3)` ended.
 * The session's own value is set when a statement starts and re-read from the backend when it
 * ends. The admin interface's own sessions are not in the processlist. The third number counts
 * every client session still open, idle or not: the handler waits until it is 0 (CLOSE_IDLE_SQL).
 */
export const IN_FLIGHT_SQL = 'SELECT '
  + 'COALESCE(SUM(command NOT IN (\'Sleep\', \'Connecting client\')), 0), '
  + 'COALESCE(SUM(command = \'Sleep\' AND json_extract(extended_info, \'$.active_transactions\') > 0), 0), '
  + 'COUNT(*) '
  + 'FROM stats_mysql_processlist';

/**
 * What the stop handler runs right after `PROXYSQL PAUSE` (and again every half second while client
 * sessions are left: loading the variables wakes every worker): a client wait timeout of 1 ms, so
 * that each worker's maintenance pass (once a second) closes every client session that is waiting
 * for its client's next statement and has no transaction open. ProxySQL never applies
 * `wait_timeout` to a session whose statement is running (its idle time is 0 then) nor to one
 * inside a transaction (that is `max_transaction_idle_time`, 4 h by default): those are closed at
 * the first pass after their statement or their COMMIT ends. Two more variables make the passes
 * find busy sessions idle, measured on 2.7.2 behind HAProxy:
 * - `mysql-poll_timeout` 10 ms: a worker whose only remaining session is busy otherwise wakes only
 *   on that session's traffic, so its pass always came right after a statement arrived and the
 *   session was never idle (it lasted until the drain time);
 * - `mysql-session_idle_ms` 1 h: sessions stay on the worker threads instead of moving to the
 *   idle-session threads between statements, whose pass runs only every 2 s (stops took 17 s).
 * The client sees its connection closed between two statements: a pool (mysql2, HikariCP,
 * SQLAlchemy) discards it and opens a new one, which the load balancer sends to a live task. A close
 * can still cross a statement the client sends at that instant. Read in ProxySQL's
 * `MySQL_Thread::ProcessAllSessions_MaintenanceLoop`; measured in test/dataplane/deploy.test.ts.
 */
export const CLOSE_IDLE_SQL = 'SET mysql-wait_timeout=1; SET mysql-poll_timeout=10; SET mysql-session_idle_ms=3600000; LOAD MYSQL VARIABLES TO RUNTIME';

/** The awk program that writes the admin mysql client option file (start.sh and metrics.sh use it). */
export const ADMIN_CLIENT_AWK = taskProgram('admin-client.awk').command;

/** `start.sh` with its inputs: run as `['sh', '-c', START_PROGRAM.command]`. */
export const START_PROGRAM = taskProgram('start.sh', {
  RENDER_AWK: taskProgram('render-config.awk').command,
  PEM_AWK: taskProgram('pem.awk').command,
  ADMIN_CLIENT_AWK,
  FLEET_SHARE_SH: taskProgram('fleet-share.sh').command,
  CREDENTIALS_SH: taskProgram('credentials.sh', { CREDENTIALS_AWK: taskProgram('credentials.awk').command }).command,
  IN_FLIGHT_SQL,
  CLOSE_IDLE_SQL,
});

/** The ProxySQL container's command, run as `['sh', '-c', START_SCRIPT]`. */
export const START_SCRIPT = START_PROGRAM.command;

/** Container health check (`CMD-SHELL`): see `health-check.sh`. ECS runs it as one line. */
export const HEALTH_CHECK_SCRIPT = taskProgram('health-check.sh').command.trimEnd();
