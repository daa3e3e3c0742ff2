// mysql2 is bundled into the function's asset by esbuild; the library itself never loads this file.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { BootstrapError } from './bootstrap-error';

// Connections to the database, the retries of a whole run while it is starting or failing over, and
// the redaction of secrets from the error that ends a run.

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

/**
 * Errors worth another attempt: the server is starting, restarting, failing over, or not yet in
 * DNS. Anything else (bad SQL, a privilege the admin lacks) fails at once with its own message.
 */
const RETRYABLE = new Set([
  'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET',
  'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_OPTION_PREVENTS_STATEMENT', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT',
]);

export function connectionOptions(conn: ConnectionValues, connectTimeout: number): mysql.ConnectionOptions {
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

export async function withRetries<T>(
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
