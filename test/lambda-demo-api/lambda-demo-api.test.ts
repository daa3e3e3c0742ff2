import { App, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IProxySqlEndpointProvider } from '../../src/endpoint';
import { LambdaDemoApi, LambdaDemoApiProps } from '../../src/lambda-demo-api/lambda-demo-api';

/** What ProxySqlFargate offers the demo: a security group with the client port as default, and an endpoint. */
class StandInProxy implements IProxySqlEndpointProvider {
  public readonly connections: ec2.Connections;
  public readonly endpoint: { hostname: string; port: number };
  constructor(scope: Stack, vpc: ec2.IVpc, opts: { defaultPort?: ec2.Port; port?: number } = {}) {
    const securityGroup = new ec2.SecurityGroup(scope, 'ProxySg', { vpc });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: opts.defaultPort });
    this.endpoint = { hostname: 'proxy.example.internal', port: opts.port ?? 3306 };
  }
}

interface Built { stack: Stack; template: Template; demo: LambdaDemoApi; proxy: StandInProxy; secret: secretsmanager.Secret }

function build(props: Partial<LambdaDemoApiProps> = {}, proxyOpts?: { defaultPort?: ec2.Port; port?: number }): Built {
  const app = new App();
  const stack = new Stack(app, 'Demo');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  const proxy = new StandInProxy(stack, vpc, proxyOpts ?? { defaultPort: ec2.Port.tcp(3306) });
  const secret = new secretsmanager.Secret(stack, 'AppUser', {
    generateSecretString: { secretStringTemplate: '{"username":"app"}', generateStringKey: 'password' },
  });
  const demo = new LambdaDemoApi(stack, 'DemoApi', { vpc, proxy, userSecret: secret, ...props });
  return { stack, template: Template.fromStack(stack), demo, proxy, secret };
}

function idOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

describe('LambdaDemoApi', () => {
  test('the function runs in the private subnets on arm64 with only non-secret values in its environment', () => {
    const { stack, template, secret } = build();
    const privateSubnets = template.findResources('AWS::EC2::Subnet', {
      Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Private' }]) },
    });
    expect(Object.keys(privateSubnets)).toHaveLength(2);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Handler: 'index.handler',
      VpcConfig: {
        SubnetIds: Match.arrayEquals(Object.keys(privateSubnets).map((id) => ({ Ref: id }))),
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('DemoApiFunctionSecurityGroup'), 'GroupId'] }],
      },
      Environment: {
        Variables: {
          DB_SECRET_ARN: { Ref: idOf(stack, secret) },
          DB_HOST: 'proxy.example.internal',
          DB_PORT: '3306',
          DB_NAME: 'demo',
          AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
        },
      },
    });
    // Nothing in the environment resolves the secret's value (no dynamic reference to its password).
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))
      .find((r) => r.Properties.Environment?.Variables?.DB_SECRET_ARN);
    expect(JSON.stringify(fn!.Properties.Environment)).not.toMatch(/resolve:secretsmanager|password/i);
  });

  test('the function may read the user secret and nothing else from Secrets Manager', () => {
    const { stack, template, secret } = build();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Effect: 'Allow',
          Resource: { Ref: idOf(stack, secret) },
        }],
      },
      Roles: [{ Ref: Match.stringLikeRegexp('DemoApiFunctionServiceRole') }],
    });
  });

  test('the proxy accepts its default port from the function security group', () => {
    const { stack, template, proxy } = build();
    const proxySg = idOf(stack, proxy.connections.securityGroups[0] as ec2.SecurityGroup);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 3306,
      ToPort: 3306,
      GroupId: { 'Fn::GetAtt': [proxySg, 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('DemoApiFunctionSecurityGroup'), 'GroupId'] },
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
  });

  test('without a default port on the proxy, the endpoint port is opened', () => {
    const { template } = build({}, { port: 6033 });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 6033,
      ToPort: 6033,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('DemoApiFunctionSecurityGroup'), 'GroupId'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_PORT: '6033' }) },
    });
  });

  test('an HTTP API routes GET / to the function through a payload 2.0 proxy integration', () => {
    const { stack, template, demo } = build();
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /',
      AuthorizationType: 'NONE',
      Target: { 'Fn::Join': ['', ['integrations/', { Ref: Match.stringLikeRegexp('GETDemo') }]] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [idOf(stack, demo.function), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [idOf(stack, demo.function), 'Arn'] },
    });
    expect(stack.resolve(demo.url)).toEqual({
      'Fn::Join': ['', ['https://', { Ref: idOf(stack, demo.api) }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/']],
    });
  });

  test('the $default stage logs access as JSON to a log group and is throttled', () => {
    const { stack, template, demo } = build();
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [idOf(stack, demo.accessLogGroup), 'Arn'] } },
    });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status' });
  });

  test('log groups keep a week by default and go with the stack', () => {
    const { stack, template, demo } = build();
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.allResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 7 }, DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: idOf(stack, demo.functionLogGroup) } },
    });
  });

  test('retention, removal policy, database name and throttling can be set', () => {
    const { template } = build({
      logRetention: logs.RetentionDays.ONE_MONTH,
      logRemovalPolicy: RemovalPolicy.RETAIN,
      databaseName: 'proxysql_demo',
      throttlingRateLimit: 1,
      throttlingBurstLimit: 2,
    });
    template.allResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_NAME: 'proxysql_demo' }) },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2 },
    });
  });

  test('vpcSubnets chooses where the function runs', () => {
    // e.g. isolated subnets that reach Secrets Manager through a VPC interface endpoint
    const { template } = build({ vpcSubnets: { subnetGroupName: 'Isolated' } });
    const isolated = Object.keys(template.findResources('AWS::EC2::Subnet', {
      Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-name', Value: 'Isolated' }]) },
    }));
    expect(isolated).toHaveLength(2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({ SubnetIds: Match.arrayEquals(isolated.map((id) => ({ Ref: id }))) }),
    });
  });

  test.each(['', 'demo-db', 'a'.repeat(65), 'x`y'])('databaseName %j is refused with the rule', (databaseName) => {
    expect(() => build({ databaseName })).toThrow(
      `LambdaDemoApi: databaseName must be 1-64 characters of letters, digits, '_' or '$' (got ${JSON.stringify(databaseName)})`);
  });

  test('in a VPC with isolated subnets only the function defaults to them; with public subnets only it fails naming vpcSubnets', () => {
    const demoIn = (subnetType: ec2.SubnetType) => {
      const stack = new Stack(new App(), 'Demo');
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'only', subnetType }] });
      const proxy = new StandInProxy(stack, vpc, { defaultPort: ec2.Port.tcp(3306) });
      const userSecret = new secretsmanager.Secret(stack, 'AppUser');
      new LambdaDemoApi(stack, 'DemoApi', { vpc, proxy, userSecret });
      return { stack, vpc };
    };
    const { stack, vpc } = demoIn(ec2.SubnetType.PRIVATE_ISOLATED);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({ SubnetIds: Match.arrayEquals(vpc.isolatedSubnets.map((s) => stack.resolve(s.subnetId))) }),
    });
    expect(() => demoIn(ec2.SubnetType.PUBLIC)).toThrow(/^LambdaDemoApi: vpcSubnets must select private subnets for its function, and the VPC has none to default to: /);
  });

  test('a token databaseName is not validated at synth', () => {
    const { template } = build({ databaseName: Token.asString({ Ref: 'DbNameParam' }) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_NAME: { Ref: 'DbNameParam' } }) },
    });
  });

  test('token throttling limits and a token proxy port reach the stage and the environment', () => {
    const { template } = build({
      throttlingRateLimit: Token.asNumber({ Ref: 'Rate' }),
      throttlingBurstLimit: Token.asNumber({ Ref: 'Burst' }),
    }, { defaultPort: ec2.Port.tcp(3306), port: Token.asNumber({ Ref: 'ProxyPort' }) });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: { Ref: 'Rate' }, ThrottlingBurstLimit: { Ref: 'Burst' } }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_PORT: { Ref: 'ProxyPort' } }) },
    });
  });

  test.each([
    ['throttlingRateLimit', -1],
    ['throttlingBurstLimit', Number.NaN],
  ])('%s %p is refused', (name, value) => {
    expect(() => build({ [name]: value })).toThrow(`LambdaDemoApi: ${name} must be a number >= 0 (got ${value})`);
  });

  test('cdk-nag AwsSolutions: no finding is left; the ones the construct acknowledges are exactly these, on these resources', () => {
    const { stack } = build();
    const report = new AwsSolutionsChecks().validateScope(stack);
    const ours = report.violations.flatMap((v) => v.violatingResources.filter((r) => (r.constructPath ?? '').startsWith('Demo/DemoApi/')));
    expect(ours).toEqual([]);
    // APIG4 — the demo route is public on purpose (the integ assertion calls it without signing);
    //         throttling bounds abuse and the stack is torn down after the test.
    // IAM4  — the AWS-managed Lambda basic and VPC execution policies, as aws-lambda attaches them.
    const acknowledged = stack.node.findAll()
      .flatMap((c) => c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data).map((id) => `${id.replace(/^AwsSolutions-/, '')} ${c.node.path.replace('Demo/DemoApi/', '')}`)))
      .sort();
    expect(acknowledged).toEqual([
      'APIG4 Api/GET--/Resource',
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole] Function/ServiceRole/Resource',
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole] Function/ServiceRole/Resource',
    ]);
  });
});
