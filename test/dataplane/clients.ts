/**
 * Real client families for the data-plane tier (`clients.test.ts`): each is a program of
 * `test/dataplane/clients/<language>/` built or installed into `.tmp/clients/` with pinned versions
 * from the registries, run as its own process against an endpoint, printing one JSON line
 * (`WorkloadResult`).
 *
 * The workload, the same in every language: `clients` workers at once on a pool of `clients`
 * connections, `statements` statements each; statement s of worker w is an autocommit INSERT into
 * `workload_writes (tag, worker, seq)` when s % 5 == 4 (so 4 of 20), else a point read of
 * `workload_items` by primary key ((w × statements + s) mod items) + 1, whose note must be
 * `note-<id>`. Each program reports its elapsed time (from creating its pool to the last answer),
 * the reads that returned the right row, the id of every insert, and every error with its message.
 *
 * `npx ts-node test/dataplane/clients.ts` builds them all (what CI's install step does, so the test
 * finds them warm).
 */
import { execFileSync, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as mysql from 'mysql2/promise';
import { connectorJJars, connectorJMissing } from '../fixtures/connectorj';
import { ITEMS_TABLE, WorkloadResult, WRITES_TABLE } from './clients/node/workload';

export type { WorkloadResult } from './clients/node/workload';

/** The read/write mix: 100 pooled connections, 20 statements each (16 point reads, 4 inserts). */
export const WORKLOAD = { clients: 100, statements: 20, items: 1000 } as const;
export const EXPECTED_READS = WORKLOAD.clients * (WORKLOAD.statements - WORKLOAD.statements / 5);
export const EXPECTED_INSERTS = WORKLOAD.clients * (WORKLOAD.statements / 5);

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCES = path.join(__dirname, 'clients');
/** Where the programs are built (the repository's `.tmp/`, ignored by git). */
export const BUILD_DIR = path.join(ROOT, '.tmp', 'clients');

export interface ClientCommand {
  readonly command: string;
  readonly args: string[];
  readonly env?: Record<string, string>;
}

export interface ClientFamily {
  /** Short id, used in row tags and test names. */
  readonly id: string;
  /** What is tested, for the output. */
  readonly label: string;
  /** Why it cannot run here (a missing toolchain), or undefined. */
  missing(): string | undefined;
  /** Build or install it into BUILD_DIR (does nothing when that is already done for these sources). */
  build(): void;
  command(): ClientCommand;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Runs `build` unless the stamp file says these inputs were built already. */
function buildOnce(name: string, inputs: string[], extra: string, build: (dir: string) => void): void {
  const dir = path.join(BUILD_DIR, name);
  const hash = crypto.createHash('sha256').update(extra);
  for (const f of inputs) hash.update(f).update(fs.readFileSync(f));
  const digest = hash.digest('hex');
  const stamp = path.join(dir, '.built');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === digest) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  build(dir);
  fs.writeFileSync(stamp, digest);
}

function nodeFamily(api: 'query' | 'execute' | 'knex' | 'sequelize', label: string): ClientFamily {
  return {
    id: api === 'query' || api === 'execute' ? `mysql2-${api}` : api,
    label,
    missing: () => undefined,
    // The packages are the project's pinned devDependencies; the program runs from its source.
    build: () => { for (const p of ['mysql2', 'knex', 'sequelize', 'ts-node']) require.resolve(`${p}/package.json`); },
    command: () => ({
      command: process.execPath,
      args: ['-r', 'ts-node/register/transpile-only', path.join(SOURCES, 'node', 'client.ts'), api],
      env: { TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.dev.json') },
    }),
  };
}

const PYTHON_REQUIREMENTS = path.join(SOURCES, 'python', 'requirements.txt');
const sqlalchemy: ClientFamily = {
  id: 'sqlalchemy',
  label: 'SQLAlchemy over PyMySQL',
  missing: () => (onPath('python3') ? undefined : 'no python3 on PATH'),
  build: () => buildOnce('python', [PYTHON_REQUIREMENTS], '', (dir) => {
    execFileSync('python3', ['-m', 'venv', path.join(dir, 'venv')], { stdio: 'pipe' });
    execFileSync(path.join(dir, 'venv', 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', '-r', PYTHON_REQUIREMENTS],
      { stdio: 'pipe', timeout: 300_000 });
  }),
  command: () => ({ command: path.join(BUILD_DIR, 'python', 'venv', 'bin', 'python'), args: [path.join(SOURCES, 'python', 'workload.py')] }),
};

const JAVA_SOURCE = path.join(SOURCES, 'java', 'Workload.java');
const connectorJ: ClientFamily = {
  id: 'connector-j',
  label: 'MySQL Connector/J + HikariCP',
  missing: connectorJMissing,
  build: () => {
    const jars = connectorJJars();
    buildOnce('java', [JAVA_SOURCE], jars.join(':'), (dir) => {
      execFileSync('javac', ['-cp', jars.join(':'), '-d', dir, JAVA_SOURCE], { stdio: 'pipe' });
    });
  },
  command: () => ({ command: 'java', args: ['-cp', [path.join(BUILD_DIR, 'java'), ...connectorJJars()].join(':'), 'Workload'] }),
};

const GO_DIR = path.join(SOURCES, 'go');
const goDriver: ClientFamily = {
  id: 'go-sql-driver',
  label: 'Go database/sql + github.com/go-sql-driver/mysql',
  missing: () => (onPath('go') ? undefined : 'no go on PATH'),
  build: () => buildOnce('go', ['go.mod', 'go.sum', 'main.go'].map((f) => path.join(GO_DIR, f)), '', (dir) => {
    // The module and build caches stay in Go's defaults (under $HOME), so later builds reuse them.
    execFileSync('go', ['build', '-o', path.join(dir, 'workload'), '.'], {
      cwd: GO_DIR, stdio: 'pipe', timeout: 300_000, env: { ...process.env, GOFLAGS: '-mod=mod' },
    });
  }),
  command: () => ({ command: path.join(BUILD_DIR, 'go', 'workload'), args: [] }),
};

/** Every family the tier runs. */
export const CLIENT_FAMILIES: ClientFamily[] = [
  nodeFamily('query', 'mysql2 pool, query()'),
  nodeFamily('execute', 'mysql2 pool, execute() (prepared statements)'),
  nodeFamily('knex', 'Knex (mysql2)'),
  nodeFamily('sequelize', 'Sequelize (mysql2)'),
  sqlalchemy,
  connectorJ,
  goDriver,
];

export interface ClientEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface ClientRun {
  readonly result: WorkloadResult;
  /** What the program wrote to stderr (e.g. a logger's warnings). */
  readonly stderr: string;
}

/** Run one family's program against `endpoint`; rejects when it fails, prints no result, or outlives `deadlineMs`. */
export function runClient(family: ClientFamily, endpoint: ClientEndpoint, tag: string, deadlineMs: number): Promise<ClientRun> {
  const c = family.command();
  const child = spawn(c.command, c.args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...c.env,
      DB_HOST: endpoint.host,
      DB_PORT: String(endpoint.port),
      DB_USER: endpoint.user,
      DB_PASSWORD: endpoint.password,
      DB_NAME: endpoint.database,
      WORKLOAD_CLIENTS: String(WORKLOAD.clients),
      WORKLOAD_STATEMENTS: String(WORKLOAD.statements),
      WORKLOAD_ITEMS: String(WORKLOAD.items),
      WORKLOAD_TAG: tag,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (signal === 'SIGKILL') {
        reject(new Error(`${family.label}: did not finish within ${deadlineMs} ms\n${stderr.slice(-2000)}`));
      } else if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`${family.label}: exited ${code ?? signal} without a result\n${stdout.slice(-1000)}\n${stderr.slice(-3000)}`));
      } else {
        resolve({ result: JSON.parse(last) as WorkloadResult, stderr });
      }
    });
  });
}

/** The tables every family works on (in the application database, on the writer). */
export function workloadSchema(): string[] {
  const rows = Array.from({ length: WORKLOAD.items }, (_v, i) => `(${i + 1}, 'note-${i + 1}')`);
  return [
    `CREATE TABLE ${ITEMS_TABLE} (id INT PRIMARY KEY, note VARCHAR(32) NOT NULL)`,
    `INSERT INTO ${ITEMS_TABLE} VALUES ${rows.join(', ')}`,
    `CREATE TABLE ${WRITES_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(64) NOT NULL, worker INT NOT NULL, seq INT NOT NULL, KEY (tag))`,
  ];
}

/** What a run got wrong about its inserts: reported ids missing from the table, duplicates, rows nobody reported. */
export async function checkInserts(direct: mysql.ConnectionOptions, tag: string, inserts: Array<[number, number, number]>): Promise<string[]> {
  const conn = await mysql.createConnection(direct);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT id, worker, seq FROM ${WRITES_TABLE} WHERE tag = ?`, [tag]);
    const stored = new Map(rows.map((r) => [Number(r.id), `${r.worker}/${r.seq}`]));
    const problems: string[] = [];
    const seen = new Set<number>();
    for (const [id, worker, seq] of inserts) {
      if (!(id > 0)) problems.push(`worker ${worker} statement ${seq}: no insert id (${id})`);
      else if (seen.has(id)) problems.push(`id ${id} reported twice`);
      else if (stored.get(id) !== `${worker}/${seq}`) problems.push(`id ${id} (worker ${worker} statement ${seq}): stored as ${stored.get(id) ?? 'nothing'}`);
      seen.add(id);
    }
    for (const id of stored.keys()) if (!seen.has(id)) problems.push(`row ${id} stored but not reported`);
    return problems;
  } finally {
    await conn.end();
  }
}

if (require.main === module) {
  // Build every family whose toolchain is here; a build failure fails the command.
  for (const f of CLIENT_FAMILIES) {
    const why = f.missing();
    if (why) {
      console.log(`${f.label}: skipped (${why})`);
      continue;
    }
    const t0 = Date.now();
    f.build();
    console.log(`${f.label}: built (${Date.now() - t0} ms)`);
  }
}
