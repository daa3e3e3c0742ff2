/**
 * `monitorRotation` in the template: the generated monitor secret carries what Secrets Manager's
 * alternating-users function for MySQL reads, the schedule calls that function (no gate: the
 * previous monitor user stays valid until the next rotation), the function may reach the writer,
 * and the tasks, the bootstrap and the credentials sidecar use the rotating secret. The tasks
 * following a monitor rotation against a real ProxySQL is test/dataplane/rotation.test.ts.
 */
import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AppUserRotation, AuroraBackend, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps,
} from '../src';
import { SAFE_SECRET_EXCLUDED_CHARACTERS } from '../src/private/secrets';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

function build(proxy: Partial<ProxySqlFargateProps> = { monitorRotation: {} }, opts: { proxyStack?: boolean } = {}) {
  const app = new App();
  const stack = new Stack(app, 'Db');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Aurora', { vpc });
  const proxyStack = opts.proxyStack ? new Stack(app, 'Proxies') : stack;
  const p = new ProxySqlFargate(proxyStack, 'Proxy', { vpc, backend: db, ...proxy });
  return { app, stack, proxyStack, vpc, db, proxy: p };
}

function resources(stack: Stack, type: string): Array<[string, Resource]> {
  return Object.entries(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
}

function logicalId(stack: Stack, secret: secretsmanager.ISecret): string {
  return stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret);
}

/** The secret string template with the tokens filled in as CloudFormation would (GetAtt/Ref → a marker). */
function secretTemplate(stack: Stack, secret: secretsmanager.ISecret): Record<string, unknown> {
  const raw = (secret.node.defaultChild as secretsmanager.CfnSecret).generateSecretString as secretsmanager.CfnSecret.GenerateSecretStringProperty;
  const resolved = stack.resolve(raw.secretStringTemplate);
  const text = typeof resolved === 'string' ? resolved
    : (resolved['Fn::Join'][1] as unknown[]).map((p) => {
      if (typeof p === 'string') return p;
      const o = p as Record<string, any>;
      return o.Ref ? `<Ref ${o.Ref}>` : o['Fn::GetAtt'][1] === 'Endpoint.Port' ? '3306' : `<${o['Fn::GetAtt'].join('.')}>`;
    }).join('');
  return JSON.parse(text);
}

describe('monitorRotation: the generated monitor secret rotates with alternating users', () => {
  const { stack, db, proxy } = build();
  const monitorId = logicalId(stack, proxy.monitorSecret);
  const [[appId, application]] = resources(stack, 'AWS::Serverless::Application');

  test('the secret holds what the multi-user function reads, and starts at the second user', () => {
    const clusterId = stack.getLogicalId(db.cluster.node.defaultChild as any);
    const masterId = stack.resolve(db.masterSecret.secretArn).Ref;
    expect(monitorId).toMatch(/^ProxyRotatingMonitorSecret[0-9A-F]{8}$/);
    expect(secretTemplate(stack, proxy.monitorSecret)).toEqual({
      username: 'proxysql_monitor_clone',
      engine: 'mysql',
      host: `<${clusterId}.Endpoint.Address>`,
      port: 3306,
      masterarn: `<Ref ${masterId}>`,
    });
    const cfn = proxy.monitorSecret.node.defaultChild as secretsmanager.CfnSecret;
    const gen = cfn.generateSecretString as secretsmanager.CfnSecret.GenerateSecretStringProperty;
    expect(gen.excludeCharacters).toBe(SAFE_SECRET_EXCLUDED_CHARACTERS);
    expect(resources(stack, 'AWS::SecretsManager::Secret').map(([id]) => id)).not.toContainEqual(expect.stringMatching(/^ProxyMonitorSecret/));
  });

  test('the schedule calls Secrets Manager\'s multi-user function for MySQL every 30 days, with no gate, signing in with the master secret', () => {
    const schedules = resources(stack, 'AWS::SecretsManager::RotationSchedule').filter(([, r]) => r.Properties.SecretId.Ref === monitorId);
    expect(schedules).toHaveLength(1);
    expect(schedules[0][1].Properties).toEqual({
      SecretId: { Ref: monitorId },
      RotationLambdaARN: { 'Fn::GetAtt': [appId, 'Outputs.RotationLambdaARN'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    const mapping = Template.fromStack(stack).toJSON().Mappings[application.Properties.Location.ApplicationId['Fn::FindInMap'][0]];
    expect(mapping.aws.applicationId).toBe(secretsmanager.SecretRotationApplication.MYSQL_ROTATION_MULTI_USER.applicationArnForPartition('aws'));
    expect(application.Properties.Parameters.masterSecretArn).toEqual(stack.resolve(db.masterSecret.secretArn));
    expect(application.Properties.Parameters.excludeCharacters).toBe(SAFE_SECRET_EXCLUDED_CHARACTERS);
    expect(proxy.monitorRotation).toBeInstanceOf(secretsmanager.SecretRotation);
  });

  test('the function runs in the tasks\' subnets and may reach the writer on its port, and nothing else is opened to it', () => {
    const service = resources(stack, 'AWS::ECS::Service')[0][1];
    const taskSubnets = service.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets;
    const joined = application.Properties.Parameters.vpcSubnetIds['Fn::Join'][1] as unknown[];
    expect(joined.filter((p) => p !== ',')).toEqual(taskSubnets);
    const sgId = application.Properties.Parameters.vpcSecurityGroupIds['Fn::GetAtt'][0];
    expect(sgId).toMatch(/^ProxyMonitorRotationSecurityGroup[0-9A-F]{8}$/);
    const rules = resources(stack, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes(sgId));
    const clusterId = stack.getLogicalId(db.cluster.node.defaultChild as any);
    expect(rules.map(([, r]) => [r.Properties.GroupId, r.Properties.FromPort, r.Properties.ToPort])).toEqual([[
      stack.resolve(db.connections.securityGroups[0].securityGroupId),
      { 'Fn::GetAtt': [clusterId, 'Endpoint.Port'] },
      { 'Fn::GetAtt': [clusterId, 'Endpoint.Port'] },
    ]]);
    // Nothing lets the function into the proxy (the monitor has no gate).
    expect(resources(stack, 'AWS::SSM::Parameter')).toHaveLength(0);
  });

  test('the bootstrap creates the user of the rotating secret, and the tasks and the sidecar read that secret', () => {
    const [[, bootstrap]] = resources(stack, 'Custom::ProxySqlDatabaseBootstrap');
    expect(bootstrap.Properties.MonitorSecretArn).toEqual({ Ref: monitorId });
    const [[, td]] = resources(stack, 'AWS::ECS::TaskDefinition');
    const text = JSON.stringify(td.Properties.ContainerDefinitions);
    expect(text).toContain(`"Ref":"${monitorId}"`);
    const sidecar = td.Properties.ContainerDefinitions.find((c: { Name: string }) => c.Name === 'credentials');
    expect(JSON.stringify(sidecar.Environment)).toContain(`"Ref":"${monitorId}"`);
    const roleId = stack.getLogicalId(proxy.taskDefinition.taskRole.node.defaultChild as any);
    const statements = resources(stack, 'AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`))
      .flatMap(([, r]) => r.Properties.PolicyDocument.Statement).filter((s: { Action: string[] }) => JSON.stringify(s.Action).includes('secretsmanager'));
    expect(statements.flatMap((s: { Resource: unknown }) => [s.Resource].flat())).toContainEqual({ Ref: monitorId });
  });

  test('the rotating monitor secret carries no SMG4 acknowledgment; the admin secret keeps its own', () => {
    const acks = (id: string) => JSON.stringify((Template.fromStack(stack).toJSON().Resources[id] as any).Metadata ?? {});
    const meta = (secret: secretsmanager.ISecret) => secret.node.defaultChild!.node.metadata.map((m) => JSON.stringify(m.data)).join();
    expect(meta(proxy.monitorSecret)).not.toContain('AwsSolutions-SMG4');
    expect(meta(proxy.adminSecret)).toContain('AwsSolutions-SMG4');
    expect(acks(monitorId)).not.toContain('SMG4');
  });
});

describe('monitorRotation options and neighbours', () => {
  test('GIVEN no monitorRotation THEN the monitor secret is the plain generated one, with no schedule', () => {
    const { stack, proxy } = build({});
    expect(logicalId(stack, proxy.monitorSecret)).toMatch(/^ProxyMonitorSecret[0-9A-F]{8}$/);
    expect(secretTemplate(stack, proxy.monitorSecret)).toEqual({ username: 'proxysql_monitor' });
    expect(resources(stack, 'AWS::SecretsManager::RotationSchedule')).toHaveLength(0);
    expect(proxy.monitorRotation).toBeUndefined();
  });

  test('GIVEN automaticallyAfter and vpcSubnets THEN the schedule and the function follow them', () => {
    const vpcSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true };
    const { stack, vpc } = build({ monitorRotation: { automaticallyAfter: Duration.days(7), vpcSubnets } });
    const [[, schedule]] = resources(stack, 'AWS::SecretsManager::RotationSchedule');
    expect(schedule.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(7 days)' });
    const [[, application]] = resources(stack, 'AWS::Serverless::Application');
    expect(application.Properties.Parameters.vpcSubnetIds).toEqual(stack.resolve(vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds.join(',')));
  });

  test('GIVEN the database in another stack THEN the app synthesizes: the rule into the database lives in the proxy\'s stack', () => {
    const { app, stack, proxyStack } = build({ monitorRotation: {} }, { proxyStack: true });
    expect(() => app.synth()).not.toThrow();
    expect(proxyStack.dependencies.map((s) => s.stackName)).toEqual(['Db']);
    expect(stack.dependencies).toEqual([]);
    const rules = (s: Stack) => resources(s, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => r.Properties.Description === 'ProxySQL monitor secret rotation');
    expect(rules(proxyStack)).toHaveLength(1);
    expect(rules(stack)).toHaveLength(0);
  });

  test('GIVEN the application secret rotating too THEN each secret has its own schedule, and only the application secret has a gate', () => {
    const app = new App();
    const stack = new Stack(app, 'Both');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Aurora', { vpc, appUserRotation: AppUserRotation.alternatingUsers() });
    const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, monitorRotation: {} });
    const schedules = resources(stack, 'AWS::SecretsManager::RotationSchedule');
    const byId = new Map(schedules.map(([, r]) => [r.Properties.SecretId.Ref, r.Properties.RotationLambdaARN]));
    expect(byId.get(logicalId(stack, proxy.monitorSecret))['Fn::GetAtt'][1]).toBe('Outputs.RotationLambdaARN');
    expect(byId.get(stack.resolve(db.appUserSecret.secretArn).Ref)).toEqual(stack.resolve(db.rotationGateFunction!.functionArn));
  });

  test('GIVEN a backend with no security group THEN synth warns to admit the rotation function', () => {
    const stack = new Stack(new App(), 'Plain');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.internal', port: 3306 },
      adminSecret: new secretsmanager.Secret(stack, 'DbAdmin'),
      appUserSecrets: [new secretsmanager.Secret(stack, 'App')],
    });
    new ProxySqlFargate(stack, 'Proxy', { vpc, backend, monitorRotation: {} });
    Annotations.fromStack(stack).hasWarning('/Plain/Proxy', Match.stringLikeRegexp(
      "monitorRotation: the backend has no security group this app can change: admit the rotation function's security group \\(Plain/Proxy/MonitorRotationSecurityGroup\\)"));
  });

  test.each([
    ['a monitorSecret of your own', (s: Stack) => ({ monitorSecret: new secretsmanager.Secret(s, 'Mine') }),
      'ProxySqlFargate: monitorRotation rotates the generated monitor secret: with your own monitorSecret, attach a rotation to that secret instead (the tasks follow it live), or leave monitorSecret unset (got a monitorSecret)'],
    ['bootstrap: false', () => ({ bootstrap: false }),
      'ProxySqlFargate: monitorRotation needs the bootstrap, which creates the first monitor user (the rotation creates the second one from its grants) (got bootstrap: false)'],
    ['liveCredentials: false', () => ({ liveCredentials: false }),
      'ProxySqlFargate: monitorRotation needs liveCredentials: the tasks must switch to each new monitor user before the following rotation changes the password of the one they use (got liveCredentials: false)'],
  ])('GIVEN monitorRotation with %s THEN refused, naming the prop', (_, extra, message) => {
    const stack = new Stack(new App(), 'Bad');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Aurora', { vpc });
    expect(() => new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, monitorRotation: {}, ...extra(stack) })).toThrow(message);
  });

  test.each([
    [Duration.hours(1), '1 hour'],
    [Duration.days(1001), '1001 days'],
  ])('GIVEN automaticallyAfter %s THEN refused with the range', (interval, got) => {
    expect(() => build({ monitorRotation: { automaticallyAfter: interval } })).toThrow(
      `ProxySqlFargate: monitorRotation.automaticallyAfter must be from 4 hours to 1000 days (the range of a Secrets Manager rotation schedule) (got ${got})`);
    expect(() => AppUserRotation.alternatingUsers({ automaticallyAfter: interval })).toThrow(
      `AppUserRotation: automaticallyAfter must be from 4 hours to 1000 days (the range of a Secrets Manager rotation schedule) (got ${got})`);
  });

  test('GIVEN the bounds of the range THEN accepted', () => {
    expect(() => build({ monitorRotation: { automaticallyAfter: Duration.hours(4) } })).not.toThrow();
    expect(() => build({ monitorRotation: { automaticallyAfter: Duration.days(1000) } })).not.toThrow();
    expect(() => AppUserRotation.singleUser({ automaticallyAfter: Duration.hours(4) })).not.toThrow();
  });

  test('GIVEN a token automaticallyAfter THEN refused by name', () => {
    const days = Token.asNumber({ Ref: 'Days' });
    expect(() => build({ monitorRotation: { automaticallyAfter: Duration.days(days) } })).toThrow(
      'ProxySqlFargate: monitorRotation.automaticallyAfter must be a concrete duration, not a token: the rotation schedule is written at synth time (got a token)');
    expect(() => AppUserRotation.alternatingUsers({ automaticallyAfter: Duration.days(days) })).toThrow(
      'AppUserRotation: automaticallyAfter must be a concrete duration, not a token');
  });

  test('GIVEN vpcSubnets with public subnets THEN refused: a Lambda function cannot use them', () => {
    expect(() => build({ monitorRotation: { vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } } })).toThrow(
      'ProxySqlFargate: monitorRotation.vpcSubnets must select private subnets: the rotation function is a Lambda function, which cannot use public subnets (got a selection with public subnets)');
  });
});
