/**
 * The VPC and database, the proxy, the DNS names, the demo and client functions may each live in a
 * stack of their own: every combination synthesizes without a cyclic reference, and each security
 * group rule sits in the stack that depends on the other.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  AuroraBackend, LambdaDemoApi, PrivateDnsAliases, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps, ProxySqlTlsCertificate, ProxySqlUser,
} from '../src';

interface Apps {
  readonly app: App;
  readonly data: Stack;
  readonly vpc: ec2.Vpc;
  readonly db: AuroraBackend;
}

/** VPC and Aurora in a `Data` stack. */
function dataStack(): Apps {
  const app = new App();
  const data = new Stack(app, 'Data');
  const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(data, 'Db', { vpc });
  return { app, data, vpc, db };
}

function proxyStack(a: Apps, extra: Partial<ProxySqlFargateProps> = {}): { stack: Stack; proxy: ProxySqlFargate } {
  const stack = new Stack(a.app, 'Proxy');
  const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc: a.vpc, backend: a.db, ...extra });
  return { stack, proxy };
}

function clientFunction(scope: Stack, vpc: ec2.IVpc, env: Record<string, string> = {}): lambda.Function {
  return new lambda.Function(scope, 'Client', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => 1'),
    vpc,
    environment: env,
  });
}

/** Every standalone ingress rule of a stack. */
function ingress(stack: Stack): Array<Record<string, unknown>> {
  return Object.values(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
}

/** A reference to an output of another stack whose export name matches `pattern` (for jest's expect). */
function imported(pattern: string) {
  return { 'Fn::ImportValue': expect.stringMatching(pattern) };
}

/** The same, for the assertions module's templates matchers. */
function importedMatch(pattern: string) {
  return { 'Fn::ImportValue': Match.stringLikeRegexp(pattern) };
}

/** The logical id reference to the security group of `stack` whose id matches `pattern`. */
function groupOf(stack: Stack, pattern: RegExp) {
  const id = Object.keys(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroup')).find((k) => pattern.test(k));
  expect(id).toBeDefined();
  return { 'Fn::GetAtt': [id, 'GroupId'] };
}

function expectRule(rules: Array<Record<string, unknown>>, rule: Record<string, unknown>): void {
  expect(rules).toContainEqual(expect.objectContaining(rule));
}

describe('database stack + proxy stack', () => {
  test.each([true, false])('bootstrap %p: synthesizes, and the database admits the proxy through rules in the proxy stack', (bootstrap) => {
    const a = dataStack();
    const { stack } = proxyStack(a, bootstrap ? {} : { bootstrap: false, users: [ProxySqlUser.fromSecret(a.db.appUserSecret)] });
    expect(() => a.app.synth()).not.toThrow();

    const template = Template.fromStack(stack);
    const rules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    const intoDb = rules.filter((r) => JSON.stringify(r.GroupId).includes('Fn::ImportValue'));
    const sources = [groupOf(stack, /^ProxySecurityGroup/), ...(bootstrap ? [groupOf(stack, /^ProxyBootstrapSecurityGroup/)] : [])];
    expect(intoDb).toHaveLength(sources.length);
    for (const source of sources) {
      expect(intoDb).toContainEqual(expect.objectContaining({
        IpProtocol: 'tcp',
        SourceSecurityGroupId: source,
        FromPort: { 'Fn::ImportValue': expect.stringMatching(/EndpointPort/) },
        ToPort: { 'Fn::ImportValue': expect.stringMatching(/EndpointPort/) },
      }));
    }
    expect(JSON.stringify(intoDb.map((r) => r.GroupId))).toMatch(/DbClusterSecurityGroup/);
    if (bootstrap) {
      // The bootstrap function may reach the database only: its egress rule is in the proxy stack too.
      template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
        GroupId: groupOf(stack, /^ProxyBootstrapSecurityGroup/),
        DestinationSecurityGroupId: importedMatch('DbClusterSecurityGroup'),
      });
    }
    // Nothing in the data stack refers to the proxy.
    expect(ingress(a.data)).toEqual([]);
    expect(a.data.dependencies).toEqual([]);
    expect(stack.dependencies).toEqual([a.data]);
  });

  test('a plain-endpoints backend guarded by a security group of the data stack: the rules are in the proxy stack', () => {
    const a = dataStack();
    const mysqlSg = new ec2.SecurityGroup(a.data, 'MysqlSg', { vpc: a.vpc });
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'mysql.internal', port: 3306 },
      securityGroups: [mysqlSg],
      adminSecret: a.db.masterSecret,
      appUserSecrets: [a.db.appUserSecret],
    });
    const { stack } = proxyStack(a, { backend });
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(stack), { GroupId: imported('MysqlSg'), SourceSecurityGroupId: groupOf(stack, /^ProxySecurityGroup/), FromPort: 3306, ToPort: 3306 });
    expect(a.data.dependencies).toEqual([]);
  });

  test('admin access from a security group of the data stack: the rule is in the proxy stack', () => {
    const a = dataStack();
    const ops = new ec2.SecurityGroup(a.data, 'Ops', { vpc: a.vpc });
    const { stack } = proxyStack(a, { adminAccess: [ops] });
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(stack), { GroupId: groupOf(stack, /^ProxySecurityGroup/), SourceSecurityGroupId: imported('Ops'), FromPort: 6032 });
    expect(a.data.dependencies).toEqual([]);
  });
});

describe('proxy stack + demo stack', () => {
  test('synthesizes; the demo function is let into the load balancer by a rule in the demo stack', () => {
    const a = dataStack();
    const { stack, proxy } = proxyStack(a);
    const demoStack = new Stack(a.app, 'Demo');
    new LambdaDemoApi(demoStack, 'Demo', { vpc: a.vpc, proxy, userSecret: a.db.appUserSecret });
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(demoStack), {
      GroupId: imported('ProxyLoadBalancerSecurityGroup'),
      SourceSecurityGroupId: groupOf(demoStack, /^DemoFunctionSecurityGroup/),
      IpProtocol: 'tcp',
      FromPort: 3306,
      ToPort: 3306,
    });
    expect(ingress(stack).filter((r) => JSON.stringify(r.SourceSecurityGroupId).includes('Fn::ImportValue'))).toEqual([]);
    expect(demoStack.dependencies).toEqual(expect.arrayContaining([stack]));
    expect(stack.dependencies).not.toContain(demoStack);
  });

  test('DNS aliases in a stack of their own synthesize too', () => {
    const a = dataStack();
    const { proxy } = proxyStack(a);
    const dnsStack = new Stack(a.app, 'Dns');
    new PrivateDnsAliases(dnsStack, 'Dns', { vpc: a.vpc, proxy, cluster: a.db.cluster });
    expect(() => a.app.synth()).not.toThrow();
    Template.fromStack(dnsStack).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'nlb.proxysql.local.',
      AliasTarget: Match.objectLike({ HostedZoneId: importedMatch('ProxyLoadBalancer') }),
    });
  });
});

describe('proxy stack + client-function stack', () => {
  test('proxy.connections.allowDefaultPortFrom(fn): synthesizes, with the rule in the client stack on the listener port', () => {
    const a = dataStack();
    const { stack, proxy } = proxyStack(a, { listenerPort: 3307 });
    const clients = new Stack(a.app, 'Clients');
    const fn = clientFunction(clients, a.vpc, { DB_HOST: proxy.endpoint.hostname });
    proxy.connections.allowDefaultPortFrom(fn);
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(clients), {
      GroupId: imported('ProxyLoadBalancerSecurityGroup'),
      SourceSecurityGroupId: groupOf(clients, /^ClientSecurityGroup/),
      IpProtocol: 'tcp',
      FromPort: 3307,
      ToPort: 3307,
    });
    expect(stack.dependencies).not.toContain(clients);
    // No "Ignoring Egress rule" noise on the function's security group, which allows all outbound.
    Annotations.fromStack(clients).hasNoWarning('*', Match.anyValue());
  });

  test('fn.connections.allowToDefaultPort(proxy) from the client side works the same', () => {
    const a = dataStack();
    const { proxy } = proxyStack(a);
    const clients = new Stack(a.app, 'Clients');
    const fn = clientFunction(clients, a.vpc, { DB_HOST: proxy.endpoint.hostname });
    fn.connections.allowToDefaultPort(proxy);
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(clients), { GroupId: imported('ProxyLoadBalancerSecurityGroup'), FromPort: 3306, ToPort: 3306 });
  });

  test('a client whose security group restricts outbound traffic also gets its egress rule in its own stack', () => {
    const a = dataStack();
    const { stack, proxy } = proxyStack(a);
    const clients = new Stack(a.app, 'Clients');
    const sg = new ec2.SecurityGroup(clients, 'ClientSg', { vpc: a.vpc, allowAllOutbound: false });
    const fn = new lambda.Function(clients, 'Client', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => 1'),
      vpc: a.vpc,
      securityGroups: [sg],
      environment: { DB_HOST: proxy.endpoint.hostname },
    });
    proxy.connections.allowDefaultPortFrom(fn);
    expect(() => a.app.synth()).not.toThrow();
    Template.fromStack(clients).hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: groupOf(clients, /^ClientSg/),
      DestinationSecurityGroupId: importedMatch('ProxyLoadBalancerSecurityGroup'),
      FromPort: 3306,
    });
    expect(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroupEgress', {
      Properties: { GroupId: Match.objectLike({ 'Fn::ImportValue': Match.anyValue() }) },
    })).toEqual({});
  });

  test('a client in the data stack (which the proxy stack depends on): the rule stays in the proxy stack', () => {
    const a = dataStack();
    const { stack, proxy } = proxyStack(a);
    const fn = clientFunction(a.data, a.vpc, { DB_HOST: 'nlb.proxysql.local' });
    proxy.connections.allowDefaultPortFrom(fn);
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(stack), {
      GroupId: groupOf(stack, /^ProxyLoadBalancerSecurityGroup/),
      SourceSecurityGroupId: imported('ClientSecurityGroup'),
      FromPort: 3306,
    });
    expect(a.data.dependencies).toEqual([]);
  });

  test('a Prometheus scraper in a stack of its own: the rule on the REST API port is in its stack', () => {
    const a = dataStack();
    const { proxy } = proxyStack(a, { restApi: true });
    const monitoring = new Stack(a.app, 'Monitoring');
    const scraper = new ec2.SecurityGroup(monitoring, 'Scraper', { vpc: a.vpc });
    proxy.allowMetricsFrom(scraper);
    expect(() => a.app.synth()).not.toThrow();
    expectRule(ingress(monitoring), { GroupId: imported('ProxySecurityGroup'), FromPort: 6070, ToPort: 6070 });
  });
});

describe('monitoring and certificates in stacks of their own', () => {
  test('dashboard and alarms (with their topic) in a monitoring stack: the proxy stack has none of them and refers to nothing there', () => {
    const a = dataStack();
    const { stack, proxy } = proxyStack(a);
    const monitoring = new Stack(a.app, 'Monitoring');
    const topic = new sns.Topic(monitoring, 'Pager');
    const alarms = proxy.addRecommendedAlarms({ scope: monitoring, alarmActions: [new cloudwatch_actions.SnsAction(topic)] });
    proxy.addDashboard({ scope: monitoring });
    expect(() => a.app.synth()).not.toThrow();
    expect(alarms.length).toBeGreaterThan(0);
    expect(alarms.every((al) => Stack.of(al) === monitoring && al.node.id.startsWith('Proxy'))).toBe(true);
    const mon = Template.fromStack(monitoring);
    mon.resourceCountIs('AWS::CloudWatch::Alarm', alarms.length);
    mon.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const own = Template.fromStack(stack);
    own.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    own.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    // The healthy-tasks alarm names the target group of the proxy stack through an import.
    expect(JSON.stringify(mon.findResources('AWS::CloudWatch::Alarm'))).toMatch(/Fn::ImportValue/);
    expect(JSON.stringify(own.toJSON())).not.toMatch(/Monitoring/);
  });

  test('a client certificate secret in a security stack: the task reads it through an import', () => {
    const a = dataStack();
    const security = new Stack(a.app, 'Security');
    const certificate = new secretsmanager.Secret(security, 'ProxyCertificate');
    const { stack } = proxyStack(a, { requireTls: true, tlsCertificate: ProxySqlTlsCertificate.fromSecret(certificate) });
    expect(() => a.app.synth()).not.toThrow();
    const secrets = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'))
      .flatMap((t) => (t.Properties.ContainerDefinitions as Array<{ Secrets?: Array<{ Name: string; ValueFrom: unknown }> }>))
      .flatMap((c) => c.Secrets ?? []).filter((x) => x.Name.startsWith('PROXYSQL_TLS_'));
    expect(secrets.map((x) => x.Name).sort()).toEqual(['PROXYSQL_TLS_CERTIFICATE', 'PROXYSQL_TLS_CERTIFICATE_CHAIN', 'PROXYSQL_TLS_PRIVATE_KEY']);
    expect(JSON.stringify(secrets)).toMatch(/Fn::ImportValue/);
  });
});

test('VPC and database, proxy, DNS, demo and a client function in five stacks synthesize together', () => {
  const a = dataStack();
  const { proxy } = proxyStack(a);
  new PrivateDnsAliases(new Stack(a.app, 'Dns'), 'Dns', { vpc: a.vpc, proxy, cluster: a.db.cluster });
  new LambdaDemoApi(new Stack(a.app, 'Demo'), 'Demo', { vpc: a.vpc, proxy, userSecret: a.db.appUserSecret });
  const clients = new Stack(a.app, 'Clients');
  proxy.connections.allowDefaultPortFrom(clientFunction(clients, a.vpc, { DB_HOST: proxy.endpoint.hostname }));
  const assembly = a.app.synth();
  expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Clients', 'Data', 'Demo', 'Dns', 'Proxy']);
});
