import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraBackend, ProxySqlFargate, ProxySqlFargateProps, ProxySqlUser } from '../src';

interface Built {
  readonly stack: Stack;
  readonly proxy: ProxySqlFargate;
  readonly db: AuroraBackend;
  readonly template: Template;
}

function build(extra: Partial<ProxySqlFargateProps> = {}, more?: (stack: Stack) => Partial<ProxySqlFargateProps>): Built {
  const stack = new Stack(new App(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Db', { vpc });
  const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, ...extra, ...more?.(stack) });
  return { stack, proxy, db, template: Template.fromStack(stack) };
}

type Container = {
  Name: string;
  Essential?: boolean;
  Image: unknown;
  EntryPoint?: string[];
  Command?: unknown[];
  Environment?: Array<{ Name: string; Value: unknown }>;
  Secrets?: unknown[];
  MountPoints?: unknown[];
  Memory?: number;
};

function containers(b: Built): Container[] {
  const [td] = Object.values(b.template.findResources('AWS::ECS::TaskDefinition'));
  return td.Properties.ContainerDefinitions as Container[];
}

function container(b: Built, name: string): Container | undefined {
  return containers(b).find((c) => c.Name === name);
}

function env(c: Container, name: string): unknown {
  return c.Environment?.find((e) => e.Name === name)?.Value;
}

function ref(b: Built, secret: secretsmanager.ISecret): unknown {
  return b.stack.resolve(secret.secretArn);
}

/** The statements of the task role's policy that act on Secrets Manager or KMS. */
function taskRoleStatements(b: Built): Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  const roleId = b.stack.getLogicalId(b.proxy.taskDefinition.taskRole.node.defaultChild as ecs.CfnTaskDefinition);
  const policies = Object.values(b.template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`));
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement)
    .filter((s: { Action: string | string[] }) => [s.Action].flat().some((a) => /^(secretsmanager|kms):/.test(a)));
}

describe('live credentials', () => {
  test('GIVEN defaults THEN a non-essential AWS CLI sidecar polls the user and monitor secrets every 20 s into a task volume that ProxySQL reads', () => {
    const b = build();
    const side = container(b, 'credentials')!;
    expect(side).toBeDefined();
    expect(side.Essential).toBe(false);
    expect(side.Image).toBe('public.ecr.aws/aws-cli/aws-cli:2.15.62');
    expect(side.EntryPoint).toEqual(['sh', '-c']);
    expect(String(side.Command![0])).toContain('aws secretsmanager describe-secret');
    expect(side.Secrets).toBeUndefined();
    expect(side.Memory).toBe(128);
    expect(env(side, 'PROXYSQL_CREDENTIALS_INTERVAL')).toBe('20');
    expect(env(side, 'PROXYSQL_CREDENTIALS_DIR')).toBe('/run/proxysql-credentials');
    expect(b.stack.resolve(env(side, 'PROXYSQL_CREDENTIALS_SECRETS'))).toEqual({
      'Fn::Join': [' ', [
        { 'Fn::Join': ['=', ['user0', ref(b, b.db.appUserSecret)]] },
        { 'Fn::Join': ['=', ['monitor', ref(b, b.proxy.monitorSecret)]] },
      ]],
    });
    expect(side.MountPoints).toEqual([{ ContainerPath: '/run/proxysql-credentials', ReadOnly: false, SourceVolume: 'credentials' }]);
    const main = container(b, 'proxysql')!;
    expect(main.MountPoints).toContainEqual({ ContainerPath: '/run/proxysql-credentials', ReadOnly: true, SourceVolume: 'credentials' });
    expect(env(main, 'PROXYSQL_CREDENTIALS_DIR')).toBe('/run/proxysql-credentials');
    expect(env(main, 'PROXYSQL_CREDENTIALS_NAMES')).toBe('user0 monitor');
    // The rows the live update finds by their comment.
    expect(JSON.stringify(b.stack.resolve(env(main, 'PROXYSQL_CONFIG_TEMPLATE')))).toContain('comment=\\"cdk-proxysql:user0\\"');
    b.template.hasResourceProperties('AWS::ECS::TaskDefinition', { Volumes: [{ Name: 'credentials' }] });
  });

  test('the task role may read exactly the user and monitor secrets (not the admin secret), with GetSecretValue and DescribeSecret only', () => {
    const b = build();
    const statements = taskRoleStatements(b);
    expect(statements).toHaveLength(2);
    const resources = statements.map((s) => JSON.stringify(s.Resource)).sort();
    expect(resources).toEqual([JSON.stringify(ref(b, b.db.appUserSecret)), JSON.stringify(ref(b, b.proxy.monitorSecret))].sort());
    for (const s of statements) expect([s.Action].flat().sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(JSON.stringify(statements)).not.toContain(JSON.stringify(ref(b, b.proxy.adminSecret)));
  });

  test('a user secret with its own KMS key: the task role may decrypt with that key, through Secrets Manager only', () => {
    let key: kms.Key | undefined;
    const b = build({}, (stack) => {
      key = new kms.Key(stack, 'UserKey');
      const secret = new secretsmanager.Secret(stack, 'Reporting', { encryptionKey: key });
      return { users: [ProxySqlUser.fromSecret(secret)] };
    });
    // A key in the same stack grants in its key policy (CDK's `grantDecrypt` through Secrets Manager).
    const keyId = b.stack.getLogicalId(key!.node.defaultChild as kms.CfnKey);
    const roleArn = b.stack.resolve(b.proxy.taskDefinition.taskRole.roleArn);
    type KeyStatement = { Action: unknown; Principal: { AWS: unknown }; Condition?: unknown };
    const statements = b.template.toJSON().Resources[keyId].Properties.KeyPolicy.Statement as KeyStatement[];
    const forTasks = statements.filter((st) => JSON.stringify(st.Principal.AWS) === JSON.stringify(roleArn));
    expect(forTasks).toHaveLength(1);
    expect(forTasks[0].Action).toBe('kms:Decrypt');
    expect(JSON.stringify(forTasks[0].Condition)).toContain('kms:ViaService');
    expect(env(container(b, 'proxysql')!, 'PROXYSQL_CREDENTIALS_NAMES')).toBe('user0 monitor');
  });

  test('GIVEN liveCredentials false THEN no sidecar, no volume, no secret permission on the task role', () => {
    const b = build({ liveCredentials: false });
    expect(container(b, 'credentials')).toBeUndefined();
    expect(b.proxy.credentialsContainer).toBeUndefined();
    expect(taskRoleStatements(b)).toHaveLength(0);
    expect(env(container(b, 'proxysql')!, 'PROXYSQL_CREDENTIALS_DIR')).toBeUndefined();
  });

  test('credentialsRefreshInterval and credentialsImage are used', () => {
    const b = build({ credentialsRefreshInterval: Duration.minutes(2), credentialsImage: ecs.ContainerImage.fromRegistry('example.com/aws-cli:2') });
    expect(env(b.proxy.credentialsContainer ? container(b, 'credentials')! : ({} as Container), 'PROXYSQL_CREDENTIALS_INTERVAL')).toBe('120');
    expect(container(b, 'credentials')!.Image).toBe('example.com/aws-cli:2');
  });

  test.each([
    [Duration.seconds(4), 'ProxySqlFargate: credentialsRefreshInterval must be whole seconds from 5 to 3600 (got 4 s)'],
    [Duration.millis(5500), 'ProxySqlFargate: credentialsRefreshInterval must be whole seconds from 5 to 3600 (got 5.5 s)'],
    [Duration.hours(2), 'ProxySqlFargate: credentialsRefreshInterval must be whole seconds from 5 to 3600 (got 7200 s)'],
  ])('credentialsRefreshInterval %s is refused', (interval, message) => {
    expect(() => build({ credentialsRefreshInterval: interval })).toThrow(message);
  });

  test('a token interval is refused by name', () => {
    expect(() => build({}, (stack) => ({ credentialsRefreshInterval: Duration.seconds(new CfnParameter(stack, 'S', { type: 'Number' }).valueAsNumber) })))
      .toThrow(/ProxySqlFargate: credentialsRefreshInterval must be a concrete duration, not a token/);
  });

  test('an interval with liveCredentials false is refused (it would do nothing)', () => {
    expect(() => build({ liveCredentials: false, credentialsRefreshInterval: Duration.seconds(30) }))
      .toThrow('ProxySqlFargate: credentialsRefreshInterval has no effect with liveCredentials: false (remove one of them) (got Duration.seconds(30))');
  });
});
