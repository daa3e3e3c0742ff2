/**
 * TLS on both sides of the real ProxySQL (issue #15), with certificates from test CAs made here with
 * `openssl`:
 * - clients verify the proxy's brought certificate (CA and host name), and plaintext logins are
 *   refused when `requireTls` is on, accepted when it is off;
 * - ProxySQL's connections to MariaDB are TLS and verified against the backend's `serverCaPem`: a
 *   server whose certificate another CA issued is refused (by the bootstrap too);
 * - ProxySQL 2.7 does not check the backend's host name: a certificate for another name from the
 *   right CA is accepted. Pinned here so that a ProxySQL that starts checking it is noticed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CfnElement, Duration } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as mysql from 'mysql2/promise';
import { DataplaneStack, DataplaneStackOptions, endpointsProxyStack, pairServers, runBootstrap, secretValues, waitFor } from './topology';
import { ProxySqlTlsCertificate } from '../../src';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, launchTask, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

/** The name clients use for the proxy (what PrivateDnsAliases would give it). */
const PROXY_NAME = 'nlb.proxysql.local';

/** Test PKI: CA A issues everything the test trusts; CA B is "another CA". */
class TestPki {
  public readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-proxysql-tls-'));

  constructor() {
    this.ca('ca-a', 'cdk-proxysql test CA A');
    this.ca('ca-b', 'cdk-proxysql test CA B');
    this.leaf('db', 'ca-a', 'primary.test', 'DNS:primary.test,DNS:replica.test,IP:127.0.0.1');
    this.leaf('db-elsewhere', 'ca-a', 'db.elsewhere.invalid', 'DNS:db.elsewhere.invalid');
    this.leaf('proxy', 'ca-a', PROXY_NAME, `DNS:${PROXY_NAME}`);
    // MariaDB serves whatever is at these paths (FLUSH SSL re-reads them).
    fs.copyFileSync(this.file('db.pem'), this.file('server.pem'));
    fs.copyFileSync(this.file('db-key.pem'), this.file('server-key.pem'));
  }

  public file(name: string): string {
    return path.join(this.dir, name);
  }

  public pem(name: string): string {
    return fs.readFileSync(this.file(name), 'utf8');
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe' });
  }

  private ca(name: string, cn: string): void {
    this.openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${cn}`, '-keyout', this.file(`${name}-key.pem`), '-out', this.file(`${name}.pem`));
  }

  private leaf(name: string, ca: string, cn: string, san: string): void {
    const ext = this.file(`${name}.ext`);
    fs.writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    this.openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', this.file(`${name}-key.pem`), '-out', this.file(`${name}.csr`));
    this.openssl('x509', '-req', '-in', this.file(`${name}.csr`), '-CA', this.file(`${ca}.pem`), '-CAkey', this.file(`${ca}-key.pem`),
      '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', this.file(`${name}.pem`));
  }
}

describeDataplane('dataplane: TLS', () => {
  let pki: TestPki;
  let pair: ReplicatedPair;
  let secrets: TaskSecrets;
  const stacks: DataplaneStack[] = [];
  const tasks: ProxySqlTask[] = [];

  /** A stack in front of the pair, with the brought certificate and the backend CA given. */
  function stack(options: { requireTls: boolean; backendCa: string }): { s: DataplaneStack; certId: string } {
    const s = endpointsProxyStack({
      // A refused backend should fail the client within seconds, not the default 30.
      proxy: { requireTls: options.requireTls, borrowTimeout: Duration.seconds(3) },
      backend: { serverCaPem: options.backendCa },
      proxyInStack: (st) => ({ tlsCertificate: ProxySqlTlsCertificate.fromSecret(new secretsmanager.Secret(st, 'ProxyCertificate')) }),
    } satisfies DataplaneStackOptions);
    stacks.push(s);
    const certId = s.stack.getLogicalId(s.stack.node.findChild('ProxyCertificate').node.defaultChild as CfnElement);
    return { s, certId };
  }

  async function start(s: DataplaneStack, certId: string): Promise<ProxySqlTask> {
    const t = await startTask({
      template: s.template,
      secrets: { ...secrets, [certId]: { certificate: pki.pem('proxy.pem'), privateKey: pki.pem('proxy-key.pem'), certificateChain: pki.pem('ca-a.pem') } },
      servers: pairServers(pair),
    });
    tasks.push(t);
    return t;
  }

  /** A client that verifies the proxy: CA A, and the certificate must name `servername`. */
  function verifyingClient(t: ProxySqlTask, servername = PROXY_NAME): Promise<mysql.Connection> {
    const app = secrets[stacks[0].ids.app];
    return mysql.createConnection({
      // Connect to the task's port, but verify the name clients would use (as through the NLB alias).
      stream: net.connect(t.trafficPort, '127.0.0.1'),
      host: servername,
      user: app.username,
      password: app.password,
      database: app.dbname,
      ssl: { ca: pki.pem('ca-a.pem'), rejectUnauthorized: true, verifyIdentity: true },
    });
  }

  function plainClient(t: ProxySqlTask): Promise<mysql.Connection> {
    const app = secrets[stacks[0].ids.app];
    return t.client(app.username, app.password, { database: app.dbname });
  }

  /** The cipher of the backend session a query through the proxy ran on ('' when it is plaintext). */
  async function backendCipher(conn: mysql.Connection): Promise<string> {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    return String(rows[0]?.Value ?? '');
  }

  beforeAll(async () => {
    pki = new TestPki();
    pair = await startReplicatedPair({
      extraArgs: [`--ssl-ca=${pki.file('ca-a.pem')}`, `--ssl-cert=${pki.file('server.pem')}`, `--ssl-key=${pki.file('server-key.pem')}`],
    });
    const { s } = stack({ requireTls: true, backendCa: pki.pem('ca-a.pem') });
    secrets = secretValues(s, pair);
    // The bootstrap verifies the writer against the same CA (TlsCaPem) and creates the users.
    await runBootstrap(s, pair, secrets);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  describe('requireTls with a brought certificate, backends verified against the right CA', () => {
    let task: ProxySqlTask;
    beforeAll(async () => {
      task = await start(stacks[0], stack({ requireTls: true, backendCa: pki.pem('ca-a.pem') }).certId);
    });

    test('a client verifying CA and host name connects with the brought certificate; another name is refused', async () => {
      const conn = await verifyingClient(task);
      try {
        const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
        expect(rows[0].one).toBe(1);
      } finally {
        await conn.end();
      }
      // The check is real: the same certificate does not pass for a name it does not hold.
      await expect(verifyingClient(task, 'other.proxysql.local')).rejects.toThrow(/altnames|Hostname/i);
      // The private key landed in the datadir with mode 0600, the certificate beside it.
      const data = path.join(task.dir, 'data');
      expect((fs.statSync(path.join(data, 'proxysql-key.pem')).mode % 0o1000).toString(8)).toBe('600');
      expect(fs.readFileSync(path.join(data, 'proxysql-cert.pem'), 'utf8')).toBe(pki.pem('proxy.pem').trimEnd() + '\n');
      expect(task.log()).not.toContain('PRIVATE KEY');
    });

    test('a plaintext login is refused', async () => {
      await expect(plainClient(task)).rejects.toThrow(/Access denied/);
    });

    test('the backend connections are TLS (Ssl_cipher of the backend session), writer and readers', async () => {
      const conn = await verifyingClient(task);
      try {
        expect(await backendCipher(conn)).not.toBe('');
        const [[{ id }]] = await conn.query<mysql.RowDataPacket[]>('SELECT @@server_id AS id');
        expect(Number(id)).toBe(2); // a plain read ran on the replica, over TLS too
      } finally {
        await conn.end();
      }
      const rows = await task.admin<Array<{ hostname: string; use_ssl: number }>>('SELECT hostname, use_ssl FROM runtime_mysql_servers');
      expect(rows.every((r) => Number(r.use_ssl) === 1)).toBe(true);
    });
  });

  test('without requireTls both plaintext and verified TLS clients log in', async () => {
    const { s, certId } = stack({ requireTls: false, backendCa: pki.pem('ca-a.pem') });
    const task = await start(s, certId);
    for (const open of [() => plainClient(task), () => verifyingClient(task)]) {
      const conn = await open();
      try {
        const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
        expect(rows[0].one).toBe(1);
      } finally {
        await conn.end();
      }
    }
  });

  test('a backend CA that did not issue the servers\' certificates: ProxySQL refuses the servers, and so does the bootstrap', async () => {
    const { s, certId } = stack({ requireTls: false, backendCa: pki.pem('ca-b.pem') });
    await expect(runBootstrap(s, pair, secrets)).rejects.toThrow(/certificate/i);
    const task = await start(s, certId);
    const conn = await plainClient(task).catch((e: Error) => e);
    // ProxySQL may refuse at login (it checks the default hostgroup) or at the first query.
    const failure = conn instanceof Error ? conn : await conn.query('SELECT 1').then(() => undefined, (e: Error) => e);
    if (!(conn instanceof Error)) await conn.end();
    expect(failure).toBeInstanceOf(Error);
    // ProxySQL says why: the certificate did not verify (measured on 2.7.1: "self-signed certificate").
    await waitFor('a TLS verification error in the log', async () =>
      (/certificate/i.test(task.log()) && /SSL/i.test(task.log())) ? true : undefined, 10_000);
  });

  test('a private key that does not match the certificate: the task stops at once and the log says why', async () => {
    const { s, certId } = stack({ requireTls: false, backendCa: pki.pem('ca-a.pem') });
    const task = await launchTask({
      template: s.template,
      secrets: { ...secrets, [certId]: { certificate: pki.pem('proxy.pem'), privateKey: pki.pem('db-key.pem'), certificateChain: pki.pem('ca-a.pem') } },
      servers: pairServers(pair),
    });
    const exit = await Promise.race([task.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
    expect(exit).toBeDefined();
    expect(task.log()).toMatch(/key values mismatch[\s\S]*Unable to use SSL key. Shutting down/);
    // Measured on 2.7.1: ProxySQL exits with status 0 here ("to avoid being restarted"); ECS still
    // stops the task (its only essential container ended) and the circuit breaker sees it fail.
    expect(exit!.code).toBe(0);
  });

  test('ProxySQL 2.7 does not check the backend host name: a certificate from the right CA for another name is accepted', async () => {
    // The servers now present a certificate for db.elsewhere.invalid (same CA A).
    fs.copyFileSync(pki.file('db-elsewhere.pem'), pki.file('server.pem'));
    fs.copyFileSync(pki.file('db-elsewhere-key.pem'), pki.file('server-key.pem'));
    await pair.primary.root('FLUSH LOCAL SSL');
    await pair.replica.root('FLUSH LOCAL SSL');
    // Not vacuous: a client that checks the name refuses the writer now.
    await expect(mysql.createConnection({
      stream: net.connect(pair.primary.port, '127.0.0.1'),
      host: 'primary.test',
      user: pair.admin.user,
      password: pair.admin.password,
      ssl: { ca: pki.pem('ca-a.pem'), rejectUnauthorized: true, verifyIdentity: true },
    })).rejects.toThrow(/altnames|Hostname/i);

    const { s, certId } = stack({ requireTls: false, backendCa: pki.pem('ca-a.pem') });
    const task = await start(s, certId);
    const conn = await plainClient(task);
    try {
      expect(await backendCipher(conn)).not.toBe('');
    } finally {
      await conn.end();
    }
  });
});
