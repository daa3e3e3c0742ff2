/**
 * What every data-plane test starts from: a synthesized stack with `ProxySqlFargate` in front of a
 * plain-endpoints backend (`primary.test` / `replica.test`), the real bootstrap handler run with
 * the custom resource's synthesized properties, and the task started from the same template.
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { CloudFormationCustomResourceCreateEvent } from 'aws-lambda';
import { Construct } from 'constructs';
import * as mysql from 'mysql2/promise';
import { EndpointsBackendOptions, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps } from '../../src';
import { BootstrapProperties, makeHandler } from '../../src/bootstrap/bootstrap.lambda';
import { DatabaseCredentials } from '../../src/bootstrap/secrets';
import { CfnValue, evaluateCfn } from '../fixtures/cfn-eval';
import { ReplicatedPair } from '../fixtures/mariadb';
import { startTask, TaskOptions, TaskSecrets, ProxySqlTask } from '../fixtures/proxysql-task';

export const WRITER_HOST = 'primary.test';
export const READER_HOST = 'replica.test';
/** MariaDB's default max_connections, which the fixture's servers keep unless a test sets another. */
export const FIXTURE_MAX_CONNECTIONS = 151;

export interface DataplaneStack {
  readonly stack: Stack;
  readonly proxy: ProxySqlFargate;
  readonly template: Record<string, CfnValue>;
  /** Logical ids of the secrets the test fills. */
  readonly ids: { readonly admin: string; readonly monitor: string; readonly app: string; readonly dbAdmin: string };
}

export interface DataplaneStackOptions {
  readonly proxy?: Partial<ProxySqlFargateProps>;
  readonly backend?: Partial<EndpointsBackendOptions>;
  /** Proxy props made in the stack (e.g. a secret the props refer to); applied after `proxy`. */
  readonly proxyInStack?: (stack: Stack) => Partial<ProxySqlFargateProps>;
  /**
   * Leave `databaseMaxConnections` and `maxCapacity` to the library's defaults instead of the
   * fixture's 151 and a fleet of two (`backend` and `proxy` may still set them).
   * @default false
   */
  readonly libraryDefaults?: boolean;
}

function logicalId(stack: Stack, c: Construct): string {
  return stack.getLogicalId(c.node.defaultChild as CfnElement);
}

/** Synthesize the proxy in front of `primary.test:3306` (writer) and `replica.test:3306` (reader). */
export function endpointsProxyStack(options: DataplaneStackOptions = {}): DataplaneStack {
  const stack = new Stack(new App(), 'Dataplane');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const dbAdmin = new secretsmanager.Secret(stack, 'DbAdmin');
  const appUser = new secretsmanager.Secret(stack, 'AppUser');
  const backend = ProxySqlBackend.fromEndpoints({
    writer: { host: WRITER_HOST, port: 3306 },
    readers: [{ host: READER_HOST, port: 3306 }],
    adminSecret: dbAdmin,
    appUserSecrets: [appUser],
    // What the fixture's servers accept (MariaDB's default), unless a test says otherwise.
    ...(options.libraryDefaults ? {} : { databaseMaxConnections: FIXTURE_MAX_CONNECTIONS }),
    ...options.backend,
  });
  // A fleet of two tasks (four during a deployment), as a small production service would run.
  const proxy = new ProxySqlFargate(stack, 'Proxy', {
    vpc, backend, ...(options.libraryDefaults ? {} : { maxCapacity: 2 }), ...options.proxy, ...options.proxyInStack?.(stack),
  });
  return {
    stack,
    proxy,
    template: Template.fromStack(stack).toJSON(),
    ids: {
      admin: logicalId(stack, proxy.adminSecret as secretsmanager.Secret),
      monitor: logicalId(stack, proxy.monitorSecret as secretsmanager.Secret),
      app: logicalId(stack, appUser),
      dbAdmin: logicalId(stack, dbAdmin),
    },
  };
}

/** Fixture addresses for the rendered servers. */
export function pairServers(pair: ReplicatedPair): TaskOptions['servers'] {
  return {
    [WRITER_HOST]: { host: pair.primary.host, port: pair.primary.port },
    [READER_HOST]: { host: pair.replica.host, port: pair.replica.port },
  };
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
}

/** Secret values for a stack: generated-looking ones unless a test gives its own. */
export function secretValues(
  s: DataplaneStack, pair: ReplicatedPair, given: { admin?: Credentials; monitor?: Credentials; app?: Credentials } = {},
): TaskSecrets {
  const suffix = `${process.pid}${Math.random().toString(36).slice(2, 8)}`;
  return {
    [s.ids.admin]: { ...(given.admin ?? { username: 'proxysql_admin', password: `Adm1n${suffix}` }) },
    [s.ids.monitor]: { ...(given.monitor ?? { username: `mon_${suffix}`, password: `M0nitor${suffix}` }) },
    [s.ids.app]: { ...(given.app ?? { username: `app_${suffix}`, password: `App${suffix}`, dbname: `appdb_${suffix}` }) },
    [s.ids.dbAdmin]: { username: pair.admin.user, password: pair.admin.password },
  };
}

/**
 * The fields a generated secret starts with: its `SecretStringTemplate` from the synthesized
 * template, evaluated with `refs` (logical id → value, e.g. another secret's ARN on the stand-in).
 */
export function generatedTemplate(template: Record<string, any>, secretId: string, refs: Record<string, string> = {}): Record<string, unknown> {
  const secret = template.Resources[secretId];
  if (secret?.Type !== 'AWS::SecretsManager::Secret') throw new Error(`${secretId} is not a secret of the template`);
  const text = evaluateCfn(secret.Properties.GenerateSecretString.SecretStringTemplate, (ref) => refs[ref]);
  return JSON.parse(String(text));
}

/**
 * Run the real bootstrap handler with the custom resource's synthesized properties (the writer's
 * address → the fixture) against the pair's writer, as CloudFormation would on Create.
 */
export async function runBootstrap(s: DataplaneStack, pair: ReplicatedPair, secrets: TaskSecrets): Promise<string[]> {
  const resources = s.template.Resources as Record<string, { Type: string; Properties: Record<string, CfnValue> }>;
  const found = Object.values(resources).filter((r) => r.Type === 'Custom::ProxySqlDatabaseBootstrap');
  if (found.length !== 1) throw new Error(`expected one bootstrap resource, found ${found.length}`);
  const arnPrefix = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:';
  const props = evaluateCfn(found[0].Properties, (ref) =>
    resources[ref]?.Type === 'AWS::SecretsManager::Secret' ? `${arnPrefix}${ref}-AbCdEf` : (ref.endsWith('.Arn') ? `arn:aws:lambda:us-east-1:111111111111:function:${ref}` : undefined),
  ) as unknown as BootstrapProperties;
  const writer = pair.writer();
  const lines: string[] = [];
  const handler = makeHandler({
    fetchCredentials: async (arn: string): Promise<DatabaseCredentials> => {
      const id = arn.slice(arnPrefix.length).replace(/-AbCdEf$/, '');
      if (!secrets[id]) throw new Error(`no test value for secret ${id}`);
      return secrets[id] as unknown as DatabaseCredentials;
    },
    log: (l) => lines.push(l),
    remainingMs: () => 120_000,
  });
  const event: CloudFormationCustomResourceCreateEvent = {
    RequestType: 'Create',
    ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/dataplane/1',
    RequestId: 'dataplane',
    LogicalResourceId: 'Bootstrap',
    ResourceType: 'Custom::ProxySqlDatabaseBootstrap',
    ResourceProperties: { ...(props as unknown as Record<string, string>), ServiceToken: 'x', WriterHost: writer.host, Port: String(writer.port) },
  };
  await handler(event);
  await pair.sync();
  return lines;
}

/** Bootstrap the database, then start the task: the deployment order CloudFormation follows. */
export async function deployTask(
  s: DataplaneStack, pair: ReplicatedPair, secrets: TaskSecrets, extra: Partial<TaskOptions> = {},
): Promise<ProxySqlTask> {
  await runBootstrap(s, pair, secrets);
  return startTask({ template: s.template, secrets, servers: pairServers(pair), ...extra });
}

/**
 * Run `statements` on the writer directly (as the fixture's admin, in `database`: the bootstrap's
 * application database), then wait until the replica has them, so that reads through the proxy see them.
 */
export async function onWriter(pair: ReplicatedPair, database: string, statements: string[]): Promise<void> {
  const direct = await mysql.createConnection({ host: pair.primary.host, port: pair.primary.port, ...pair.admin, database });
  try {
    for (const sql of statements) await direct.query(sql);
  } finally {
    await direct.end();
  }
  await pair.sync();
}

/** Poll until `check` returns a value (not undefined), or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
