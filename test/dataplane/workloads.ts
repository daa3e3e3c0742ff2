/**
 * Workloads shared by the data-plane tests (which assert on their results) and the benchmark
 * (which prints them): one definition of each, so the figures and the assertions measure the same.
 */
import * as mysql from 'mysql2/promise';
import { ReplicatedPair } from '../fixtures/mariadb';

const ER_DUP_ENTRY = 1062;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database?: string;
}

export interface SwitchoverResult {
  /** Writes the client saw succeed. */
  readonly acknowledged: number;
  /** Acknowledged writes missing from the new primary afterwards. */
  readonly lost: number[];
  /** Failed attempts (each retried). */
  readonly failedAttempts: number;
  /** From the start of the switchover to the first acknowledged write stored on the new primary. */
  readonly resumeMs: number | undefined;
  /** How long the switchover itself took. */
  readonly switchMs: number;
  /** Writes acknowledged before the switchover began. */
  readonly beforeSwitch: number;
}

/**
 * A writer loop through `endpoint` while the pair swaps roles; each write records the server it ran
 * on. A write retried after a lost acknowledgement counts once (its key already exists).
 */
export async function writesAcrossSwitchover(endpoint: Endpoint, pair: ReplicatedPair, table: string): Promise<SwitchoverResult> {
  const setup = await mysql.createConnection(endpoint);
  await setup.query(`CREATE TABLE ${table} (seq INT PRIMARY KEY, sid INT NOT NULL)`);
  await setup.end();
  const newWriterId = pair.reader().serverId;

  const acked: Array<{ seq: number; at: number }> = [];
  let switchStarted = 0;
  let switchDone = 0;
  let failedAttempts = 0;
  let conn: mysql.Connection | undefined;
  const loop = (async () => {
    let seq = 1;
    const deadline = Date.now() + 40_000;
    const settled = () => switchDone > 0 && Date.now() > switchDone + 2000 && acked.some((a) => a.at > switchDone);
    while (Date.now() < deadline && !settled()) {
      try {
        conn ??= await mysql.createConnection({ ...endpoint, connectTimeout: 2000 });
        try {
          await conn.query(`INSERT INTO ${table} VALUES (?, @@server_id)`, [seq]);
        } catch (e) {
          if ((e as { errno?: number }).errno !== ER_DUP_ENTRY) throw e;
        }
        acked.push({ seq, at: Date.now() });
        seq += 1;
      } catch (e) {
        failedAttempts += 1;
        if ((e as { fatal?: boolean }).fatal) {
          conn?.destroy();
          conn = undefined;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();

  await new Promise((r) => setTimeout(r, 1000));
  switchStarted = Date.now();
  await pair.swapRoles();
  switchDone = Date.now();
  await loop;
  await conn?.end().catch(() => undefined);

  await pair.sync();
  const w = pair.writer();
  const direct = await mysql.createConnection({
    host: w.host, port: w.port, user: pair.admin.user, password: pair.admin.password, database: endpoint.database,
  });
  const [rows] = await direct.query<mysql.RowDataPacket[]>(`SELECT seq, sid FROM ${table} ORDER BY seq`);
  await direct.end();
  const stored = new Map(rows.map((r) => [Number(r.seq), Number(r.sid)]));
  const first = rows.find((r) => Number(r.sid) === newWriterId);
  const resumedAt = first ? acked.find((a) => a.seq === Number(first.seq))?.at : undefined;
  return {
    acknowledged: acked.length,
    lost: acked.filter((a) => !stored.has(a.seq)).map((a) => a.seq),
    failedAttempts,
    resumeMs: resumedAt === undefined ? undefined : resumedAt - switchStarted,
    switchMs: switchDone - switchStarted,
    beforeSwitch: acked.filter((a) => a.at < switchStarted).length,
  };
}

export interface BurstResult {
  readonly clients: number;
  readonly served: number;
  /** Error messages (first 80 characters) and how often each occurred. */
  readonly errors: Record<string, number>;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One endpoint, or several taken in turn (as a load balancer spreads new connections over tasks). */
function pick(endpoints: Endpoint | Endpoint[], i: number): Endpoint {
  return Array.isArray(endpoints) ? endpoints[i % endpoints.length] : endpoints;
}

/** `clients` Lambda-style clients at once: connect, one point read, disconnect. */
export async function coldBurst(endpoints: Endpoint | Endpoint[], clients: number, sql: string): Promise<BurstResult> {
  const times: number[] = [];
  const errors: Record<string, number> = {};
  await Promise.all(Array.from({ length: clients }, async (_v, i) => {
    const t0 = Date.now();
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({ ...pick(endpoints, i), connectTimeout: 60_000 });
      await conn.query(sql, [1 + (i % 3)]);
      times.push(Date.now() - t0);
    } catch (e) {
      const key = String((e as Error).message).slice(0, 80);
      errors[key] = (errors[key] ?? 0) + 1;
    } finally {
      await conn?.end().catch(() => conn?.destroy());
    }
  }));
  times.sort((a, b) => a - b);
  return { clients, served: times.length, errors, p50Ms: percentile(times, 50), maxMs: times[times.length - 1] ?? NaN };
}

/** `clients` open connections each running point reads back to back for `seconds`: queries per second. */
export async function sustainedQps(endpoints: Endpoint | Endpoint[], clients: number, seconds: number, sql: string): Promise<number> {
  const conns = await Promise.all(Array.from({ length: clients }, (_v, i) => mysql.createConnection(pick(endpoints, i))));
  let count = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(conns.map(async (c, i) => {
    while (Date.now() < until) {
      await c.query(sql, [1 + (i % 3)]);
      count += 1;
    }
  }));
  await Promise.all(conns.map((c) => c.end()));
  return count / seconds;
}

/** Latency of `n` sequential point reads on one connection (ms, sorted). */
export async function latencies(endpoint: Endpoint, n: number, sql: string): Promise<number[]> {
  const c = await mysql.createConnection(endpoint);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await c.query(sql, [1 + (i % 3)]);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await c.end();
  return out.sort((a, b) => a - b);
}
