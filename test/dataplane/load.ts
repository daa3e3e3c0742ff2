/**
 * The load of the load-balancer tier's service tests (deploy.test.ts): 32 Lambda-style clients with
 * a warm connection each (a mysql2 pool of one, as a Lambda instance keeps one between invocations)
 * running point reads, and a steady stream of cold clients (connect, one point read, close). Half
 * the clients do not retry; the other half retry a failed connect or a failed statement once, on a
 * new connection — the pattern the README recommends. Beside them, 8 warm clients that do not retry
 * run a 300 ms statement every 600 ms (SLOW_STATEMENT). It records every failure with its kind, the
 * phase the test had set when the client saw it, and the time; the statements served per phase; and
 * the statements in flight (sent, not yet answered) at any instant.
 */
import * as mysql from 'mysql2/promise';

/** Warm clients per family (no retry, retry once): 32 in all. */
const WARM_PER_FAMILY = 16;
/** Cold clients started per second, per family. */
const COLD_PER_SECOND = 10;
/** A warm client's pause between two invocations. */
const THINK_MS = 20;
export const POINT_READ = 'SELECT note FROM items WHERE id = ?';
/** Warm clients running a slow statement (they do not retry). */
const SLOW_CLIENTS = 8;
/** A slow client's statement (300 ms on the server) and its pause between two of them. */
export const SLOW_STATEMENT = 'SELECT SLEEP(0.3) AS slept, note FROM items WHERE id = ?';
const SLOW_THINK_MS = 300;

export type Family = 'no retry' | 'retry once';
export const FAMILIES: Family[] = ['no retry', 'retry once'];
export type Kind = 'warm connect' | 'warm statement' | 'cold connect' | 'cold statement' | 'slow connect' | 'slow statement';

/** A failed invocation: the kind of its last attempt, the phase and the time (Date.now()) the client saw it fail. */
export interface Failure { family: Family; kind: Kind; phase: string; message: string; at: number }

/** The load of the file's header, with the phase each failure happened in. */
export class Load {
  /** Stop every load still running (afterAll), so that a failed test does not keep jest from exiting. */
  public static async stopAll(): Promise<void> {
    await Promise.all([...Load.active].map((l) => l.stop()));
  }

  /** Loads started and not stopped yet: a test that failed half-way leaves its load running. */
  private static readonly active = new Set<Load>();

  public phase = 'steady';
  public readonly failures: Failure[] = [];
  /** Successful statements per family and phase. */
  public readonly served = new Map<string, number>();
  /** Retries a retrying client needed (and that then succeeded). */
  public retried = 0;
  /** Slow statements served. */
  public slowServed = 0;
  private running = true;
  /** Statements sent and not answered yet (nor failed), per family. */
  private readonly pending = new Map<Family, number>(FAMILIES.map((f) => [f, 0]));
  private readonly loops: Array<Promise<void>> = [];
  private readonly pools: mysql.Pool[] = [];

  constructor(private readonly endpoint: mysql.ConnectionOptions) {}

  private fail(family: Family, kind: Kind, e: unknown): void {
    this.failures.push({ family, kind, phase: this.phase, message: String((e as Error).message).slice(0, 80), at: Date.now() });
  }

  private ok(family: Family): void {
    const key = `${family}|${this.phase}`;
    this.served.set(key, (this.served.get(key) ?? 0) + 1);
  }

  /**
   * The statements in flight now, per family: sent and not yet answered (the warm and the cold
   * clients'; a connect is not a statement). Read it in the same tick as the event it is taken at.
   */
  public inFlight(): Record<Family, number> {
    return Object.fromEntries(FAMILIES.map((f) => [f, this.pending.get(f)!])) as Record<Family, number>;
  }

  /** Run one statement, counted in flight from the call until its answer or its failure. */
  private async statement(family: Family, run: () => Promise<unknown>): Promise<void> {
    this.pending.set(family, this.pending.get(family)! + 1);
    try {
      await run();
    } finally {
      this.pending.set(family, this.pending.get(family)! - 1);
    }
  }

  /** Open the warm connections (one statement each), then run until stopped. */
  public async start(): Promise<void> {
    Load.active.add(this);
    for (const family of FAMILIES) {
      for (let i = 0; i < WARM_PER_FAMILY; i++) {
        const pool = mysql.createPool({ ...this.endpoint, connectionLimit: 1, connectTimeout: 5000 });
        this.pools.push(pool);
        await pool.query(POINT_READ, [1]);
        this.loops.push(this.warm(pool, family, i));
      }
      this.loops.push(this.cold(family));
    }
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      const pool = mysql.createPool({ ...this.endpoint, connectionLimit: 1, connectTimeout: 5000 });
      this.pools.push(pool);
      await pool.query(POINT_READ, [1]);
      this.loops.push(this.slow(pool, 1 + (i % 3), (i * (300 + SLOW_THINK_MS)) / SLOW_CLIENTS));
    }
  }

  /**
   * A warm client of the 'no retry' family whose statement runs 300 ms, with 300 ms between two: a
   * reset at a random instant lands in one of its statements more often than not, a close between
   * two statements almost never (only when it crosses the next one on the wire).
   */
  private async slow(pool: mysql.Pool, id: number, offsetMs: number): Promise<void> {
    // Spread over the cycle, so that an instant finds some of them in a statement and some not.
    await new Promise((r) => setTimeout(r, offsetMs));
    while (this.running) {
      let conn: mysql.PoolConnection | undefined;
      let kind: Kind = 'slow connect';
      try {
        conn = await pool.getConnection();
        kind = 'slow statement';
        await this.statement('no retry', () => conn!.query(SLOW_STATEMENT, [id]));
        conn.release();
        this.ok('no retry');
        this.slowServed += 1;
      } catch (e) {
        conn?.destroy();
        this.fail('no retry', kind, e);
      }
      await new Promise((r) => setTimeout(r, SLOW_THINK_MS));
    }
  }

  /** The slow clients' failed statements. */
  public slowFailures(): Failure[] {
    return this.failures.filter((f) => f.kind === 'slow statement');
  }

  /**
   * One invocation on a warm client: the pool's connection (a new one if the pool has dropped it),
   * one point read; the retrying client tries once more, on a new connection.
   */
  private async warmInvocation(pool: mysql.Pool, family: Family, id: number): Promise<void> {
    const attempts = family === 'retry once' ? 2 : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let conn: mysql.PoolConnection | undefined;
      let kind: Kind = 'warm connect';
      try {
        conn = await pool.getConnection();
        kind = 'warm statement';
        await this.statement(family, () => conn!.query(POINT_READ, [id]));
        conn.release();
        if (attempt > 1) this.retried += 1;
        this.ok(family);
        return;
      } catch (e) {
        // A connection whose statement failed is not used again.
        conn?.destroy();
        if (attempt === attempts) this.fail(family, kind, e);
      }
    }
  }

  private async warm(pool: mysql.Pool, family: Family, i: number): Promise<void> {
    while (this.running) {
      await this.warmInvocation(pool, family, 1 + (i % 3));
      await new Promise((r) => setTimeout(r, THINK_MS));
    }
  }

  /** A cold client: connect, one point read, close; the retrying one tries again once on a new connection. */
  private async coldInvocation(family: Family, id: number): Promise<void> {
    const attempts = family === 'retry once' ? 2 : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let conn: mysql.Connection | undefined;
      let kind: Kind = 'cold connect';
      try {
        conn = await mysql.createConnection({ ...this.endpoint, connectTimeout: 5000 });
        conn.on('error', () => undefined);
        kind = 'cold statement';
        await this.statement(family, () => conn!.query(POINT_READ, [id]));
        if (attempt > 1) this.retried += 1;
        this.ok(family);
        return;
      } catch (e) {
        if (attempt === attempts) this.fail(family, kind, e);
      } finally {
        if (conn) await conn.end().catch(() => conn?.destroy());
      }
    }
  }

  private async cold(family: Family): Promise<void> {
    const inFlight: Array<Promise<void>> = [];
    let n = 0;
    while (this.running) {
      inFlight.push(this.coldInvocation(family, 1 + (n++ % 3)));
      await new Promise((r) => setTimeout(r, 1000 / COLD_PER_SECOND));
    }
    await Promise.all(inFlight);
  }

  public async stop(): Promise<void> {
    Load.active.delete(this);
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.pools.map((p) => p.end().catch(() => undefined)));
  }

  /** Lines for the output: per family, what failed by kind and phase, and what was served by phase. */
  public report(scenario: string): string[] {
    const lines: string[] = [];
    for (const family of FAMILIES) {
      const mine = this.failures.filter((f) => f.family === family);
      const byKind = (kind: Kind) => mine.filter((f) => f.kind === kind);
      const phases = (list: Failure[]) => {
        const counts = new Map<string, number>();
        for (const f of list) counts.set(f.phase, (counts.get(f.phase) ?? 0) + 1);
        return counts.size ? ` (${[...counts].map(([p, n]) => `${n} ${p}`).join(', ')})` : '';
      };
      const served = [...this.served].filter(([k]) => k.startsWith(`${family}|`)).map(([k, n]) => `${k.split('|')[1]} ${n}`).join(', ');
      lines.push(`dataplane ${scenario}, clients that ${family === 'no retry' ? 'do not retry' : 'retry once'}: `
        + (['warm connect', 'warm statement', 'cold connect', 'cold statement', ...(family === 'no retry' ? ['slow connect', 'slow statement'] : [])] as Kind[])
          .map((k) => `failed ${k}s ${byKind(k).length}${phases(byKind(k))}`).join('; ')
        + `; statements served by phase: ${served}`);
      const messages = new Map<string, number>();
      for (const f of mine) messages.set(f.message, (messages.get(f.message) ?? 0) + 1);
      if (messages.size) lines.push(`  errors: ${JSON.stringify(Object.fromEntries(messages))}`);
    }
    lines.push(`dataplane ${scenario}: retries that then succeeded ${this.retried}; slow statements served ${this.slowServed}`);
    return lines;
  }

  public failuresOf(family: Family): Failure[] {
    return this.failures.filter((f) => f.family === family);
  }
}
