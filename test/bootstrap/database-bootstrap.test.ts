import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DatabaseBootstrap, DatabaseBootstrapProps } from '../../src/bootstrap/database-bootstrap';

function fixture(overrides: Partial<DatabaseBootstrapProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const dbSg = new ec2.SecurityGroup(stack, 'DbSg', { vpc });
  const db = new ec2.CfnInstance(stack, 'FakeDbInstance', { imageId: 'ami-12345678' }); // stands in for a DB instance
  const admin = new secretsmanager.Secret(stack, 'Admin');
  const monitor = new secretsmanager.Secret(stack, 'Monitor');
  const app1 = new secretsmanager.Secret(stack, 'App1');
  const unrelated = new secretsmanager.Secret(stack, 'Unrelated');
  const bootstrap = new DatabaseBootstrap(stack, 'Bootstrap', {
    vpc,
    writerHost: 'writer.example.internal',
    port: 3306,
    adminSecret: admin,
    monitorSecret: monitor,
    monitorPrivileges: 'aurora',
    users: [{ secret: app1, database: 'shop', grants: ['SELECT', 'INSERT'] }],
    backendConnections: new ec2.Connections({ securityGroups: [dbSg] }),
    dependencies: [db],
    ...overrides,
  });
  return { stack, vpc, dbSg, db, admin, monitor, app1, unrelated, bootstrap, template: Template.fromStack(stack) };
}

const ref = (stack: Stack, c: { node: { defaultChild?: unknown } } | object) =>
  stack.getLogicalId(((c as { node: { defaultChild: unknown } }).node.defaultChild ?? c) as never);

describe('DatabaseBootstrap', () => {
  test('the function runs in the VPC private subnets with its own security group', () => {
    const { stack, bootstrap, template } = fixture();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Creates the ProxySQL monitor and application users from their secrets',
      Timeout: 600,
      VpcConfig: {
        SecurityGroupIds: [{ 'Fn::GetAtt': [ref(stack, bootstrap.securityGroup), 'GroupId'] }],
        SubnetIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') }]),
      },
    });
  });

  test('the backend admits the function security group on the database port, and only that', () => {
    const { stack, bootstrap, dbSg, template } = fixture();
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 3306,
      ToPort: 3306,
      GroupId: { 'Fn::GetAtt': [ref(stack, dbSg), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [ref(stack, bootstrap.securityGroup), 'GroupId'] },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'ProxySQL database bootstrap function',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: 'Secrets Manager API' }],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [ref(stack, bootstrap.securityGroup), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [ref(stack, dbSg), 'GroupId'] },
      FromPort: 3306,
      ToPort: 3306,
    });
  });

  test('without backend connections the function may reach any address on the database port', () => {
    const { template } = fixture({ backendConnections: undefined, port: 3307 });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'ProxySQL database bootstrap function',
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 3307, ToPort: 3307 })]),
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('GetSecretValue is granted on exactly the admin, monitor and user secrets', () => {
    const { stack, admin, monitor, app1, unrelated, bootstrap, template } = fixture();
    const fnRole = ref(stack, bootstrap.function.role!);
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: fnRole }] },
    });
    type Policy = { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } } };
    const statements = Object.values(policies).flatMap((p) => (p as Policy).Properties.PolicyDocument.Statement);
    const secretReads = statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    const resources = secretReads.map((s) => s.Resource);
    expect(resources).toEqual([admin, monitor, app1].map((s) => ({ Ref: ref(stack, s) })));
    expect(JSON.stringify(policies)).not.toContain(ref(stack, unrelated));
    // No other role can read them.
    const allPolicies = template.findResources('AWS::IAM::Policy');
    for (const [id, p] of Object.entries(allPolicies)) {
      if (policies[id]) continue;
      expect(JSON.stringify(p)).not.toContain('secretsmanager:GetSecretValue');
    }
  });

  test('the custom resource depends on the given dependables and carries no secret value', () => {
    const { stack, db, admin, template } = fixture();
    const resources = template.findResources('Custom::ProxySqlDatabaseBootstrap');
    const [id, resource] = Object.entries(resources)[0] as [string, { DependsOn: string[]; Properties: Record<string, unknown> }];
    expect(id).toMatch(/^Bootstrap/);
    expect(resource.DependsOn).toEqual(expect.arrayContaining([ref(stack, db)]));
    expect(resource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/ProviderframeworkonEvent/), 'Arn'] },
      WriterHost: 'writer.example.internal',
      Port: 3306,
      AdminSecretArn: { Ref: ref(stack, admin) },
      MonitorSecretArn: { Ref: expect.any(String) },
      MonitorPrivileges: 'aurora',
      Users: [{ SecretArn: { Ref: expect.any(String) }, Database: 'shop', Grants: ['SELECT', 'INSERT'] }],
      DropUsersOnDelete: false,
      Tls: false,
      ConfigHash: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    // ARNs only: no dynamic reference that would resolve a secret value into the event.
    expect(JSON.stringify(resource.Properties)).not.toContain('resolve:secretsmanager');
  });

  test('the config hash changes with any input and with rerunToken, and only then', () => {
    const hash = (o: Partial<DatabaseBootstrapProps>) =>
      Object.values(fixture(o).template.findResources('Custom::ProxySqlDatabaseBootstrap'))[0].Properties.ConfigHash;
    const base = hash({});
    expect(hash({})).toBe(base);
    expect(hash({ rerunToken: '2' })).not.toBe(base);
    expect(hash({ monitorPrivileges: 'replication' })).not.toBe(base);
    expect(hash({ dropUsersOnDelete: true })).not.toBe(base);
  });

  test.each([
    [{ port: 0 }, 'DatabaseBootstrap: port must be an integer from 1 to 65535 (got 0)'],
    [{ writerHost: ' ' }, 'DatabaseBootstrap: writerHost must not be empty (got " ")'],
    [{ monitorPrivileges: 'all' as never }, 'DatabaseBootstrap: monitorPrivileges must be one of basic, replication, aurora (got "all")'],
  ])('bad props are named: %j', (overrides, message) => {
    expect(() => fixture(overrides)).toThrow(message);
  });

  test('bad user database names and grants are named', () => {
    const secretOf = (stack: Stack) => new secretsmanager.Secret(stack, 'X');
    const app = new App();
    const stack = new Stack(app, 'S');
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const base = { vpc, writerHost: 'h', port: 3306, adminSecret: secretOf(stack), monitorSecret: secretOf(new Stack(app, 'S2')), monitorPrivileges: 'basic' as const };
    const appSecret = secretOf(new Stack(app, 'S3'));
    expect(() => new DatabaseBootstrap(stack, 'A', { ...base, users: [{ secret: appSecret, database: 'my-db' }] }))
      .toThrow('DatabaseBootstrap: users[0].database must match /^[A-Za-z0-9_$]{1,64}$/ (got "my-db")');
    expect(() => new DatabaseBootstrap(stack, 'B', { ...base, users: [{ secret: appSecret, grants: ['SUPER'] }] }))
      .toThrow(/^DatabaseBootstrap: users\[0\]\.grants must be database-level privileges .* \(got "SUPER"\)$/);
    expect(() => new DatabaseBootstrap(stack, 'C', { ...base, users: [{ secret: appSecret, database: 'cdk_proxysql' }] }))
      .toThrow('DatabaseBootstrap: users[0].database must not be cdk_proxysql, which holds the bootstrap\'s grant record (got "cdk_proxysql")');
  });

  test('the admin secret is refused as an application or monitor user: the same object or the same ARN', () => {
    const { stack, vpc, admin, monitor, app1 } = fixture();
    const base = { vpc, writerHost: 'h', port: 3306, adminSecret: admin, monitorSecret: monitor, monitorPrivileges: 'basic' as const };
    expect(() => new DatabaseBootstrap(stack, 'SameObject', { ...base, users: [{ secret: app1 }, { secret: admin }] }))
      .toThrow(/^DatabaseBootstrap: users\[1\]\.secret must not be the adminSecret: the bootstrap signs in with it and must not manage that user's own password and privileges; give the application user a secret of its own \(got the secret at Stack\/Admin\)$/);
    const masterArn = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:orders/master-AbCdEf';
    const importedAdmin = secretsmanager.Secret.fromSecretCompleteArn(stack, 'ImportedAdmin', masterArn);
    const sameAgain = secretsmanager.Secret.fromSecretCompleteArn(stack, 'SameAgain', masterArn);
    expect(() => new DatabaseBootstrap(stack, 'SameArn', { ...base, adminSecret: importedAdmin, users: [{ secret: sameAgain }] }))
      .toThrow(`DatabaseBootstrap: users[0].secret must not be the adminSecret: the bootstrap signs in with it and must not manage that user's own password and privileges; give the application user a secret of its own (got secret ${masterArn})`);
    expect(() => new DatabaseBootstrap(stack, 'AdminAsMonitor', { ...base, monitorSecret: admin, users: [{ secret: app1 }] }))
      .toThrow(/^DatabaseBootstrap: monitorSecret must not be the adminSecret: .* give the monitor user a secret of its own \(got the secret at Stack\/Admin\)$/);
  });

  test('cdk-nag AwsSolutions: nothing is left on the bootstrap; what it acknowledges is exactly this, per resource', () => {
    const { stack } = fixture();
    const report = new AwsSolutionsChecks().validateScope(stack);
    const left = report.violations.flatMap((v) => v.violatingResources.filter((r) => /Bootstrap/.test(r.constructPath ?? '')));
    expect(left).toEqual([]);
    // IAM4: AWS managed Lambda execution policies (logs; VPC ENIs). IAM5: the framework may invoke any
    // version of our function. L1: the Provider framework's own runtime, which aws-cdk-lib picks.
    const acknowledged = stack.node.findAll()
      .flatMap((c) => c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data).map((id) => `${id} ${c.node.path}`)))
      .sort();
    expect(acknowledged).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole] Stack/Bootstrap/Function/ServiceRole/Resource',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole] Stack/Bootstrap/Provider/framework-onEvent/ServiceRole/Resource',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole] Stack/Bootstrap/Function/ServiceRole/Resource',
      'AwsSolutions-IAM5[Resource::<BootstrapFunctionD62F3ADB.Arn>:*] Stack/Bootstrap/Provider/framework-onEvent/ServiceRole/DefaultPolicy/Resource',
      'AwsSolutions-L1 Stack/Bootstrap/Provider/framework-onEvent/Resource',
    ]);
  });
});
