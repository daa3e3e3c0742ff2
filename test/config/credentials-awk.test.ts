/**
 * credentials.awk: what the ProxySQL container applies from the files the credentials sidecar
 * writes. Run with the image's awk (mawk when the machine has it) exactly as credentials.sh runs it;
 * the real ProxySQL applies the result in test/dataplane/rotation.test.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { taskProgram } from '../../src/config/task-programs';

const AWK = fs.existsSync('/usr/bin/mawk') ? '/usr/bin/mawk' : 'awk';
const PROGRAM = taskProgram('credentials.awk').command;

type Stages = Partial<Record<'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS', string | Record<string, unknown>>>;

function run(entries: Record<string, Stages>, names = Object.keys(entries).join(' ')): { sql: string; log: string; monitorClient?: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-proxysql-cred-'));
  try {
    for (const [entry, stages] of Object.entries(entries)) {
      const text = Object.entries(stages).map(([stage, v]) => `#stage ${stage}\n${typeof v === 'string' ? v : JSON.stringify(v)}\n`).join('');
      fs.writeFileSync(path.join(dir, entry), text);
    }
    const client = path.join(dir, 'monitor-client.cnf');
    const r = spawnSync(AWK, ['-v', `dir=${dir}`, '-v', `names=${names}`, '-v', `monitor_client=${client}`, PROGRAM], {
      encoding: 'utf8', env: { LC_ALL: 'C', PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(r.status).toBe(0);
    const monitorClient = fs.existsSync(`${client}.tmp`) ? fs.readFileSync(`${client}.tmp`, 'utf8') : undefined;
    return { sql: r.stdout, log: r.stderr, monitorClient };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The (username, password) pairs the SQL inserts for `entry`. */
function rows(sql: string, entry: string): string[][] {
  const re = new RegExp(`SELECT '((?:[^']|'')*)', '((?:[^']|'')*)', active.*WHERE comment='cdk-proxysql:${entry}' LIMIT 1;`, 'g');
  return [...sql.matchAll(re)].map((m) => [m[1], m[2]]);
}

describe('credentials.awk', () => {
  test('alternating users during a rotation: the current user and the pending one (the user about to be handed out)', () => {
    const { sql } = run({
      user0: {
        AWSCURRENT: { username: 'app', password: 'cur' },
        AWSPENDING: { username: 'app_clone', password: 'pend' },
        AWSPREVIOUS: { username: 'app_clone', password: 'old' },
      },
    });
    expect(rows(sql, 'user0')).toEqual([['app', 'cur'], ['app_clone', 'pend']]);
    expect(sql).toContain("DELETE FROM mysql_users WHERE comment='cdk-proxysql:user0' AND username NOT IN ('app', 'app_clone');");
    expect(sql.trim().split('\n').pop()).toBe('LOAD MYSQL USERS TO RUNTIME;');
  });

  test('alternating users after a rotation: the current user and the previous one (clients that cached the last value)', () => {
    const { sql } = run({ user0: { AWSCURRENT: { username: 'app_clone', password: 'new' }, AWSPREVIOUS: { username: 'app', password: 'cur' } } });
    expect(rows(sql, 'user0')).toEqual([['app_clone', 'new'], ['app', 'cur']]);
  });

  test('single user: AWSCURRENT only, a pending password is not taken before the rotation moves AWSCURRENT', () => {
    const { sql } = run({ user0: { AWSCURRENT: { username: 'app', password: 'cur' }, AWSPENDING: { username: 'app', password: 'pend' }, AWSPREVIOUS: { username: 'app', password: 'old' } } });
    expect(rows(sql, 'user0')).toEqual([['app', 'cur']]);
    expect(sql).toContain("username NOT IN ('app');");
  });

  test('the monitor: its login variables and the option file fleet-share.sh uses', () => {
    const { sql, monitorClient } = run({ monitor: { AWSCURRENT: { username: 'mon_clone', password: 'p"w' }, AWSPREVIOUS: { username: 'mon', password: 'x' } } });
    expect(sql).toContain("SET variable_value='mon_clone' WHERE variable_name='mysql-monitor_username';");
    expect(sql).toContain("SET variable_value='p\"w' WHERE variable_name='mysql-monitor_password';");
    expect(sql.trim().split('\n').pop()).toBe('LOAD MYSQL VARIABLES TO RUNTIME;');
    expect(sql).not.toContain('mysql_users');
    expect(monitorClient).toBe('[client]\nuser="mon_clone"\npassword="p\\"w"\n');
  });

  test('JSON as Secrets Manager writes it: escapes decoded, quotes doubled for SQL, other fields and nested values skipped', () => {
    const { sql } = run({
      user0: { AWSCURRENT: '{"engine": "mysql", "port": 3306, "x": {"a": [1, "}"]}, "username": "a\\u0070p", "password": "it\'s\\/\\"ok\\"", "masterarn": "arn:aws:..."}' },
    });
    expect(rows(sql, 'user0')).toEqual([['app', 'it\'\'s/"ok"']]);
  });

  test.each([
    ['a backslash', '{"username": "app", "password": "a\\\\b"}', 'the value holds a backslash'],
    ['a control character', '{"username": "app", "password": "a\\nb"}', 'the value holds a control character'],
    ['a character beyond ASCII', '{"username": "app", "password": "\\u00e9t\\u00e9"}', 'the value holds a character outside printable ASCII'],
    ['no password', '{"username": "app"}', 'not a JSON object with a username and a password'],
    ['not JSON', 'hunter2hunter2', 'not a JSON object with a username and a password'],
  ])('a value with %s leaves the entry as it is, and the log names the entry, not the value', (_what, value, message) => {
    const { sql, log } = run({ user0: { AWSCURRENT: value }, user1: { AWSCURRENT: { username: 'other', password: 'fine' } } });
    expect(sql).not.toContain('cdk-proxysql:user0');
    expect(rows(sql, 'user1')).toEqual([['other', 'fine']]);
    // The only line: the entry, the stage and the reason (a fixed text), nothing of the value.
    const suffix = message.startsWith('not') ? '; left as it is' : '; left as it is (redeploy to apply it)';
    expect(log).toBe(`proxysql-credentials: user0 AWSCURRENT: ${message}${suffix}\n`);
  });

  test('an entry without a file, or without AWSCURRENT, is left alone', () => {
    expect(run({ user0: { AWSPREVIOUS: { username: 'app', password: 'x' } } }, 'user0 user1 monitor').sql).toBe('');
  });
});
