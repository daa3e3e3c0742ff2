/**
 * The programs of the task are files (src/task-programs); what ships is each file's text without
 * its comment lines and blank lines, behind its inputs. These tests pin that the drop changes no
 * program, that every input is one the file reads, and that the environment each container gets
 * is the one its program reads.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ProxySqlBackend, ProxySqlFargate, ProxySqlTlsCertificate } from '../../src';
import { METRICS_PROGRAM, METRICS_SCRIPT, QUERY_LOG_SCRIPT } from '../../src/config/metrics-script';
import { HEALTH_CHECK_SCRIPT, START_PROGRAM, START_SCRIPT } from '../../src/config/start-script';
import { TASK_PROGRAMS_DIR, taskProgram, withoutComments } from '../../src/config/task-programs';

const SHELL_PROGRAMS = fs.readdirSync(TASK_PROGRAMS_DIR).filter((f) => f.endsWith('.sh')).sort();
const AWK_PROGRAMS = fs.readdirSync(TASK_PROGRAMS_DIR).filter((f) => f.endsWith('.awk')).sort();

/** How bash prints `text` once parsed as a function body: comments and layout are gone. */
function parsed(text: string): string {
  const r = spawnSync('bash', ['-c', 'eval "f() {\n$PROGRAM\n}" && declare -f f'], { env: { PROGRAM: text }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bash could not parse the program: ${r.stderr}`);
  return r.stdout;
}

/** How gawk prints `text` once parsed as a POSIX awk program (comments kept, layout its own). */
function awkPrinted(text: string): string {
  const r = spawnSync('gawk', ['--posix', '-o-', '--', text], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gawk could not parse the program: ${r.stderr}`);
  return r.stdout;
}

describe('task programs', () => {
  test('the folder holds the programs the task runs', () => {
    expect(SHELL_PROGRAMS).toEqual(['credentials-fetch.sh', 'credentials.sh', 'fleet-share.sh', 'health-check.sh', 'metrics.sh', 'query-log.sh', 'start.sh']);
    expect(AWK_PROGRAMS).toEqual(['admin-client.awk', 'credentials.awk', 'emf.awk', 'pem.awk', 'render-config.awk']);
  });

  test.each(SHELL_PROGRAMS)('%s: dropping comment and blank lines leaves the same program (as bash parses it) and valid POSIX sh', (name) => {
    const text = fs.readFileSync(path.join(TASK_PROGRAMS_DIR, name), 'utf8');
    const shipped = withoutComments(text);
    expect(shipped.length).toBeLessThan(text.length);
    expect(shipped).not.toMatch(/^\s*#/m);
    expect(parsed(shipped)).toBe(parsed(text));
    const dash = spawnSync('sh', ['-n'], { input: shipped, encoding: 'utf8' });
    expect(dash.stderr).toBe('');
    expect(dash.status).toBe(0);
  });

  test('the check above can fail: a quoted string that spans a comment-like line is changed by the drop', () => {
    const text = "printf '%s\\n' 'a\n# not a comment\nb'\n";
    expect(parsed(withoutComments(text))).not.toBe(parsed(text));
  });

  test.each(AWK_PROGRAMS)('%s: dropping comment and blank lines leaves the same program (as gawk --posix prints it)', (name) => {
    const text = fs.readFileSync(path.join(TASK_PROGRAMS_DIR, name), 'utf8');
    const comments = /^\s*#.*\n/gm;
    expect(awkPrinted(withoutComments(text))).toBe(awkPrinted(text).replace(comments, ''));
  });

  test('the container commands are the files behind their inputs', () => {
    const lines = (s: string) => s.split('\n');
    expect(START_SCRIPT.endsWith(withoutComments(fs.readFileSync(START_PROGRAM.file, 'utf8')))).toBe(true);
    expect(Object.keys(START_PROGRAM.inputs).sort()).toEqual(['ADMIN_CLIENT_AWK', 'CLOSE_IDLE_SQL', 'CREDENTIALS_SH', 'FLEET_SHARE_SH', 'IN_FLIGHT_SQL', 'PEM_AWK', 'RENDER_AWK']);
    expect(lines(START_SCRIPT)[0]).toMatch(/^RENDER_AWK='/);
    expect(METRICS_SCRIPT.endsWith(withoutComments(fs.readFileSync(METRICS_PROGRAM.file, 'utf8')))).toBe(true);
    expect(Object.keys(METRICS_PROGRAM.inputs).sort()).toEqual(['ADMIN_CLIENT_AWK', 'EMF_AWK', 'METRICS_CATALOG', 'METRICS_SQL']);
    expect(QUERY_LOG_SCRIPT).toBe(withoutComments(fs.readFileSync(path.join(TASK_PROGRAMS_DIR, 'query-log.sh'), 'utf8')));
    expect(HEALTH_CHECK_SCRIPT).toBe(withoutComments(fs.readFileSync(path.join(TASK_PROGRAMS_DIR, 'health-check.sh'), 'utf8')).trimEnd());
  });

  test('every upper-case variable a program reads is an input, an env var of the task, or the shell\'s own', () => {
    for (const program of [START_PROGRAM, METRICS_PROGRAM]) {
      const text = fs.readFileSync(program.file, 'utf8');
      const read = new Set([...withoutComments(text).matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
      const unknown = [...read].filter((v) => !(v in program.inputs) && !v.startsWith('PROXYSQL_') && v !== 'IFS');
      expect(`${path.basename(program.file)}: ${unknown.join(', ')}`).toBe(`${path.basename(program.file)}: `);
    }
  });

  test('an input the file never reads, or a name that is not a shell variable, fails the synth', () => {
    expect(() => taskProgram('query-log.sh', { RENDER_AWK: 'x' })).toThrow(/task program query-log.sh: input RENDER_AWK is never read as "\$RENDER_AWK"/);
    expect(() => taskProgram('start.sh', { 'render-awk': 'x' })).toThrow(/input render-awk must be an upper-case shell variable name/);
  });
});

describe('the environment of each container is what its program reads', () => {
  type Container = {
    Name: string;
    Command: string[];
    Environment?: Array<{ Name: string }>;
    Secrets?: Array<{ Name: string }>;
    HealthCheck?: { Command: string[] };
  };

  /** Every feature that adds an env var: TLS certificate, backend CA, metrics, query log. */
  function containers(): Container[] {
    const stack = new Stack(new App(), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'primary.example', port: 3306 },
      readers: [{ host: 'replica.example', port: 3306 }],
      adminSecret: new secretsmanager.Secret(stack, 'DbAdmin'),
      appUserSecrets: [new secretsmanager.Secret(stack, 'App')],
      serverCaPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      databaseMaxConnections: 1000,
    });
    new ProxySqlFargate(stack, 'Proxy', {
      vpc,
      backend,
      tlsCertificate: ProxySqlTlsCertificate.fromSecret(new secretsmanager.Secret(stack, 'Cert')),
      queryLog: true,
    });
    const [td] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'));
    return td.Properties.ContainerDefinitions as Container[];
  }

  /** The PROXYSQL_* names a command mentions (awk's ENVIRON reads included: they are inputs). */
  const mentioned = (command: string) => new Set([...command.matchAll(/PROXYSQL_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]));

  test.each(['proxysql', 'metrics', 'query-log'])('%s', (name) => {
    const c = containers().find((x) => x.Name === name)!;
    expect(c.Command[0]).toBe('sh');
    const command = c.Command[2] + (c.HealthCheck ? c.HealthCheck.Command[1] : '');
    const given = [...(c.Environment ?? []), ...(c.Secrets ?? [])].map((e) => e.Name);
    expect(given.length).toBeGreaterThan(0);
    const reads = mentioned(command);
    // User and monitor secrets are read through the placeholders of the template, not by name.
    const template = name === 'proxysql' ? JSON.stringify(c.Environment) : '';
    const unread = given.filter((n) => !reads.has(n) && !template.includes(`%{${n}:`));
    expect(unread).toEqual([]);
    // What the program reads and the task does not set has a default in the program (or is the
    // template's CA placeholder, which is not an env var).
    const optional: { [name: string]: string[] } = {
      'proxysql': ['PROXYSQL_CONFIG_DIR', 'PROXYSQL_DATADIR', 'PROXYSQL_BACKEND_CA_FILE', 'PROXYSQL_SECRET'],
      'metrics': [],
      'query-log': [],
    };
    expect([...reads].filter((n) => !given.includes(n)).sort()).toEqual(optional[name].sort());
  });
});
