import * as net from 'net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as mysql from 'mysql2/promise';
import { createDemoHandler, DemoHandler, parseCredentials } from '../../src/lambda-demo-api/demo-handler';
import { mariadbAdmin, uniqueName } from '../fixtures/mariadb';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:demo-app-AbCdEf';
// Characters that break naive quoting, so a leak would also show an escaping bug.
const PASSWORD = `Pw'"\\$x${Date.now().toString(36)}`;

let admin: mysql.Connection;
let user: string;
let database: string;
const handlers: DemoHandler[] = [];

function getRoot(method = 'GET', rawPath = '/'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} ${rawPath}`,
    rawPath,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: { http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'jest' } },
  } as unknown as APIGatewayProxyEventV2;
}

function secretFor(password: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({ engine: 'mysql', username: user, password, ...extra });
}

interface Made { demo: DemoHandler; fetches: string[] }

function makeHandler(opts: { secret?: () => Promise<string>; env?: Record<string, string | undefined> } = {}): Made {
  const fetches: string[] = [];
  const { host, port } = mariadbAdmin();
  const demo = createDemoHandler({
    fetchSecretString: async (arn) => { fetches.push(arn); return opts.secret ? opts.secret() : secretFor(PASSWORD); },
    env: opts.env ?? { DB_SECRET_ARN: SECRET_ARN, DB_HOST: host, DB_PORT: String(port), DB_NAME: database },
    connectTimeoutMs: 2000,
  });
  handlers.push(demo);
  return { demo, fetches };
}

/** Everything written to the console during the test, flattened to one string. */
function captureConsole(): () => string {
  const lines: string[] = [];
  const spies = (['log', 'error', 'warn', 'info', 'debug'] as const).map((m) =>
    jest.spyOn(console, m).mockImplementation((...args: unknown[]) => { lines.push(args.map(String).join(' ')); }));
  return () => { spies.forEach((s) => s.mockRestore()); return lines.join('\n'); };
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A TCP relay to MariaDB that cuts the first `cuts` connections (both sides, at once) when the
 * client sends a statement containing `INSERT`: a connection lost in the middle of a request, as a
 * task that dies or a load balancer reset leaves it. Later connections pass through untouched.
 */
async function cuttingRelay(cuts: number): Promise<{ port: number; connections: () => number; cut: () => number; close: () => void }> {
  const target = mariadbAdmin();
  let connections = 0;
  let cut = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections += 1;
    const cutThis = connections <= cuts;
    const upstream = net.connect(target.port, target.host);
    sockets.add(client); sockets.add(upstream);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end); upstream.on('error', end); client.on('close', end); upstream.on('close', end);
    upstream.on('data', (d) => client.write(d));
    client.on('data', (d) => {
      if (cutThis && d.includes('INSERT')) { cut += 1; end(); return; }
      upstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    cut: () => cut,
    close: () => { for (const x of sockets) x.destroy(); server.close(); },
  };
}

async function connectionsOf(name: string): Promise<number[]> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? ORDER BY ID', [name]);
  return rows.map((r) => Number(r.id));
}

beforeAll(async () => {
  admin = await mysql.createConnection({ ...mariadbAdmin() });
  user = uniqueName('demo_app');
  database = uniqueName('demo_db');
  await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', PASSWORD]);
  // Rights on one database only, which does not exist yet: the handler creates it.
  await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [user, '%']);
});

afterEach(async () => {
  while (handlers.length) await handlers.pop()!.close();
});

afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.query('DROP USER IF EXISTS ?@?', [user, '%']);
  await admin.end();
});

describe('demo handler against MariaDB', () => {
  let stopCapture: () => string;
  beforeEach(() => { stopCapture = captureConsole(); });
  afterEach(() => {
    // Success lines name the servers; they must never carry the credentials.
    const logged = stopCapture();
    expect(logged).toContain('"msg":"served"');
    expect(logged).not.toContain(PASSWORD);
  });

  test('GET / writes, reads and reports the real server identity of both', async () => {
    const { demo } = makeHandler();
    const res = await demo.handle(getRoot());
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json' });
    const body = JSON.parse(res.body!);

    const [facts] = await admin.query<mysql.RowDataPacket[]>(
      'SELECT @@hostname AS h, @@server_id AS s, @@innodb_read_only AS i, @@read_only AS r, @@version AS v');
    const server = {
      hostname: facts[0].h,
      serverId: Number(facts[0].s),
      auroraServerId: null,
      innodbReadOnly: Number(facts[0].i) === 1,
      readOnly: Number(facts[0].r) === 1,
      version: facts[0].v,
    };
    expect(body.write).toEqual({ id: expect.any(Number), server });
    expect(body.read).toEqual({ sawWrite: true, rowCount: expect.any(Number), attempts: 1, server });
    expect(body.connection).toEqual({ reused: false, retried: false, threadId: expect.any(Number), invocation: 1 });

    // The reported id is a real row in the database named by DB_NAME.
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${database}\`.proxysql_demo_writes WHERE id = ?`, [body.write.id]);
    expect(Number(rows[0].n)).toBe(1);
  });

  test('a second invocation reuses the connection and the cached secret', async () => {
    const { demo, fetches } = makeHandler();
    const first = JSON.parse((await demo.handle(getRoot())).body!);
    const second = JSON.parse((await demo.handle(getRoot())).body!);
    expect(second.connection).toEqual({ reused: true, retried: false, threadId: first.connection.threadId, invocation: 2 });
    expect(second.write.id).toBeGreaterThan(first.write.id);
    expect(second.read.rowCount).toBeGreaterThan(first.read.rowCount);
    expect(fetches).toEqual([SECRET_ARN]);
    // The server agrees: one connection for the app user, the one the handler reported.
    expect(await connectionsOf(user)).toEqual([first.connection.threadId]);
  });

  test('a connection closed by the server is replaced on the next invocation', async () => {
    const { demo, fetches } = makeHandler();
    const first = JSON.parse((await demo.handle(getRoot())).body!);
    await admin.query(`KILL ${Number(first.connection.threadId)}`);
    const res = await demo.handle(getRoot());
    expect(res.statusCode).toBe(200);
    const second = JSON.parse(res.body!);
    expect(second.connection.reused).toBe(false);
    expect(second.connection.threadId).not.toBe(first.connection.threadId);
    expect(second.read.sawWrite).toBe(true);
    expect(fetches).toHaveLength(1);
    expect(await connectionsOf(user)).toEqual([second.connection.threadId]);
  });

  test('a connection lost in the middle of a request: the request is run once more on a new connection, and succeeds', async () => {
    const relay = await cuttingRelay(1);
    try {
      const { demo } = makeHandler({ env: { DB_SECRET_ARN: SECRET_ARN, DB_HOST: '127.0.0.1', DB_PORT: String(relay.port), DB_NAME: database } });
      const res = await demo.handle(getRoot());
      expect(res.statusCode).toBe(200);
      const body = JSON.parse(res.body!);
      expect(relay.cut()).toBe(1);
      expect(relay.connections()).toBe(2);
      expect(body.connection).toMatchObject({ reused: false, retried: true });
      expect(body.read.sawWrite).toBe(true);
    } finally {
      relay.close();
    }
  });

  test('DB_NAME falls back to the secret\'s dbname', async () => {
    const { host, port } = mariadbAdmin();
    const { demo } = makeHandler({
      secret: async () => secretFor(PASSWORD, { dbname: database }),
      env: { DB_SECRET_ARN: SECRET_ARN, DB_HOST: host, DB_PORT: String(port) },
    });
    const res = await demo.handle(getRoot());
    expect(res.statusCode).toBe(200);
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM \`${database}\`.proxysql_demo_writes WHERE id = ?`, [JSON.parse(res.body!).write.id]);
    expect(Number(rows[0].n)).toBe(1);
  });
});

describe('demo handler errors are JSON 5xx with safe messages', () => {
  test('a wrong password gives 502 without the password in the body or the logs, then recovers', async () => {
    const wrong = `Wrong'${PASSWORD}`;
    let current = wrong;
    const { demo, fetches } = makeHandler({ secret: async () => secretFor(current) });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    const logged = logs();

    expect(res.statusCode).toBe(502);
    expect(JSON.parse(res.body!)).toEqual({
      error: { message: 'the database refused the credentials', code: 'ER_ACCESS_DENIED_ERROR' },
    });
    for (const text of [res.body!, logged]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(PASSWORD);
    }
    expect(logged).toContain('ER_ACCESS_DENIED_ERROR');

    // The secret was rotated: the next request fetches it again instead of failing forever.
    current = PASSWORD;
    const quiet = captureConsole();
    const ok = await demo.handle(getRoot());
    quiet();
    expect(ok.statusCode).toBe(200);
    expect(fetches).toHaveLength(2);
  });

  test('a connection lost twice: the one retry fails too, and the request gets 503', async () => {
    const relay = await cuttingRelay(2);
    const logs = captureConsole();
    try {
      const { demo } = makeHandler({ env: { DB_SECRET_ARN: SECRET_ARN, DB_HOST: '127.0.0.1', DB_PORT: String(relay.port), DB_NAME: database } });
      const res = await demo.handle(getRoot());
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body!).error.message).toBe('the database is unreachable');
      expect(relay.cut()).toBe(2);
      expect(relay.connections()).toBe(2);
    } finally {
      relay.close();
      expect(logs()).not.toContain(PASSWORD);
    }
  });

  test('an unreachable database gives 503', async () => {
    const port = await closedPort();
    const { demo } = makeHandler({ env: { DB_SECRET_ARN: SECRET_ARN, DB_HOST: '127.0.0.1', DB_PORT: String(port) } });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    const logged = logs();
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!)).toEqual({ error: { message: 'the database is unreachable', code: 'ECONNREFUSED' } });
    expect(logged).not.toContain(PASSWORD);
  });

  test('a secret that is not JSON gives 500 and its text is never echoed', async () => {
    const { demo } = makeHandler({ secret: async () => `password=${PASSWORD}` });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    const logged = logs();
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body!)).toEqual({ error: { message: 'the database secret is not a JSON object', code: 'SECRET_FORMAT' } });
    expect(res.body).not.toContain(PASSWORD);
    expect(logged).not.toContain(PASSWORD);
  });

  test('a failed secret fetch gives 5xx and is retried on the next request', async () => {
    let calls = 0;
    const { demo } = makeHandler({
      secret: async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error(`denied for ${SECRET_ARN}`), { name: 'AccessDeniedException' });
        return secretFor(PASSWORD);
      },
    });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    const retried = await demo.handle(getRoot());
    expect(logs()).not.toContain(PASSWORD);
    expect(res.statusCode).toBe(502);
    expect(JSON.parse(res.body!)).toEqual({ error: { message: 'the database secret could not be read', code: 'AccessDeniedException' } });
    expect(retried.statusCode).toBe(200);
    expect(calls).toBe(2);
  });

  test('a network failure reaching Secrets Manager is reported as such, not as the database', async () => {
    const { demo } = makeHandler({ secret: async () => { throw Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }); } });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    logs();
    expect(res.statusCode).toBe(502);
    expect(JSON.parse(res.body!)).toEqual({ error: { message: 'the database secret could not be read', code: 'SECRET_READ' } });
  });

  test.each([
    [{ DB_HOST: 'h' }, /DB_SECRET_ARN is not set/],
    [{ DB_SECRET_ARN: SECRET_ARN }, /DB_HOST is not set/],
    [{ DB_SECRET_ARN: SECRET_ARN, DB_HOST: 'h', DB_PORT: '70000' }, /DB_PORT must be a port number 1-65535 \(got "70000"\)/],
    [{ DB_SECRET_ARN: SECRET_ARN, DB_HOST: 'h', DB_PORT: '33o6' }, /DB_PORT must be a port number 1-65535 \(got "33o6"\)/],
  ])('misconfiguration %j gives 500 naming the variable', async (env, message) => {
    const { demo, fetches } = makeHandler({ env });
    const logs = captureConsole();
    const res = await demo.handle(getRoot());
    logs();
    expect(res.statusCode).toBe(500);
    const body = JSON.parse(res.body!);
    expect(body.error.code).toBe('CONFIG');
    expect(body.error.message).toMatch(message);
    expect(fetches).toHaveLength(0);
  });

  test('other methods and paths get 404 without touching the database', async () => {
    const { demo, fetches } = makeHandler();
    for (const [method, path] of [['POST', '/'], ['GET', '/other']]) {
      const res = await demo.handle(getRoot(method, path));
      expect(res.statusCode).toBe(404);
      expect(JSON.parse(res.body!).error.code).toBe('NOT_FOUND');
    }
    expect(fetches).toHaveLength(0);
  });
});

describe('parseCredentials', () => {
  test('takes username, password and an optional dbname', () => {
    expect(parseCredentials('{"username":"u","password":"p","dbname":"d","host":"x"}'))
      .toEqual({ username: 'u', password: 'p', dbname: 'd' });
    expect(parseCredentials('{"username":"u","password":"p"}')).toEqual({ username: 'u', password: 'p', dbname: undefined });
  });

  test.each(['[]', 'null', '{"username":"u"}', '{"username":"","password":"p"}', '{"username":"u","password":7}'])(
    'refuses %s without echoing it', (text) => {
      expect(() => parseCredentials(text)).toThrow(/^the database secret (is not a JSON object|needs non-empty string fields username and password)$/);
    });
});
