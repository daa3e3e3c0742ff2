/**
 * The rotation gate in the template: AuroraBackend's alternating-users rotation calls the gate,
 * the gate may do exactly what it needs, and each ProxySqlFargate serving the secret registers
 * itself (an SSM parameter the gate reads) and lets the gate in. The gate's behaviour against a real
 * ProxySQL is in test/dataplane/rotation.test.ts; its step logic in test/rotation-gate/gate.test.ts.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AppUserRotation, AuroraBackend, AuroraBackendProps, ProxySqlFargate, ProxySqlFargateProps } from '../src';
import { MAX_GATED_REFRESH_SECONDS } from '../src/fargate/rotation-gates';
import { parseTarget } from '../src/rotation-gate/gate';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

function build(opts: { db?: Partial<AuroraBackendProps>; proxy?: Partial<ProxySqlFargateProps>; proxies?: number; proxyStack?: boolean } = {}) {
  const app = new App();
  const stack = new Stack(app, 'Db');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Aurora', { vpc, appUserRotation: AppUserRotation.alternatingUsers(), ...opts.db });
  const proxyStack = opts.proxyStack ? new Stack(app, 'Proxies') : stack;
  const proxies = Array.from({ length: opts.proxies ?? 1 }, (_, i) =>
    new ProxySqlFargate(proxyStack, `Proxy${i}`, { vpc, backend: db, ...opts.proxy }));
  return { app, stack, proxyStack, db, proxies };
}

function resources(stack: Stack, type: string): Array<[string, Resource]> {
  return Object.entries(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
}

describe('AuroraBackend alternating users: the rotation waits for the proxies', () => {
  const { stack, db, proxies } = build();
  const gateId = stack.getLogicalId(db.rotationGateFunction!.node.defaultChild as any);
  const gateFn = resources(stack, 'AWS::Lambda::Function').find(([id]) => id === gateId)![1];

  test('the schedule calls the gate, which wraps Secrets Manager\'s multi-user function, after the gate may be invoked', () => {
    const [[, schedule]] = resources(stack, 'AWS::SecretsManager::RotationSchedule');
    expect(schedule.Properties.RotationLambdaARN).toEqual({ 'Fn::GetAtt': [gateId, 'Arn'] });
    const [[appId]] = resources(stack, 'AWS::Serverless::Application');
    expect(gateFn.Properties.Environment.Variables.ROTATION_FUNCTION_ARN).toEqual({ 'Fn::GetAtt': [appId, 'Outputs.RotationLambdaARN'] });
    const permissions = resources(stack, 'AWS::Lambda::Permission').filter(([, r]) => JSON.stringify(r.Properties.FunctionName).includes(gateId));
    expect(permissions.map(([, r]) => r.Properties.Principal)).toEqual(['secretsmanager.amazonaws.com']);
    expect(schedule.DependsOn).toContain(permissions[0][0]);
    expect(gateFn.Properties.Timeout).toBe(600);
    expect(gateFn.Properties.VpcConfig).toBeDefined();
  });

  test('the gate\'s role may invoke that function, read that secret and list its own parameters: nothing else', () => {
    const policies = resources(stack, 'AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties.Roles).includes('RotationGate'));
    expect(policies).toHaveLength(1);
    const [[appId]] = resources(stack, 'AWS::Serverless::Application');
    const path = gateFn.Properties.Environment.Variables.GATE_PARAMETER_PATH;
    expect(path).toMatch(/^\/cdk-proxysql\/rotation-gate\/Db\/DbAuroraRotationGate[0-9A-F]{8}$/);
    expect(stack.resolve(policies[0][1].Properties.PolicyDocument.Statement)).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [appId, 'Outputs.RotationLambdaARN'] } },
      { Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Effect: 'Allow', Resource: stack.resolve(db.appUserSecret.secretArn) },
      {
        Action: 'ssm:GetParametersByPath',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:parameter${path}`]] },
      },
    ]);
  });

  test('the proxy registers under the gate\'s path once its service is up, in the shape the gate parses, and lets the gate in on its listener port', () => {
    const path = gateFn.Properties.Environment.Variables.GATE_PARAMETER_PATH;
    const [[, parameter]] = resources(stack, 'AWS::SSM::Parameter');
    expect(parameter.Properties.Name).toMatch(new RegExp(`^${path}/DbProxy0[0-9A-F]{8}$`));
    const serviceId = stack.getLogicalId(proxies[0].service.node.defaultChild as any);
    expect(parameter.DependsOn).toContain(serviceId);
    // Fill the load balancer's name in and parse it as the gate does.
    const joined = (parameter.Properties.Value['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : 'proxy.elb.example')).join('');
    expect(parseTarget('p', joined)).toEqual({ name: 'Db/Proxy0', host: 'proxy.elb.example', port: 3306, refreshSeconds: 20, tls: true });
    const gateSg = stack.resolve(db.rotationGateFunction!.connections.securityGroups[0].securityGroupId);
    const ingress = resources(stack, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties.SourceSecurityGroupId) === JSON.stringify(gateSg));
    expect(ingress.map(([, r]) => [r.Properties.FromPort, r.Properties.ToPort, stack.resolve(r.Properties.GroupId)]))
      .toEqual([[3306, 3306, stack.resolve(proxies[0].loadBalancerSecurityGroup.securityGroupId)]]);
  });
});

describe('rotation gate registrations', () => {
  test('GIVEN two proxies THEN each registers, with its own refresh interval and TLS setting', () => {
    const { stack } = build({ proxies: 2 });
    expect(resources(stack, 'AWS::SSM::Parameter')).toHaveLength(2);
    const b = build({ proxy: { credentialsRefreshInterval: Duration.seconds(45), frontendTls: false } });
    const [[, parameter]] = resources(b.stack, 'AWS::SSM::Parameter');
    expect(JSON.stringify(parameter.Properties.Value)).toContain('\\"refreshSeconds\\":45,\\"tls\\":false}');
  });

  test('GIVEN the proxy in another stack THEN the app synthesizes: the registration and the rule live in the proxy\'s stack, the gate in the database\'s', () => {
    const { app, stack, proxyStack } = build({ proxyStack: true });
    expect(() => app.synth()).not.toThrow();
    expect(resources(proxyStack, 'AWS::SSM::Parameter')).toHaveLength(1);
    expect(resources(stack, 'AWS::SSM::Parameter')).toHaveLength(0);
    expect(proxyStack.dependencies.map((s) => s.stackName)).toEqual(['Db']);
    expect(stack.dependencies).toEqual([]);
  });

  test('GIVEN single-user rotation THEN no gate: the pending password cannot be taken before the database has it', () => {
    const { stack, db } = build({ db: { appUserRotation: AppUserRotation.singleUser() } });
    expect(db.rotationGateFunction).toBeUndefined();
    expect(resources(stack, 'AWS::SSM::Parameter')).toHaveLength(0);
    const [[, schedule]] = resources(stack, 'AWS::SecretsManager::RotationSchedule');
    expect(JSON.stringify(schedule.Properties.RotationLambdaARN)).toContain('Outputs.RotationLambdaARN');
  });

  test('GIVEN liveCredentials: false THEN synth warns that every rotation will fail at testSecret', () => {
    const { proxyStack } = build({ proxy: { liveCredentials: false } });
    Annotations.fromStack(proxyStack).hasWarning('/Db/Proxy0', Match.stringLikeRegexp('liveCredentials is false, but a user secret rotates with a gate'));
  });

  test('a refresh interval longer than the gate can wait is refused, naming the prop', () => {
    expect(MAX_GATED_REFRESH_SECONDS).toBe(538);
    expect(() => build({ proxy: { credentialsRefreshInterval: Duration.seconds(539) } })).toThrow(
      "ProxySqlFargate: credentialsRefreshInterval must be at most 538 s when a user secret's rotation waits for the proxy (the rotation gate runs at most 10 minutes) (got 539 s)");
    expect(() => build({ proxy: { credentialsRefreshInterval: Duration.seconds(538) } })).not.toThrow();
  });
});
