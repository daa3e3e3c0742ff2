/**
 * The rotation gate: Secrets Manager's rotation function for the secret, with one step added.
 *
 * Secrets Manager calls the gate for each step of a rotation (createSecret, setSecret, testSecret,
 * finishSecret). The gate runs each step with the rotation function it wraps (Secrets Manager's own
 * for MySQL), and after testSecret it waits until every proxy registered for the secret accepts
 * the pending user: at least the proxy's refresh interval (plus a margin) after the pending version
 * was created, then a run of consecutive logins through the proxy's load balancer, each on a new
 * connection. Only then does it return, and Secrets Manager's finishSecret moves AWSCURRENT. A
 * proxy that does not accept the pending user in time fails testSecret: the rotation stops before
 * AWSCURRENT moves, so clients keep a user every task knows.
 *
 * Logs and errors name the secret's user, the proxy and the error code, never a password.
 */

/** What Secrets Manager passes to a rotation function. */
export interface RotationEvent {
  readonly Step: string;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

/** A proxy that serves the secret, as it registered itself (an SSM parameter's JSON value). */
export interface GateTarget {
  /** Whom to name in logs and errors (the proxy's construct path). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The proxy tasks' `credentialsRefreshInterval`, in seconds. */
  readonly refreshSeconds: number;
  /** The proxy offers TLS to clients: log in with it. */
  readonly tls: boolean;
}

export interface PendingValue {
  readonly username: string;
  readonly password: string;
  /** Epoch ms of the pending version's creation. */
  readonly createdAt: number;
}

export interface GateDependencies {
  /** Run the step with the wrapped rotation function; throws when it fails. */
  forward(event: RotationEvent): Promise<void>;
  /** The proxies registered for this secret. */
  targets(): Promise<GateTarget[]>;
  /** The AWSPENDING value of the rotation. */
  pending(secretId: string, token: string): Promise<PendingValue>;
  /** One login through the proxy on a new connection; throws an error with a `code` when refused. */
  login(target: GateTarget, username: string, password: string): Promise<void>;
  /** Epoch ms after which the gate must have returned (the invocation's own deadline). */
  deadline(): number;
  now(): number;
  sleep(ms: number): Promise<void>;
  log(line: string): void;
}

/** Seconds past one refresh interval a task takes to fetch and apply a value (measured ≤ 1.2 s; see docs/rotation.md). */
export const SETTLE_MARGIN_SECONDS = 5;
/** Consecutive logins, each on a new connection (so new flows spread over the tasks), that prove a proxy accepts the user. */
export const LOGIN_STREAK = 8;
/** Pause between two logins, and after a refused one. */
export const LOGIN_PAUSE_MS = 250;
export const RETRY_PAUSE_MS = 1000;

export class GateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateError';
  }
}

/** Parse and check a registration; `name` is the parameter's name, for the message. */
export function parseTarget(name: string, value: string): GateTarget {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(value);
  } catch {
    throw new GateError(`proxy registration ${name} is not JSON`);
  }
  const host = o.host;
  const port = Number(o.port);
  const refreshSeconds = Number(o.refreshSeconds);
  if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || port <= 0 || !(refreshSeconds > 0)) {
    throw new GateError(`proxy registration ${name} needs host, port and refreshSeconds (got ${value.slice(0, 200)})`);
  }
  return { name: typeof o.name === 'string' ? o.name : name, host, port, refreshSeconds, tls: o.tls === true };
}

/** One step of a rotation. */
export async function runStep(event: RotationEvent, deps: GateDependencies): Promise<void> {
  await deps.forward(event);
  if (event.Step !== 'testSecret') return;
  const targets = await deps.targets();
  if (targets.length === 0) {
    deps.log(`testSecret ${event.SecretId}: no proxy is registered for this secret, nothing to wait for`);
    return;
  }
  const pending = await deps.pending(event.SecretId, event.ClientRequestToken);
  await Promise.all(targets.map((t) => waitAccepted(t, pending, deps)));
}

/** Wait until `target` accepts the pending user, or throw before the invocation's deadline. */
export async function waitAccepted(target: GateTarget, pending: PendingValue, deps: GateDependencies): Promise<void> {
  const settleAt = pending.createdAt + (target.refreshSeconds + SETTLE_MARGIN_SECONDS) * 1000;
  const giveUpAt = deps.deadline();
  const who = `proxy ${target.name} (${target.host}:${target.port})`;
  if (settleAt > giveUpAt) {
    throw new GateError(`${who}: its credentialsRefreshInterval (${target.refreshSeconds} s) is longer than the rotation gate can wait `
      + `(${Math.round((giveUpAt - pending.createdAt) / 1000)} s after the pending version was created); shorten credentialsRefreshInterval`);
  }
  if (deps.now() < settleAt) await deps.sleep(settleAt - deps.now());
  let streak = 0;
  let logins = 0;
  let lastError: string | undefined;
  while (streak < LOGIN_STREAK) {
    if (deps.now() + LOGIN_PAUSE_MS > giveUpAt) {
      throw new GateError(`${who} did not accept the pending user ${pending.username} within `
        + `${Math.round((deps.now() - pending.createdAt) / 1000)} s of its creation (${logins} logins, last error: ${lastError ?? 'none'}). `
        + 'The rotation stops here, before AWSCURRENT moves, so clients keep the current user; the tasks\' credentials sidecar logs say why');
    }
    logins++;
    try {
      await deps.login(target, pending.username, pending.password);
      streak++;
      await deps.sleep(LOGIN_PAUSE_MS);
    } catch (e) {
      streak = 0;
      lastError = errorCode(e);
      await deps.sleep(RETRY_PAUSE_MS);
    }
  }
  deps.log(`testSecret: ${who} accepts the pending user ${pending.username}, `
    + `${((deps.now() - pending.createdAt) / 1000).toFixed(1)} s after it was created (${logins} logins)`);
}

/** The code of a mysql2 or network error, never its message (which could quote what was sent). */
function errorCode(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'unknown error';
}
