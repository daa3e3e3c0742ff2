/**
 * The demo API's request handling, with its two outside dependencies passed in: where the secret
 * string comes from (Secrets Manager in Lambda, a plain function in tests) and the environment.
 *
 * Lifetime: one handler per Lambda execution environment. Credentials are fetched on the first
 * request and cached; one MySQL connection is opened and reused by every later request, checked
 * with a ping before reuse and replaced when the server or ProxySQL has closed it. A request whose
 * connect fails or whose connection is lost is run once more on a new connection (the README's
 * "Retry once, on a new connection").
 *
 * Secrets: the password exists only in memory. Responses and log lines carry fixed messages and
 * error codes, never the text of an exception that could echo what it parsed.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
// esbuild bundles mysql2 into the handler asset; lib/ never loads this module at synth time.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { DemoResult, DemoSql } from './demo-sql';

/** Returns the SecretString of the secret with this ARN. */
export type SecretStringFetcher = (secretArn: string) => Promise<string>;

export interface DemoHandlerDependencies {
  readonly fetchSecretString: SecretStringFetcher;
  /** `DB_SECRET_ARN`, `DB_HOST`, `DB_PORT` (default 3306), `DB_NAME` (default: the secret's `dbname`, else `demo`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where log lines go. @default console */
  readonly logger?: Pick<Console, 'log' | 'error'>;
  /** @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Passed to DemoSql. @default 5 */
  readonly readAttempts?: number;
}

export interface DemoHandler {
  handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2>;
  /** Ends the cached connection (tests; Lambda just freezes the environment). */
  close(): Promise<void>;
}

interface Credentials {
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
}

interface Config {
  readonly secretArn: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string;
}

interface Session {
  readonly conn: mysql.Connection;
  readonly sql: DemoSql;
  readonly threadId: number;
  invocations: number;
  closed: boolean;
}

/** An error whose message and code are safe to return and log as they are. */
class DemoError extends Error {
  constructor(readonly status: number, message: string, readonly code: string) {
    super(message);
  }
}

const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT',
]);
const AUTH_FAILED = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_NOT_SUPPORTED_AUTH_MODE']);

function readConfig(env: DemoHandlerDependencies['env']): Config {
  const secretArn = env.DB_SECRET_ARN;
  const host = env.DB_HOST;
  if (!secretArn) throw new DemoError(500, 'the function is misconfigured: DB_SECRET_ARN is not set', 'CONFIG');
  if (!host) throw new DemoError(500, 'the function is misconfigured: DB_HOST is not set', 'CONFIG');
  const rawPort = env.DB_PORT ?? '3306';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) {
    throw new DemoError(500, `the function is misconfigured: DB_PORT must be a port number 1-65535 (got ${JSON.stringify(rawPort)})`, 'CONFIG');
  }
  return { secretArn, host, port, database: env.DB_NAME || undefined };
}

/** Parses an RDS-shaped secret. Never echoes the input: JSON.parse messages quote what they read. */
export function parseCredentials(secretString: string): Credentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new DemoError(500, 'the database secret is not a JSON object', 'SECRET_FORMAT');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new DemoError(500, 'the database secret is not a JSON object', 'SECRET_FORMAT');
  }
  const { username, password, dbname } = parsed as Record<string, unknown>;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new DemoError(500, 'the database secret needs non-empty string fields username and password', 'SECRET_FORMAT');
  }
  return { username, password, dbname: typeof dbname === 'string' && dbname !== '' ? dbname : undefined };
}

function json(status: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Maps any failure to a status, a fixed public message and a code, plus what operators may log. */
function describe(err: unknown): { status: number; message: string; code: string; log: Record<string, unknown> } {
  if (err instanceof DemoError) {
    return { status: err.status, message: err.message, code: err.code, log: {} };
  }
  const rawCode = field(err, 'code');
  const code = typeof rawCode === 'string' && /^[A-Z0-9_]{1,64}$/.test(rawCode) ? rawCode : 'INTERNAL';
  const errno = typeof field(err, 'errno') === 'number' ? field(err, 'errno') : undefined;
  const sqlState = typeof field(err, 'sqlState') === 'string' ? field(err, 'sqlState') : undefined;
  // A server's error text describes our statements or the login attempt; it never contains the
  // password, which the protocol sends only as a scramble.
  const log = { errno, sqlState, sqlMessage: sqlState ? field(err, 'sqlMessage') : undefined };
  if (UNREACHABLE.has(code)) return { status: 503, message: 'the database is unreachable', code, log };
  if (AUTH_FAILED.has(code)) return { status: 502, message: 'the database refused the credentials', code, log };
  if (sqlState) return { status: 502, message: 'the database returned an error', code, log };
  return { status: 500, message: 'internal error', code, log: {} };
}

export function createDemoHandler(deps: DemoHandlerDependencies): DemoHandler {
  const logger = deps.logger ?? console;
  let config: Config | undefined;
  let credentials: Promise<Credentials> | undefined;
  let session: Session | undefined;

  function loadCredentials(secretArn: string): Promise<Credentials> {
    if (!credentials) {
      credentials = deps.fetchSecretString(secretArn).then(parseCredentials, (err: unknown) => {
        // Kept apart from database errors: a timeout here means no route to Secrets Manager
        // (no NAT or VPC endpoint), not an unreachable database.
        const name = field(err, 'name');
        const code = typeof name === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(name) && name !== 'Error' ? name : 'SECRET_READ';
        throw new DemoError(502, 'the database secret could not be read', code);
      });
      // A failed fetch must not poison the environment: the next request tries again.
      credentials.catch(() => { credentials = undefined; });
    }
    return credentials;
  }

  async function openSession(cfg: Config): Promise<Session> {
    const creds = await loadCredentials(cfg.secretArn);
    const conn = await mysql.createConnection({
      host: cfg.host,
      port: cfg.port,
      user: creds.username,
      password: creds.password,
      connectTimeout: deps.connectTimeoutMs ?? 5000,
    });
    const opened: Session = {
      conn,
      sql: new DemoSql(conn, { database: cfg.database ?? creds.dbname ?? 'demo', readAttempts: deps.readAttempts }),
      threadId: conn.threadId,
      invocations: 0,
      closed: false,
    };
    // Without an 'error' listener, an idle connection closed by the server (wait_timeout, a ProxySQL
    // restart) would crash the runtime while frozen; marking it closed makes the next request reconnect.
    conn.on('error', () => { opened.closed = true; });
    conn.on('end', () => { opened.closed = true; });
    return opened;
  }

  async function currentSession(cfg: Config): Promise<{ session: Session; reused: boolean }> {
    if (session && !session.closed) {
      try {
        await session.conn.ping();
        return { session, reused: true };
      } catch {
        session.closed = true;
      }
    }
    if (session) {
      session.conn.destroy();
      session = undefined;
    }
    session = await openSession(cfg);
    return { session, reused: false };
  }

  async function handle(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '/';
    if (method !== 'GET' || path !== '/') {
      return json(404, { error: { message: 'only GET / is served', code: 'NOT_FOUND' } });
    }
    const started = Date.now();
    try {
      config ??= readConfig(deps.env);
      let s: Session;
      let reused: boolean;
      let result: DemoResult;
      let retried = false;
      for (;;) {
        try {
          ({ session: s, reused } = await currentSession(config));
          s.invocations += 1;
          try {
            result = await s.sql.run();
          } catch (err) {
            // The connection may be half-way through something; it is not used again.
            if (field(err, 'fatal') === true) s.closed = true;
            throw err;
          }
          break;
        } catch (err) {
          // Retry once, on a new connection, when the connect failed or the connection was lost
          // (a task stopping or dying behind the load balancer): the request is safe to run again,
          // as its write is a transaction re-run from its BEGIN. Were the first COMMIT to have
          // landed before the connection was lost, the demo would log one row more; a write of
          // yours needs an idempotency key for that.
          if (retried || !UNREACHABLE.has(String(field(err, 'code')))) throw err;
          retried = true;
        }
      }
      logger.log(JSON.stringify({
        msg: 'served',
        ms: Date.now() - started,
        reused,
        retried,
        writeServer: result.write.server.auroraServerId ?? result.write.server.hostname,
        readServer: result.read.server.auroraServerId ?? result.read.server.hostname,
        sawWrite: result.read.sawWrite,
      }));
      return json(200, {
        ...result,
        connection: { reused, retried, threadId: s.threadId, invocation: s.invocations },
      });
    } catch (err) {
      const d = describe(err);
      // Rotated password: fetch the secret again on the next request instead of failing forever.
      if (AUTH_FAILED.has(d.code)) credentials = undefined;
      logger.error(JSON.stringify({ msg: 'request failed', status: d.status, code: d.code, error: d.message, ...d.log }));
      return json(d.status, { error: { message: d.message, code: d.code } });
    }
  }

  async function close(): Promise<void> {
    const s = session;
    session = undefined;
    if (s && !s.closed) await s.conn.end().catch(() => s.conn.destroy());
  }

  return { handle, close };
}
