import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as mysql from 'mysql2/promise';
import { ProxySqlConfiguration } from '../../src/config/configuration';
import { CLOSE_IDLE_SQL, HEALTH_CHECK_SCRIPT, IN_FLIGHT_SQL, START_PROGRAM, START_SCRIPT } from '../../src/config/start-script';
import { TASK_PROGRAMS_DIR } from '../../src/config/task-programs';
import { ReplicationCheck } from '../../src/config/topology';
import { ProxySqlUser } from '../../src/config/users';
import { LibconfigValue, parseLibconfigFile } from '../fixtures/libconfig';
import { mariadbAdmin, uniqueName } from '../fixtures/mariadb';

type Row = { [k: string]: LibconfigValue };

// Every shell we can find that claims POSIX sh: the image runs dash as sh.
const SHELLS = ['/bin/sh', '/usr/bin/dash', '/bin/dash', '/bin/bash']
  .filter(s => fs.existsSync(s))
  .filter((s, i, all) => all.findIndex(o => fs.realpathSync(o) === fs.realpathSync(s)) === i);

function template(backendCa?: string): string {
  const stack = new Stack(new App(), 'S');
  const config = new ProxySqlConfiguration({
    options: { users: [ProxySqlUser.fromSecret(new secretsmanager.Secret(stack, 'App')), ProxySqlUser.fromSecret(new secretsmanager.Secret(stack, 'Etl'))] },
    topology: { writer: { host: 'w.example' }, readers: [{ host: 'r.example' }], replicationCheck: ReplicationCheck.READ_ONLY },
    adminSecret: new secretsmanager.Secret(stack, 'Admin'),
    monitorSecret: new secretsmanager.Secret(stack, 'Monitor'),
    vcpus: 1,
    memoryMiB: 2048,
    backendCa,
  });
  return config.render().template;
}
const TEMPLATE = template();

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBcertificate\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEkeymaterial\n-----END PRIVATE KEY-----';
const TLS = { PROXYSQL_TLS_CERTIFICATE: CERT, PROXYSQL_TLS_PRIVATE_KEY: KEY, PROXYSQL_TLS_CERTIFICATE_CHAIN: CERT };

const HOSTILE = {
  PROXYSQL_SECRET_ADMIN_USERNAME: 'adm\'in\\ ü',
  PROXYSQL_SECRET_ADMIN_PASSWORD: 'p\'w$`\\ #x\'$(id)${HOME} é€',
  PROXYSQL_SECRET_MONITOR_USERNAME: "mon'itor",
  PROXYSQL_SECRET_MONITOR_PASSWORD: 'a\'b"c\\d$e`f g#h;i:j\nk\tl ü€ "" \'\' \\',
  PROXYSQL_SECRET_USER_0_USERNAME: 'app\'us"er',
  PROXYSQL_SECRET_USER_0_PASSWORD: '\'"\\$`\' ;:#\n\r😀 end\\',
  PROXYSQL_SECRET_USER_1_USERNAME: 'etl',
  PROXYSQL_SECRET_USER_1_PASSWORD: '%{PROXYSQL_SECRET_USER_0_PASSWORD:sq} & \\1 $1',
};

interface Run { dir: string; status: number | null; stdout: string; stderr: string; args?: string[] }

function stubs(dir: string) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  // Records its arguments, copies the file it was given and its mode, and (for the stop test)
  // stays up until SIGTERM.
  fs.writeFileSync(path.join(bin, 'proxysql'), `#!/bin/sh
printf '%s\\n' "$@" > "$STUB_DIR/proxysql-args"
cp "$5" "$STUB_DIR/copied.cnf"
stat -c %a "$5" > "$STUB_DIR/mode"
if [ -n "\${STUB_STAY_UP:-}" ]; then
  trap 'echo TERM >> "$STUB_DIR/events"; exit 0' TERM
  while :; do sleep 0.05; done
fi
`, { mode: 0o755 });
  // sed, slow once ProxySQL is up when STUB_SLOW_SED is set: holds the script between starting
  // ProxySQL and setting up its stop handler.
  fs.writeFileSync(path.join(bin, 'sed'), `#!/bin/sh
if [ -n "\${STUB_SLOW_SED:-}" ] && [ -f "$STUB_DIR/mode" ]; then sleep 1; fi
exec /bin/sed "$@"
`, { mode: 0o755 });
  // The admin client: PROXYSQL PAUSE (fails when STUB_PAUSE_FAILS is set), the lowered wait
  // timeout (fails when STUB_CLOSE_FAILS is set), and the in-flight poll, answering what the file
  // "busy" holds (statements, transactions, sessions), else "0 0 0".
  fs.writeFileSync(path.join(bin, 'mysql'), `#!/bin/sh
for a in "$@"; do last="$a"; done
case "$last" in
  'PROXYSQL PAUSE')
    printf '%s\\n' "$@" > "$STUB_DIR/mysql-args"
    cat > "$STUB_DIR/mysql-stdin"
    echo PAUSE >> "$STUB_DIR/events"
    [ -z "\${STUB_PAUSE_FAILS:-}" ];;
  *mysql-wait_timeout*)
    printf '%s\\n' "$@" > "$STUB_DIR/close-args"
    echo CLOSE >> "$STUB_DIR/events"
    [ -z "\${STUB_CLOSE_FAILS:-}" ];;
  *stats_mysql_processlist*)
    printf '%s\\n' "$@" > "$STUB_DIR/poll-args"
    echo POLL >> "$STUB_DIR/events"
    if [ -f "$STUB_DIR/busy" ]; then cat "$STUB_DIR/busy"; else printf '0\\t0\\t0\\n'; fi;;
  *) exit 1;;
esac
`, { mode: 0o755 });
  return bin;
}

function envFor(dir: string, secrets: { [k: string]: string }, extra: { [k: string]: string } = {}) {
  return {
    PATH: `${stubs(dir)}:/usr/bin:/bin`,
    STUB_DIR: dir,
    PROXYSQL_CONFIG_DIR: path.join(dir, 'etc'),
    PROXYSQL_DATADIR: path.join(dir, 'data'),
    PROXYSQL_CONFIG_TEMPLATE: TEMPLATE,
    ...secrets,
    ...extra,
  };
}

/**
 * How the tests run the start script: the file itself, with its inputs (the awk programs and the
 * in-flight SQL) in its environment; or, `asShipped`, the container command as ECS runs it.
 */
function startArgs(asShipped = false): { args: string[]; inputs: { [k: string]: string } } {
  return asShipped ? { args: ['-c', START_SCRIPT], inputs: {} } : { args: [START_PROGRAM.file], inputs: { ...START_PROGRAM.inputs } };
}

function run(shell: string, secrets: { [k: string]: string }, extra: { [k: string]: string } = {}, asShipped = false): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxysql-start-'));
  const { args, inputs } = startArgs(asShipped);
  // stdin is /dev/null, as in ECS (bash, unlike dash, reads ~/.bashrc when stdin is a socket).
  const r = spawnSync(shell, args, { env: { ...inputs, ...envFor(dir, secrets, extra) }, encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'pipe'] });
  const argsFile = path.join(dir, 'proxysql-args');
  return {
    dir,
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    args: fs.existsSync(argsFile) ? fs.readFileSync(argsFile, 'utf8').trimEnd().split('\n') : undefined,
  };
}

/**
 * Run the statement ProxySQL builds from the parsed file (the same sprintf templates as
 * lib/ProxySQL_Config.cpp) through the real SQLite and return what SQLite stored, as hex.
 */
function sqliteReads(sql: string): string[] {
  const r = spawnSync('sqlite3', [':memory:'], { input: Buffer.from(sql, 'utf8') });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').trim().split('\n');
}
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

function assertHeldExactly(cfg: { [k: string]: LibconfigValue }) {
  const users = cfg.mysql_users as Row[];
  const userRows = sqliteReads([
    'CREATE TABLE mysql_users (username, password);',
    ...users.map(u => `INSERT OR REPLACE INTO mysql_users (username, password) VALUES ('${u.username}', '${u.password}');`),
    'SELECT hex(username) || \'|\' || hex(password) FROM mysql_users ORDER BY rowid;',
  ].join('\n'));
  expect(userRows).toEqual([
    `${hex(HOSTILE.PROXYSQL_SECRET_USER_0_USERNAME)}|${hex(HOSTILE.PROXYSQL_SECRET_USER_0_PASSWORD)}`,
    `${hex(HOSTILE.PROXYSQL_SECRET_USER_1_USERNAME)}|${hex(HOSTILE.PROXYSQL_SECRET_USER_1_PASSWORD)}`,
  ]);
  const mv = cfg.mysql_variables as Row;
  const av = cfg.admin_variables as Row;
  const vars = sqliteReads([
    'CREATE TABLE global_variables (variable_name VARCHAR NOT NULL PRIMARY KEY, variable_value VARCHAR NOT NULL);',
    `INSERT OR REPLACE INTO global_variables VALUES ("mysql-monitor_username", "${mv.monitor_username}");`,
    `INSERT OR REPLACE INTO global_variables VALUES ("mysql-monitor_password", "${mv.monitor_password}");`,
    `INSERT OR REPLACE INTO global_variables VALUES ("admin-admin_credentials", "${av.admin_credentials}");`,
    `INSERT OR REPLACE INTO global_variables VALUES ("admin-stats_credentials", "${av.stats_credentials}");`,
    'SELECT hex(variable_value) FROM global_variables ORDER BY rowid;',
  ].join('\n'));
  expect(vars).toEqual([
    hex(HOSTILE.PROXYSQL_SECRET_MONITOR_USERNAME),
    hex(HOSTILE.PROXYSQL_SECRET_MONITOR_PASSWORD),
    hex(`${HOSTILE.PROXYSQL_SECRET_ADMIN_USERNAME}:${HOSTILE.PROXYSQL_SECRET_ADMIN_PASSWORD}`),
    hex(`${HOSTILE.PROXYSQL_SECRET_ADMIN_USERNAME}_stats:${HOSTILE.PROXYSQL_SECRET_ADMIN_PASSWORD}`),
  ]);
}

function expectNoSecretIn(text: string) {
  for (const v of Object.values(HOSTILE)) expect(text).not.toContain(v);
  expect(text).not.toContain("p'w$");
}

describe.each(SHELLS)('start script under %s', (shell) => {
  test('hostile secrets arrive byte for byte after libconfig and SQLite; file is 0600; ProxySQL gets the right flags', () => {
    const r = run(shell, HOSTILE);
    expect(r.stderr).toContain('configuration rendered');
    expect(r.status).toBe(0);
    const conf = path.join(r.dir, 'etc', 'proxysql.cnf');
    expect(r.args).toEqual(['-f', '--initial', '--idle-threads', '-c', conf, '-D', path.join(r.dir, 'data')]);
    expect(fs.readFileSync(path.join(r.dir, 'mode'), 'utf8').trim()).toBe('600');
    expect((fs.statSync(path.join(r.dir, 'etc', 'admin-client.cnf')).mode % 0o1000).toString(8)).toBe('600');
    const cfg = parseLibconfigFile(path.join(r.dir, 'copied.cnf'));
    // The parsed file holds the SQL-escaped form (quotes doubled for the context ProxySQL pastes into) ...
    expect((cfg.mysql_users as Row[])[0].password).toBe(HOSTILE.PROXYSQL_SECRET_USER_0_PASSWORD.replace(/'/g, "''"));
    expect((cfg.mysql_variables as Row).monitor_password).toBe(HOSTILE.PROXYSQL_SECRET_MONITOR_PASSWORD.replace(/"/g, '""'));
    // ... and SQLite, reading the statements ProxySQL builds from it, stores each secret exactly.
    assertHeldExactly(cfg);
    // A placeholder inside a secret value is data, not a second substitution.
    expect((cfg.mysql_users as Row[])[1].password).toBe(HOSTILE.PROXYSQL_SECRET_USER_1_PASSWORD);
    // The writer is listed twice: in the writer hostgroup, and as the readers' fallback.
    expect((cfg.mysql_servers as Row[]).map(s => s.hostname)).toEqual(['w.example', 'w.example', 'r.example']);
    expectNoSecretIn(r.stdout + r.stderr);
  });

  test('the container command as ECS runs it renders the same files as the script file', () => {
    const file = run(shell, { ...HOSTILE, ...TLS });
    const shipped = run(shell, { ...HOSTILE, ...TLS }, {}, true);
    expect(shipped.status).toBe(0);
    expect(shipped.stderr.replace(new RegExp(shipped.dir, 'g'), 'DIR')).toBe(file.stderr.replace(new RegExp(file.dir, 'g'), 'DIR'));
    for (const f of ['copied.cnf', 'etc/admin-client.cnf', 'data/proxysql-key.pem', 'data/proxysql-cert.pem', 'data/proxysql-ca.pem']) {
      expect(fs.readFileSync(path.join(shipped.dir, f), 'utf8')).toBe(fs.readFileSync(path.join(file.dir, f), 'utf8'));
    }
  });

  test.each([
    ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'pa:ss', /PROXYSQL_SECRET_ADMIN_PASSWORD contains ':' or ';'/],
    ['PROXYSQL_SECRET_ADMIN_USERNAME', 'ad;min', /PROXYSQL_SECRET_ADMIN_USERNAME contains ':' or ';'/],
    ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'pa\nss', /PROXYSQL_SECRET_ADMIN_PASSWORD contains a control character/],
    ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'pa"ss', /PROXYSQL_SECRET_ADMIN_PASSWORD contains '"' \(ProxySQL re-pastes admin variables/],
    ['PROXYSQL_SECRET_ADMIN_USERNAME', 'ad"min', /PROXYSQL_SECRET_ADMIN_USERNAME contains '"'/],
    ['PROXYSQL_SECRET_USER_0_PASSWORD', 'bell\u0007secret', /PROXYSQL_SECRET_USER_0_PASSWORD contains a control character other than tab, CR or LF/],
    ['PROXYSQL_SECRET_MONITOR_PASSWORD', 'esc\u001bsecret', /PROXYSQL_SECRET_MONITOR_PASSWORD contains a control character/],
    ['PROXYSQL_SECRET_USER_1_PASSWORD', '', /PROXYSQL_SECRET_USER_1_PASSWORD is empty/],
  ])('refuses %s = %j without logging the value', (name, value, message) => {
    const r = run(shell, { ...HOSTILE, [name]: value });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^proxysql-start: refusing to start: /m);
    expect(r.stderr).toMatch(message);
    if (value) expect(r.stderr).not.toContain(value);
    expect(r.args).toBeUndefined();
    expect(fs.existsSync(path.join(r.dir, 'etc', 'proxysql.cnf'))).toBe(false);
  });

  test('refuses when a secret env var is not mapped', () => {
    const { PROXYSQL_SECRET_MONITOR_PASSWORD: _omit, ...rest } = HOSTILE;
    const r = run(shell, rest);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/PROXYSQL_SECRET_MONITOR_PASSWORD is not set/);
    expect(r.args).toBeUndefined();
  });

  test('refuses without a template', () => {
    const r = run(shell, HOSTILE, { PROXYSQL_CONFIG_TEMPLATE: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PROXYSQL_CONFIG_TEMPLATE is empty or not set/);
  });

  test('writes a brought certificate, key and chain into the datadir (0600, one final newline), never into the log', () => {
    const r = run(shell, { ...HOSTILE, ...TLS });
    expect(r.status).toBe(0);
    const data = path.join(r.dir, 'data');
    for (const [file, value] of [['proxysql-cert.pem', CERT], ['proxysql-key.pem', `${KEY}\n`], ['proxysql-ca.pem', CERT]]) {
      expect(fs.readFileSync(path.join(data, file), 'utf8')).toBe(value);
      expect((fs.statSync(path.join(data, file)).mode % 0o1000).toString(8)).toBe('600');
    }
    expect(r.stderr).not.toContain('keymaterial');
  });

  test('without a brought certificate no file is written: ProxySQL generates its own', () => {
    const r = run(shell, HOSTILE);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(r.dir, 'data')).filter((f) => f.endsWith('.pem'))).toEqual([]);
  });

  test.each([
    ['a missing key (ProxySQL would exit with only some files)', { PROXYSQL_TLS_PRIVATE_KEY: undefined }, /PROXYSQL_TLS_PRIVATE_KEY is empty or not set/],
    ['an encrypted key', { PROXYSQL_TLS_PRIVATE_KEY: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIEkeymaterial\n-----END ENCRYPTED PRIVATE KEY-----' },
      /PROXYSQL_TLS_PRIVATE_KEY holds no unencrypted PEM private key/],
    ['a certificate that is not PEM', { PROXYSQL_TLS_CERTIFICATE: 'MIIBcertificate' }, /PROXYSQL_TLS_CERTIFICATE holds no PEM certificate/],
    ['a chain that is a key', { PROXYSQL_TLS_CERTIFICATE_CHAIN: KEY }, /PROXYSQL_TLS_CERTIFICATE_CHAIN holds no PEM certificate/],
  ] as Array<[string, { [k: string]: string | undefined }, RegExp]>)('refuses %s, naming the variable and not the value', (_name, change, message) => {
    const tls: { [k: string]: string } = {};
    for (const [k, v] of Object.entries({ ...TLS, ...change })) if (v !== undefined) tls[k] = v;
    const r = run(shell, { ...HOSTILE, ...tls });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('keymaterial');
    expect(r.args).toBeUndefined();
  });

  test('the backend CA goes to a file ssl_p2s_ca names; without the variable the script refuses', () => {
    const withCa = { PROXYSQL_CONFIG_TEMPLATE: template(CERT) };
    const r = run(shell, HOSTILE, { ...withCa, PROXYSQL_BACKEND_CA: CERT });
    expect(r.status).toBe(0);
    const cafile = path.join(r.dir, 'etc', 'backend-ca.pem');
    expect(fs.readFileSync(cafile, 'utf8')).toBe(CERT);
    expect((parseLibconfigFile(path.join(r.dir, 'copied.cnf')).mysql_variables as Row).ssl_p2s_ca).toBe(cafile);
    const missing = run(shell, HOSTILE, withCa);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/PROXYSQL_BACKEND_CA is empty or not set, but the configuration verifies backends against it/);
  });

  /** Start the script with a ProxySQL stub that stays up, wait until it runs, send SIGTERM. */
  async function stopScript(extra: { [k: string]: string }, beforeTerm?: (dir: string) => void) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxysql-stop-'));
    const { args, inputs } = startArgs();
    const child = spawn(shell, args, {
      env: { ...inputs, ...envFor(dir, HOSTILE, { STUB_STAY_UP: '1', ...extra }) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', d => { output += d; });
    child.stderr.on('data', d => { output += d; });
    const deadline = Date.now() + 10000;
    while (!fs.existsSync(path.join(dir, 'mode')) && Date.now() < deadline) await new Promise(res => setTimeout(res, 50));
    beforeTerm?.(dir);
    const sent = Date.now();
    child.kill('SIGTERM');
    const exited = new Promise<{ code: number | null; at: number }>(res => child.on('exit', c => res({ code: c, at: Date.now() })));
    return {
      dir,
      sent,
      exited,
      output: () => output,
      events: () => fs.readFileSync(path.join(dir, 'events'), 'utf8').trimEnd().split('\n'),
    };
  }

  test('SIGTERM with no client session: PROXYSQL PAUSE, idle sessions closed, one poll, TERM to ProxySQL at once (no fixed drain)', async () => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '20' });
    const { code, at } = await stop.exited;
    expect(code).toBe(0);
    expect(stop.events()).toEqual(['PAUSE', 'CLOSE', 'POLL', 'TERM']);
    expect(at - stop.sent).toBeLessThan(5000); // was 20 s: the whole drain time
    const args = fs.readFileSync(path.join(stop.dir, 'mysql-args'), 'utf8').trimEnd().split('\n');
    expect(args).toEqual([`--defaults-file=${path.join(stop.dir, 'etc', 'admin-client.cnf')}`, '-e', 'PROXYSQL PAUSE']);
    const poll = fs.readFileSync(path.join(stop.dir, 'poll-args'), 'utf8').trimEnd().split('\n');
    expect(poll).toEqual([`--defaults-file=${path.join(stop.dir, 'etc', 'admin-client.cnf')}`, '-N', '-B', '-e', IN_FLIGHT_SQL]);
    const close = fs.readFileSync(path.join(stop.dir, 'close-args'), 'utf8').trimEnd().split('\n');
    expect(close).toEqual([`--defaults-file=${path.join(stop.dir, 'etc', 'admin-client.cnf')}`, '-e', CLOSE_IDLE_SQL]);
    expectNoSecretIn(stop.output() + args.join(' '));
    expect(stop.output()).toMatch(/stop requested: PROXYSQL PAUSE, closing client sessions between statements, waiting up to 20s for the last ones/);
    // Whole seconds of `date +%s`: 0, or 1 when the signal and the first poll straddle a second
    // boundary (seen in CI); the elapsed time itself is bounded above.
    expect(stop.output()).toMatch(/no client session left [01]s after the stop request; stopping ProxySQL/);
  }, 20000);

  test('SIGTERM right after ProxySQL starts, before the stop handler is set up: honoured once it is', async () => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '20', STUB_SLOW_SED: '1' });
    const { code } = await stop.exited;
    expect(code).toBe(0);
    expect(stop.events().slice(-1)).toEqual(['TERM']);
    expect(stop.output()).toMatch(/stop requested: PROXYSQL PAUSE/);
  }, 20000);

  test.each([
    ['a statement runs and a transaction is open', '1\t1\t2\n'],
    ['client sessions are open, none of them busy', '0\t0\t3\n'],
  ])('SIGTERM while %s: waits until no session is left, then stops within a poll', async (_what, busy) => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '20' }, dir => fs.writeFileSync(path.join(dir, 'busy'), busy));
    await new Promise(res => setTimeout(res, 2000));
    expect(stop.events().filter(e => e === 'TERM')).toEqual([]);
    const idleAt = Date.now();
    fs.rmSync(path.join(stop.dir, 'busy'));
    const { code, at } = await stop.exited;
    expect(code).toBe(0);
    expect(at - idleAt).toBeLessThan(1500);
    expect(stop.events().filter(e => e === 'POLL').length).toBeGreaterThanOrEqual(3);
    expect(stop.events().slice(-1)).toEqual(['TERM']);
  }, 20000);

  test('SIGTERM while work never ends: stops when the drain time is up, saying what was left', async () => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '2' }, dir => fs.writeFileSync(path.join(dir, 'busy'), '2\t1\t5\n'));
    const { code, at } = await stop.exited;
    expect(code).toBe(0);
    expect(at - stop.sent).toBeGreaterThanOrEqual(1000); // whole seconds: the wait ends 1–2 s after the signal
    expect(at - stop.sent).toBeLessThan(4500);
    expect(stop.output()).toMatch(/drain time up \(2s\) with 5 client sessions open \(2 statements running, 1 idle transactions\); stopping ProxySQL/);
    expect(stop.events().slice(-1)).toEqual(['TERM']);
  }, 20000);

  test('SIGTERM when the wait timeout cannot be lowered: says so, and still waits for the sessions to leave', async () => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '20', STUB_CLOSE_FAILS: '1' });
    const { code } = await stop.exited;
    expect(code).toBe(0);
    expect(stop.events()).toEqual(['PAUSE', 'CLOSE', 'POLL', 'TERM']);
    expect(stop.output()).toMatch(/cannot lower mysql-wait_timeout; waiting for clients to leave by themselves/);
    expect(stop.output()).toMatch(/no client session left [01]s after the stop request/);
  }, 20000);

  test('SIGTERM when PROXYSQL PAUSE fails: no drain, TERM at once', async () => {
    const stop = await stopScript({ PROXYSQL_DRAIN_SECONDS: '20', STUB_PAUSE_FAILS: '1' });
    const { code, at } = await stop.exited;
    expect(code).toBe(0);
    expect(stop.events()).toEqual(['PAUSE', 'TERM']);
    expect(at - stop.sent).toBeLessThan(5000);
    expect(stop.output()).toMatch(/PROXYSQL PAUSE failed; stopping without a drain/);
  }, 20000);
});

describe('admin client option file', () => {
  test('the real MariaDB client logs in with hostile admin credentials from it', async () => {
    const user = uniqueName('adm');
    const password = 'p\'w$`\\ #x\'$(id) é€ \\\\';
    const r = run('/bin/sh', { ...HOSTILE, PROXYSQL_SECRET_ADMIN_USERNAME: user, PROXYSQL_SECRET_ADMIN_PASSWORD: password });
    expect(r.status).toBe(0);
    const admin = mariadbAdmin();
    const conn = await mysql.createConnection({ ...admin });
    try {
      await conn.query('CREATE USER ?@\'%\' IDENTIFIED BY ?', [user, password]);
      const client = fs.existsSync('/usr/bin/mariadb') ? '/usr/bin/mariadb' : 'mysql';
      // Command-line options after --defaults-file override the file's port (6032) with the fixture's.
      const out = spawnSync(client, [`--defaults-file=${path.join(r.dir, 'etc', 'admin-client.cnf')}`, `--port=${admin.port}`, '-N', '-B', '-e', 'SELECT CURRENT_USER()'], { encoding: 'utf8' });
      expect(out.stderr).toBe('');
      expect(out.stdout.trim()).toBe(`${user}@%`);
    } finally {
      await conn.query('DROP USER IF EXISTS ?@\'%\'', [user]);
      await conn.end();
    }
  });

  test('health check: passes whenever the admin interface answers, whatever the database state; fails when it does not', () => {
    const r = run('/bin/sh', HOSTILE);
    const dir = r.dir;
    // A stub mysql that records its arguments and exits with STUB_RC after printing STUB_OUT.
    fs.writeFileSync(path.join(dir, 'bin', 'mysql'), `#!/bin/sh
printf '%s\\n' "$@" > "$STUB_DIR/health-args"
printf '%s\\n' "\${STUB_OUT:-}"
exit "\${STUB_RC:-0}"
`, { mode: 0o755 });
    const env = { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, STUB_DIR: dir, PROXYSQL_CONFIG_DIR: path.join(dir, 'etc') };
    // The file, and the one line ECS runs (CMD-SHELL).
    const check = (extra: { [k: string]: string }, args = [path.join(TASK_PROGRAMS_DIR, 'health-check.sh')]) =>
      spawnSync('/bin/sh', args, { env: { ...env, ...extra }, encoding: 'utf8' });
    // An empty writer hostgroup (no runtime servers at all) is the database's fault: the check passes.
    expect(check({ STUB_OUT: '0' }).status).toBe(0);
    expect(check({ STUB_OUT: '3' }).status).toBe(0);
    expect(check({ STUB_OUT: '0' }, ['-c', HEALTH_CHECK_SCRIPT]).status).toBe(0);
    expect(check({ STUB_RC: '1' }, ['-c', HEALTH_CHECK_SCRIPT]).status).not.toBe(0);
    expect(HEALTH_CHECK_SCRIPT).not.toContain('\n');
    expect(fs.readFileSync(path.join(dir, 'health-args'), 'utf8').trimEnd().split('\n')).toEqual([
      `--defaults-file=${path.join(dir, 'etc', 'admin-client.cnf')}`, '--connect-timeout=3', '-N', '-B', '-e',
      'SELECT COUNT(*) FROM runtime_mysql_servers',
    ]);
    // The admin interface does not answer: the check fails.
    expect(check({ STUB_RC: '1' }).status).not.toBe(0);
    expect(HEALTH_CHECK_SCRIPT).not.toMatch(/hostgroup|ONLINE|SHUNNED|OFFLINE/);
  });
});
