import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AuroraBackend, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps, ProxySqlUser } from '../src';

interface Fixture {
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly db: AuroraBackend;
}

function fixture(): Fixture {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Db', { vpc });
  return { stack, vpc, db };
}

function proxyWith(extra: Partial<ProxySqlFargateProps> = {}): { f: Fixture; proxy: ProxySqlFargate; template: Template } {
  const f = fixture();
  const proxy = new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, ...extra });
  return { f, proxy, template: Template.fromStack(f.stack) };
}

/** Every ingress rule of the stack, inline or standalone, as plain objects. */
function ingressRules(template: Template): Array<Record<string, unknown>> {
  const rules: Array<Record<string, unknown>> = [];
  for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
    rules.push(...((sg.Properties?.SecurityGroupIngress ?? []) as Array<Record<string, unknown>>));
  }
  for (const r of Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))) {
    rules.push(r.Properties);
  }
  return rules;
}

function logicalIdOf(template: Template, type: string, props: Record<string, unknown>): string {
  const found = Object.keys(template.findResources(type, { Properties: props }));
  expect(found).toHaveLength(1);
  return found[0];
}

describe('ProxySqlFargate service', () => {
  test('GIVEN defaults THEN two ARM64 tasks with rollback, ECS Exec, Container Insights and CPU autoscaling', () => {
    const { template } = proxyWith();
    template.hasResourceProperties('AWS::ECS::Service', {
      // No DesiredCount: autoscaling's minCapacity (2) sets the count, and deploys keep what it chose.
      DesiredCount: Match.absent(),
      LaunchType: 'FARGATE',
      EnableExecuteCommand: true,
      AvailabilityZoneRebalancing: 'ENABLED',
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
      }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 60,
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      }),
    });
  });

  test('GIVEN sizing props THEN they reach the task definition and scaling target', () => {
    const { template } = proxyWith({
      cpu: 2048,
      memoryLimitMiB: 4096,
      desiredCount: 3,
      minCapacity: 3,
      maxCapacity: 9,
      targetCpuUtilizationPercent: 50,
      cpuArchitecture: ecs.CpuArchitecture.X86_64,
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048', Memory: '4096', RuntimePlatform: Match.objectLike({ CpuArchitecture: 'X86_64' }),
    });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 9 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 50 }),
    });
  });

  test('GIVEN minCapacity without desiredCount THEN the template sends no DesiredCount and the scalable target holds the floor', () => {
    const { template } = proxyWith({ minCapacity: 4 });
    const services = template.findResources('AWS::ECS::Service');
    expect(Object.values(services)).toHaveLength(1);
    expect(Object.values(services)[0].Properties).not.toHaveProperty('DesiredCount');
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 4, MaxCapacity: 12, ScalableDimension: 'ecs:service:DesiredCount',
    });
  });

  test('GIVEN desiredCount THEN every deploy sends it, and minCapacity follows it', () => {
    const { template } = proxyWith({ desiredCount: 3 });
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 9 });
  });

  test.each([
    [undefined, 20],
    [Duration.seconds(0), 0],
    [Duration.seconds(45), 45],
    [Duration.seconds(110), 110],
  ])('drainTime %p: deregistration delay and the in-flight wait are drainTime, the stop timeout 10 s more', (drainTime, seconds) => {
    const { template } = proxyWith(drainTime ? { drainTime } : {});
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Name: 'proxysql',
        StopTimeout: seconds + 10,
        Environment: Match.arrayWith([{ Name: 'PROXYSQL_DRAIN_SECONDS', Value: String(seconds) }]),
      })],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(seconds) }]),
    });
  });

  test('the container runs the pinned official image through the start script, with a health check and graceful stop', () => {
    const { template } = proxyWith({ drainTime: Duration.seconds(30) });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Name: 'proxysql',
        Image: 'proxysql/proxysql:2.7.3',
        Command: ['sh', '-c', Match.stringLikeRegexp('exec|proxysql')],
        HealthCheck: Match.objectLike({ Command: ['CMD-SHELL', Match.anyValue()] }),
        StopTimeout: 40,
        Environment: Match.arrayWith([{ Name: 'PROXYSQL_DRAIN_SECONDS', Value: '30' }]),
        LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        PortMappings: [Match.objectLike({ ContainerPort: 6033 })],
      })],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
        { Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' },
      ]),
    });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
  });

  test('every credential reaches the container as a Secrets Manager reference to one JSON field', () => {
    const { template } = proxyWith();
    const taskDefs = template.findResources('AWS::ECS::TaskDefinition');
    const container = (Object.values(taskDefs)[0].Properties.ContainerDefinitions as any[])[0];
    const secrets = container.Secrets as Array<{ Name: string; ValueFrom: unknown }>;
    expect(secrets.length).toBeGreaterThanOrEqual(6); // admin, monitor and app user: username + password each
    for (const s of secrets) {
      expect(s.Name).toMatch(/^PROXYSQL_SECRET_/);
      // ValueFrom = <secret arn>:<field>:: (field-level reference)
      expect(JSON.stringify(s.ValueFrom)).toMatch(/:(username|password)::/);
    }
    const envNames = (container.Environment as Array<{ Name: string }>).map((e) => e.Name);
    expect(envNames.some((n) => /PASSWORD|SECRET/.test(n))).toBe(false);
  });

  test('the service starts after the database bootstrap', () => {
    const { template } = proxyWith();
    const crId = Object.keys(template.findResources('AWS::CloudFormation::CustomResource'))[0]
      ?? Object.keys(template.toJSON().Resources).find((k) => template.toJSON().Resources[k].Type.startsWith('Custom::'));
    expect(crId).toBeDefined();
    const services = template.findResources('AWS::ECS::Service');
    const service = Object.values(services)[0];
    expect(service.DependsOn).toEqual(expect.arrayContaining([crId]));
  });
});

describe('ProxySqlFargate endpoint and network access', () => {
  test('an internal, cross-zone NLB with its own security group forwards the listener port to the traffic port only', () => {
    const { proxy, template } = proxyWith();
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      Type: 'network',
      SecurityGroups: Match.anyValue(),
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }]),
    });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 3306, Protocol: 'TCP' });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 6033, Protocol: 'TCP', TargetType: 'ip', HealthCheckProtocol: 'TCP', HealthCheckPort: '6033',
    });
    expect(proxy.endpoint.port).toBe(3306);
    expect(Stack.of(proxy).resolve(proxy.endpoint.hostname)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/LoadBalancer/), 'DNSName'] });
  });

  test('no ingress from any CIDR and none on the admin port by default', () => {
    const { template } = proxyWith();
    const rules = ingressRules(template);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.CidrIp).toBeUndefined();
      expect(rule.CidrIpv6).toBeUndefined();
      expect([rule.FromPort, rule.ToPort]).not.toContain(6032);
    }
  });

  test('the tasks accept the traffic port from the load balancer security group only', () => {
    const { template } = proxyWith();
    const taskSg = logicalIdOf(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'ProxySQL tasks: traffic port from the load balancer only',
    });
    const nlbSg = logicalIdOf(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'ProxySQL load balancer: clients are admitted here on the listener port',
    });
    const intoTasks = ingressRules(template).filter((r) => JSON.stringify(r.GroupId) === JSON.stringify({ 'Fn::GetAtt': [taskSg, 'GroupId'] }));
    expect(intoTasks).toEqual([expect.objectContaining({
      FromPort: 6033,
      ToPort: 6033,
      IpProtocol: 'tcp',
      SourceSecurityGroupId: { 'Fn::GetAtt': [nlbSg, 'GroupId'] },
    })]);
  });

  test('allowDefaultPortFrom(fn) admits the function to the listener port and nothing else', () => {
    const f = fixture();
    const proxy = new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db });
    const fn = new lambda.Function(f.stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>1'),
      vpc: f.vpc,
    });
    proxy.connections.allowDefaultPortFrom(fn);
    const template = Template.fromStack(f.stack);
    const fnSg = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find((k) => k.startsWith('FnSecurityGroup'));
    expect(fnSg).toBeDefined();
    const fromFn = ingressRules(template).filter((r) => JSON.stringify(r.SourceSecurityGroupId) === JSON.stringify({ 'Fn::GetAtt': [fnSg, 'GroupId'] }));
    expect(fromFn).toEqual([expect.objectContaining({ FromPort: 3306, ToPort: 3306, IpProtocol: 'tcp' })]);
  });

  test('adminAccess opens the admin port to the named security groups only', () => {
    const f = fixture();
    const ops = new ec2.SecurityGroup(f.stack, 'Ops', { vpc: f.vpc });
    new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, adminAccess: [ops] });
    const template = Template.fromStack(f.stack);
    const opsId = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find((k) => k.startsWith('Ops'))!;
    const adminRules = ingressRules(template).filter((r) => r.FromPort === 6032);
    expect(adminRules).toEqual([expect.objectContaining({ SourceSecurityGroupId: { 'Fn::GetAtt': [opsId, 'GroupId'] } })]);
  });

  test('the database admits the tasks on its port', () => {
    const { template } = proxyWith();
    const taskSg = logicalIdOf(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'ProxySQL tasks: traffic port from the load balancer only',
    });
    const dbRules = ingressRules(template).filter((r) => JSON.stringify(r.SourceSecurityGroupId) === JSON.stringify({ 'Fn::GetAtt': [taskSg, 'GroupId'] }));
    expect(dbRules).toEqual([expect.objectContaining({
      IpProtocol: 'tcp',
      FromPort: { 'Fn::GetAtt': [expect.stringMatching(/^DbCluster/), 'Endpoint.Port'] },
    })]);
  });
});

describe('ProxySqlFargate credentials and metrics', () => {
  test('generates admin and monitor secrets with characters safe for ProxySQL', () => {
    const { proxy, template } = proxyWith();
    expect(proxy.adminSecret).toBeDefined();
    expect(proxy.monitorSecret).toBeDefined();
    for (const username of ['proxysql_admin', 'proxysql_monitor']) {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({
          SecretStringTemplate: JSON.stringify({ username }),
          GenerateStringKey: 'password',
          PasswordLength: 32,
          ExcludeCharacters: Match.stringLikeRegexp("'"),
        }),
      });
    }
    const excluded = Object.values(template.findResources('AWS::SecretsManager::Secret'))
      .map((s) => s.Properties.GenerateSecretString?.ExcludeCharacters as string | undefined)
      .filter((x): x is string => !!x);
    for (const chars of excluded) {
      for (const c of ['"', "'", ':', ';', '\\', '`', '$', ' ']) expect(chars).toContain(c);
    }
  });

  test('metric helpers point at the NLB, the target group and the service', () => {
    const { proxy } = proxyWith();
    const stack = Stack.of(proxy);
    expect(proxy.metricActiveConnections().metricName).toBe('ActiveFlowCount');
    expect(proxy.metricActiveConnections().namespace).toBe('AWS/NetworkELB');
    expect(proxy.metricNewConnections().metricName).toBe('NewFlowCount');
    expect(proxy.metricResetConnections().metricName).toBe('TCP_ELB_Reset_Count');
    expect(proxy.metricHealthyTaskCount().metricName).toBe('HealthyHostCount');
    expect(proxy.metricUnhealthyTaskCount().metricName).toBe('UnHealthyHostCount');
    expect(proxy.metricCpuUtilization().namespace).toBe('AWS/ECS');
    expect(proxy.metricMemoryUtilization().metricName).toBe('MemoryUtilization');
    expect(stack.resolve(proxy.metricHealthyTaskCount().dimensions)).toHaveProperty('TargetGroup');
  });

  test('allowMetricsFrom needs the REST API and then opens its port', () => {
    const { proxy } = proxyWith();
    const peer = new ec2.SecurityGroup(Stack.of(proxy), 'Scraper', { vpc: proxy.cluster.vpc });
    expect(() => proxy.allowMetricsFrom(peer)).toThrow(/ProxySqlFargate: restApi must be enabled/);
  });

  test('with restApi the Prometheus port is mapped and opened to allowMetricsFrom peers only', () => {
    const f = fixture();
    const proxy = new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, restApi: true });
    const scraper = new ec2.SecurityGroup(f.stack, 'Scraper', { vpc: f.vpc });
    proxy.allowMetricsFrom(scraper);
    const template = Template.fromStack(f.stack);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        PortMappings: Match.arrayWith([Match.objectLike({ ContainerPort: 6070 })]),
      })],
    });
    const scraperId = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find((k) => k.startsWith('Scraper'))!;
    const onRestApi = ingressRules(template).filter((r) => r.FromPort === 6070);
    expect(onRestApi).toEqual([expect.objectContaining({ ToPort: 6070, SourceSecurityGroupId: { 'Fn::GetAtt': [scraperId, 'GroupId'] } })]);
  });
});

describe('ProxySqlFargate validation', () => {
  test.each([
    [{ desiredCount: 0 }, /desiredCount must be a whole number of at least 1 \(got 0\)/],
    [{ minCapacity: 0 }, /minCapacity must be a whole number of at least 1 \(got 0\)/],
    [{ maxCapacity: 0 }, /maxCapacity must be a whole number of at least 1 \(got 0\)/],
    [{ minCapacity: 5, maxCapacity: 3, desiredCount: 3 }, /minCapacity must not exceed maxCapacity \(3\) \(got 5\)/],
    [{ desiredCount: 8, minCapacity: 2, maxCapacity: 6 }, /desiredCount must lie between minCapacity \(2\) and maxCapacity \(6\) \(got 8\)/],
    [{ cpu: 3000 }, /cpu must be one of Fargate's CPU sizes .* \(got 3000\)/],
    [{ cpu: 256, memoryLimitMiB: 4096 }, /memoryLimitMiB must be 512–2048 MiB in steps of 512 with cpu 256 .* \(got 4096\)/],
    [{ cpu: 1024, memoryLimitMiB: 2500 }, /memoryLimitMiB must be 2048–8192 MiB in steps of 1024 .* \(got 2500\)/],
    [{ listenerPort: 0 }, /listenerPort must be a whole number from 1 to 65535 \(got 0\)/],
    [{ listenerPort: 70000 }, /listenerPort .* \(got 70000\)/],
    [{ drainTime: Duration.seconds(200) }, /drainTime must be from 0 to 110 seconds .* \(got 200 s\)/],
    [{ targetCpuUtilizationPercent: 95 }, /targetCpuUtilizationPercent must be from 10 to 90 \(got 95\)/],
  ])('rejects %j', (props, message) => {
    expect(() => proxyWith(props as Partial<ProxySqlFargateProps>)).toThrow(message);
  });

  test('a backend without an admin secret is rejected while bootstrap is on, accepted with bootstrap off', () => {
    const f = fixture();
    const backend = ProxySqlBackend.fromEndpoints({ writer: { host: 'db.example.internal', port: 3306 } });
    expect(() => new ProxySqlFargate(f.stack, 'P1', { vpc: f.vpc, backend }))
      .toThrow(/ProxySqlFargate: backend must carry an adminSecret while bootstrap is on/);
    const users = [ProxySqlUser.fromSecret(f.db.appUserSecret)];
    expect(() => new ProxySqlFargate(f.stack, 'P2', { vpc: f.vpc, backend, bootstrap: false, users })).not.toThrow();
    expect(Template.fromStack(f.stack).findResources('AWS::CloudFormation::CustomResource')).toEqual({});
    // Nothing could open the database to the tasks, and the user is told so at synth.
    Annotations.fromStack(f.stack).hasWarning('/Test/P2', Match.stringLikeRegexp('admit the ProxySQL tasks\' security group'));
  });
});
