import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraBackend, AuroraTopologyMode, DatabasePrivilege, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps, ProxySqlUser } from '../src';
import { DATABASE_PRIVILEGES } from '../src/bootstrap/privileges';

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

/** The rendered ProxySQL configuration of the (only) task definition, as JSON text (tokens included). */
function renderedConfig(template: Template): string {
  const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  const env = td.Properties.ContainerDefinitions[0].Environment as Array<{ Name: string; Value: unknown }>;
  return JSON.stringify(env.find((e) => e.Name === 'PROXYSQL_CONFIG_TEMPLATE')!.Value);
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
    // 0.5 vCPU / 1 GiB, measured (docs/benchmark.md#task-sizes).
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '512',
      Memory: '1024',
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

  test.each([
    [256, '1024'],
    [1024, '2048'],
    [2048, '4096'],
    [4096, '8192'],
  ])('GIVEN cpu %d alone THEN the memory defaults to twice it, at least 1 GiB (%s MiB), a size Fargate offers', (cpu, memory) => {
    const { template } = proxyWith({ cpu });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: String(cpu), Memory: memory });
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
      ContainerDefinitions: Match.arrayWith([Match.objectLike({
        Name: 'proxysql',
        StopTimeout: seconds + 10,
        Environment: Match.arrayWith([{ Name: 'PROXYSQL_DRAIN_SECONDS', Value: String(seconds) }]),
      })]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(seconds) }]),
    });
  });

  test('the container runs the pinned official image through the start script, with a health check and graceful stop', () => {
    const { template } = proxyWith({ drainTime: Duration.seconds(30) });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([Match.objectLike({
        Name: 'proxysql',
        Image: 'proxysql/proxysql:2.7.4',
        Command: ['sh', '-c', Match.stringLikeRegexp('exec|proxysql')],
        HealthCheck: Match.objectLike({ Command: ['CMD-SHELL', Match.anyValue()] }),
        StopTimeout: 40,
        Environment: Match.arrayWith([{ Name: 'PROXYSQL_DRAIN_SECONDS', Value: '30' }]),
        LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        PortMappings: [Match.objectLike({ ContainerPort: 6033 })],
      })]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
        { Key: 'deregistration_delay.connection_termination.enabled', Value: 'false' },
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
      ContainerDefinitions: Match.arrayWith([Match.objectLike({
        PortMappings: Match.arrayWith([Match.objectLike({ ContainerPort: 6070 })]),
      })]),
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

  test('users[i].privileges reach the bootstrap as canonical names; without them the bootstrap grants ALL', () => {
    const f = fixture();
    const other = new AuroraBackend(f.stack, 'Other', { vpc: f.vpc, appUsername: 'reporting' });
    new ProxySqlFargate(f.stack, 'Proxy', {
      vpc: f.vpc,
      backend: f.db,
      users: [
        ProxySqlUser.fromSecret(f.db.appUserSecret, { privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.of('insert'), DatabasePrivilege.CREATE_TEMPORARY_TABLES] }),
        ProxySqlUser.fromSecret(other.appUserSecret),
      ],
    });
    const bootstrap = Object.values(Template.fromStack(f.stack).findResources('Custom::ProxySqlDatabaseBootstrap'))[0];
    expect(bootstrap.Properties.Users).toEqual([
      { SecretArn: { Ref: expect.stringMatching(/^DbAppUserSecret/) }, Grants: ['SELECT', 'INSERT', 'CREATE TEMPORARY TABLES'] },
      { SecretArn: { Ref: expect.stringMatching(/^OtherAppUserSecret/) } },
    ]);
  });

  test('users[i].privileges must be database-level privileges, at least one, and only with the bootstrap on', () => {
    const withPrivileges = (privileges: DatabasePrivilege[], extra: Partial<ProxySqlFargateProps> = {}) => {
      const f = fixture();
      return () => new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, users: [ProxySqlUser.fromSecret(f.db.appUserSecret, { privileges })], ...extra });
    };
    expect(withPrivileges([DatabasePrivilege.SELECT, DatabasePrivilege.of('SUPER')])).toThrow(
      `ProxySqlFargate: users[0].privileges[1] must be a database-level privilege: one of ${DATABASE_PRIVILEGES.join(', ')} (got "SUPER")`);
    expect(withPrivileges([DatabasePrivilege.of('grant option')])).toThrow(/^ProxySqlFargate: users\[0\]\.privileges\[0\] must be a database-level privilege: .* \(got "grant option"\)$/);
    expect(withPrivileges([])).toThrow('ProxySqlFargate: users[0].privileges must list at least one privilege (leave it unset for DatabasePrivilege.ALL) (got "[]")');
    expect(withPrivileges([DatabasePrivilege.of('all'), DatabasePrivilege.of(' create   view ')])).not.toThrow();
    expect(withPrivileges([DatabasePrivilege.SELECT, DatabasePrivilege.INSERT], { bootstrap: false })).toThrow(
      'ProxySqlFargate: users[0].privileges is granted by the bootstrap, which is off (bootstrap: false): grant the privileges yourself and leave this unset (got SELECT, INSERT)');
  });

  test('DatabasePrivilege offers exactly the privileges the bootstrap accepts', () => {
    const offered = Object.values(DatabasePrivilege).filter((v): v is DatabasePrivilege => v instanceof DatabasePrivilege).map((p) => p.name);
    expect(offered.sort()).toEqual([...DATABASE_PRIVILEGES].sort());
  });

  test('the backend\'s admin secret is refused as an application or monitor user, with or without the bootstrap', () => {
    const f = fixture();
    const why = "must not be the backend's adminSecret \\(the database admin credentials never reach the ProxySQL container, and the bootstrap must not manage the password and privileges of the user it signs in as\\)";
    expect(() => new ProxySqlFargate(f.stack, 'P1', { vpc: f.vpc, backend: f.db, users: [ProxySqlUser.fromSecret(f.db.appUserSecret), ProxySqlUser.fromSecret(f.db.masterSecret)] }))
      .toThrow(new RegExp(`^ProxySqlFargate: users\\[1\\] ${why}; serve an application user with its own secret, e\\.g\\. ProxySqlUser\\.fromSecret\\(db\\.appUserSecret\\) \\(got the secret at Test/Db/Cluster/Secret/Attachment\\)$`));
    expect(() => new ProxySqlFargate(f.stack, 'P2', { vpc: f.vpc, backend: f.db, bootstrap: false, users: [ProxySqlUser.fromSecret(f.db.masterSecret)] }))
      .toThrow(/^ProxySqlFargate: users\[0\] must not be the backend's adminSecret/);
    expect(() => new ProxySqlFargate(f.stack, 'P3', { vpc: f.vpc, backend: f.db, monitorSecret: f.db.masterSecret }))
      .toThrow(new RegExp(`^ProxySqlFargate: monitorSecret ${why}; leave it unset to get a generated monitor user \\(got the secret at Test/Db/Cluster/Secret/Attachment\\)$`));
    // The same secret reached through the backend's default application users, by ARN.
    const masterArn = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:orders/master-AbCdEf';
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 },
      adminSecret: secretsmanager.Secret.fromSecretCompleteArn(f.stack, 'Master', masterArn),
      appUserSecrets: [secretsmanager.Secret.fromSecretCompleteArn(f.stack, 'MasterAgain', masterArn)],
    });
    expect(() => new ProxySqlFargate(f.stack, 'P4', { vpc: f.vpc, backend }))
      .toThrow(`ProxySqlFargate: the backend's appUserSecrets[0] must not be the backend's adminSecret (the database admin credentials never reach the ProxySQL container, and the bootstrap must not manage the password and privileges of the user it signs in as); serve an application user with its own secret, e.g. ProxySqlUser.fromSecret(db.appUserSecret) (got secret ${masterArn})`);
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

describe('ProxySqlFargate idle clients (idleClientTimeout)', () => {
  test('GIVEN defaults THEN the listener and ProxySQL both close idle clients after 1800 s', () => {
    const { template } = proxyWith();
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '1800' }],
    });
    expect(renderedConfig(template)).toContain('wait_timeout=1800000');
  });

  test('GIVEN idleClientTimeout THEN both sides get the same value', () => {
    const { template } = proxyWith({ idleClientTimeout: Duration.seconds(120) });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '120' }],
    });
    expect(renderedConfig(template)).toContain('wait_timeout=120000');
  });

  test.each([
    [Duration.seconds(59), /idleClientTimeout must be whole seconds from 60 to 6000 .* \(got 59\)/],
    [Duration.seconds(6001), /idleClientTimeout must be whole seconds from 60 to 6000 .* \(got 6001\)/],
    [Duration.millis(90_500), /idleClientTimeout must be whole seconds .* \(got 90.5\)/],
  ])('rejects %s', (idleClientTimeout, message) => {
    expect(() => proxyWith({ idleClientTimeout })).toThrow(message);
  });

  test('rejects a token, naming the prop', () => {
    const f = fixture();
    const seconds = new CfnParameter(f.stack, 'Idle', { type: 'Number' }).valueAsNumber;
    expect(() => new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, idleClientTimeout: Duration.seconds(seconds) }))
      .toThrow(/idleClientTimeout must be a literal duration .* \(got "a token"\)/);
  });

  test('wait_timeout is set by idleClientTimeout, not through the raw variables', () => {
    expect(() => proxyWith({ rawMysqlVariables: { wait_timeout: '1000' } }))
      .toThrow(/rawMysqlVariables.wait_timeout is set by idleClientTimeout; use that instead/);
  });
});

describe('ProxySqlFargate connection budget', () => {
  function serverCaps(template: Template): number[] {
    return [...renderedConfig(template).matchAll(/hostgroup_id=\d+, hostname=.*?max_connections=(\d+)/g)].map((m) => Number(m[1]));
  }

  test('GIVEN the default Aurora backend (db.r7g.large: 1000) THEN 12 tasks at most (6 × 200 % during a deployment) share 90 % minus the monitors\' and operators\' reserve', () => {
    const { proxy, template } = proxyWith();
    // floor((900 - 3 - (3 + 1) × 12) / 12) = 70 per task and server: 3 for each task's monitor, 1 for its fleet counter
    expect(proxy.backendConnectionsPerServer).toBe(70);
    // The writer splits its share between writes (53) and fallback reads (17); the reader keeps 70.
    expect(serverCaps(template)).toEqual([53, 17, 70]);
    // With fewer tasks running, each takes more: floor((900 - 3 - 4n) / n) for n = 1 … 12, a quarter of it for fallback reads.
    const shares = Array.from({ length: 12 }, (_, i) => Math.floor((900 - 3 - 4 * (i + 1)) / (i + 1)));
    expect(shares.slice(0, 2)).toEqual([893, 444]);
    expect(renderedConfig(template)).toContain(`# cdk-proxysql server_shares=10,20,1000,${shares.map((n) => `${n}:${Math.floor(n / 4)}`).join(',')}\\n`);
    // Instances Aurora discovery adds later get the same cap, applied after start.
    expect(renderedConfig(template).replace(/\\/g, '')).toContain('# cdk-proxysql after_start=INSERT OR REPLACE INTO mysql_hostgroup_attributes (hostgroup_id, servers_defaults) '
      + 'VALUES (10, \'{"max_connections":70,"use_ssl":1}\'), (20, \'{"weight":1000,"max_connections":70,"use_ssl":1}\'); LOAD MYSQL SERVERS TO RUNTIME;');
    expect(renderedConfig(template)).toContain('connect_timeout_server_max=30000');
  });

  test.each([
    ['db.t4g.medium (90)', { instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) }, 2],
    ['Serverless v2 up to 4 ACU (135)', { serverlessV2: true }, 5],
    ['Serverless v2 up to 16 ACU (2000)', { serverlessV2: true, serverlessV2MaxCapacity: 16 }, 145],
    ['a custom parameter group (databaseMaxConnections 500)', { databaseMaxConnections: 500 }, 33],
  ])('GIVEN AuroraBackend with %s THEN the cap follows', (_label, dbProps, cap) => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc, ...dbProps });
    const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db });
    expect(proxy.backendConnectionsPerServer).toBe(cap);
  });

  test('GIVEN plain endpoints with databaseMaxConnections and a smaller fleet THEN more per task; a writer that is also a reader halves each row', () => {
    const f = fixture();
    const backend = (extra = {}) => ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 },
      readers: [{ host: 'r.example.internal', port: 3306 }],
      adminSecret: f.db.masterSecret,
      appUserSecrets: [f.db.appUserSecret],
      databaseMaxConnections: 100,
      ...extra,
    });
    // floor((90 - 3 - 4 × 4) / 4) = 17
    const p1 = new ProxySqlFargate(f.stack, 'P1', { vpc: f.vpc, backend: backend(), maxCapacity: 2 });
    expect(p1.backendConnectionsPerServer).toBe(17);
    const p2 = new ProxySqlFargate(f.stack, 'P2', { vpc: f.vpc, backend: backend(), maxCapacity: 2, writerIsAlsoReader: true });
    expect(p2.backendConnectionsPerServer).toBe(8);
    const p3 = new ProxySqlFargate(f.stack, 'P3', { vpc: f.vpc, backend: backend(), maxCapacity: 2, maxConnectionsPercent: 50 });
    expect(p3.backendConnectionsPerServer).toBe(7);
    Annotations.fromStack(f.stack).hasNoWarning('*', Match.stringLikeRegexp('databaseMaxConnections'));
  });

  test('GIVEN a backend that does not know its limit THEN 100 is assumed and the synth warns, naming databaseMaxConnections', () => {
    const f = fixture();
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 }, adminSecret: f.db.masterSecret, appUserSecrets: [f.db.appUserSecret],
    });
    const proxy = new ProxySqlFargate(f.stack, 'P', { vpc: f.vpc, backend, maxCapacity: 2 });
    expect(proxy.backendConnectionsPerServer).toBe(17);
    Annotations.fromStack(f.stack).hasWarning('/Test/P', Match.stringLikeRegexp('assumes 100 per server. Pass databaseMaxConnections'));
  });

  test('GIVEN so small a share that the usual tasks get fewer than 10 writer connections each THEN the synth warns, naming the props; the defaults and the small reference instance do not', () => {
    const f = fixture();
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 },
      readers: [{ host: 'r.example.internal', port: 3306 }],
      adminSecret: f.db.masterSecret,
      databaseMaxConnections: 60,
      appUserSecrets: [f.db.appUserSecret],
    });
    // 4 tasks running: floor((54 - 3 - 4 × 4) / 4) = 8 per server, of which the writer keeps 6 (2 for fallback reads); 8 tasks: 2.
    new ProxySqlFargate(f.stack, 'P', { vpc: f.vpc, backend, minCapacity: 4, maxCapacity: 4 });
    Annotations.fromStack(f.stack).hasWarning('/Test/P', Match.stringLikeRegexp(
      'With 4 tasks running \\(minCapacity\\) each task may open only 6 connections to the writer, and 2 per server when the most tasks run: .*'
      + 'Raise the backend\'s databaseMaxConnections .*or maxConnectionsPercent, or lower minCapacity and maxCapacity'));
    // Two tasks of the same backend: floor((54 - 3 - 8) / 2) = 21, the writer keeps 16.
    const two = fixture();
    new ProxySqlFargate(two.stack, 'P', {
      vpc: two.vpc,
      backend: ProxySqlBackend.fromEndpoints({
        writer: { host: 'db.example.internal', port: 3306 },
        readers: [{ host: 'r.example.internal', port: 3306 }],
        adminSecret: two.db.masterSecret,
        databaseMaxConnections: 60,
        appUserSecrets: [two.db.appUserSecret],
      }),
      maxCapacity: 2,
    });
    Annotations.fromStack(two.stack).hasNoWarning('*', Match.stringLikeRegexp('connections to the writer'));
    const { f: defaults } = proxyWith();
    Annotations.fromStack(defaults.stack).hasNoWarning('*', Match.stringLikeRegexp('connections to the writer'));
    const small = new Stack(new App(), 'Small');
    const vpc = new ec2.Vpc(small, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(small, 'Db', { vpc, instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) });
    new ProxySqlFargate(small, 'Proxy', { vpc, backend: db });
    Annotations.fromStack(small).hasNoWarning('*', Match.stringLikeRegexp('connections to the writer'));
  });

  test('a fleet the database cannot hold is refused, naming maxCapacity and the way out', () => {
    const f = fixture();
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 },
      adminSecret: f.db.masterSecret,
      databaseMaxConnections: 45,
      appUserSecrets: [f.db.appUserSecret],
    });
    expect(() => new ProxySqlFargate(f.stack, 'P', { vpc: f.vpc, backend, maxCapacity: 6 }))
      .toThrow(/maxCapacity is too large for the database: the connection budget leaves no backend connection per task: 45 × 90 % = 40 for up to 12 tasks, of which 51 are reserved .*lower maxCapacity, or raise databaseMaxConnections \/ maxConnectionsPercent \(got 6\)/);
  });

  test.each([
    [{ maxConnectionsPercent: 0 }, /maxConnectionsPercent must be a whole number from 1 to 100 \(got 0\)/],
    [{ maxConnectionsPercent: 101 }, /maxConnectionsPercent must be a whole number from 1 to 100 \(got 101\)/],
    [{ maxConnectionsPercent: 50.5 }, /maxConnectionsPercent must be a whole number from 1 to 100 \(got 50.5\)/],
    [{ borrowTimeout: Duration.seconds(0) }, /borrowTimeout must be whole seconds from 1 to 3600 \(got 0\)/],
    [{ borrowTimeout: Duration.millis(1500) }, /borrowTimeout must be whole seconds from 1 to 3600 \(got 1.5\)/],
    [{ rawMysqlVariables: { connect_timeout_server_max: '1000' } }, /rawMysqlVariables.connect_timeout_server_max is set by borrowTimeout; use that instead/],
  ])('rejects %j', (props, message) => {
    expect(() => proxyWith(props as Partial<ProxySqlFargateProps>)).toThrow(message);
  });

  test('tokens are refused by name where the budget divides by them', () => {
    const f = fixture();
    const n = (id: string) => new CfnParameter(f.stack, id, { type: 'Number' }).valueAsNumber;
    expect(() => new ProxySqlFargate(f.stack, 'P1', { vpc: f.vpc, backend: f.db, maxConnectionsPercent: n('Pct') }))
      .toThrow(/maxConnectionsPercent must be a literal number .* \(got a token\)/);
    expect(() => new ProxySqlFargate(f.stack, 'P2', { vpc: f.vpc, backend: f.db, minCapacity: 2, desiredCount: 2, maxCapacity: n('Max') }))
      .toThrow(/maxCapacity must be a literal number: the connection budget divides .* \(got a token\)/);
    expect(() => new ProxySqlFargate(f.stack, 'P3', { vpc: f.vpc, backend: f.db, borrowTimeout: Duration.seconds(n('Borrow')) }))
      .toThrow(/borrowTimeout must be a literal duration \(got "a token"\)/);
    expect(() => ProxySqlBackend.fromEndpoints({ writer: { host: 'db.example.internal', port: 3306 }, databaseMaxConnections: n('Conns') }))
      .toThrow(/ProxySqlBackend.fromEndpoints: databaseMaxConnections must be a literal number .* \(got a token\)/);
  });

  test.each([5, 100_001, 150.5])('the backend factories refuse databaseMaxConnections %d', (value) => {
    expect(() => ProxySqlBackend.fromEndpoints({ writer: { host: 'db.example.internal', port: 3306 }, databaseMaxConnections: value }))
      .toThrow(new RegExp(`ProxySqlBackend.fromEndpoints: databaseMaxConnections must be a whole number from 10 to 100000 \\(got ${value}\\)`));
    const f = fixture();
    expect(() => ProxySqlBackend.fromAuroraCluster(f.db.cluster, { databaseMaxConnections: value }))
      .toThrow(/ProxySqlBackend.fromAuroraCluster: databaseMaxConnections must be a whole number from 10 to 100000/);
  });
});

describe('ProxySqlFargate replication lag (maxReplicationLag)', () => {

  test('Aurora discovery shuns a reader 30 s behind by default (max_lag_ms), and follows discovery.maxLagMs when given', () => {
    expect(renderedConfig(proxyWith().template)).toContain('max_lag_ms=30000');
    expect(renderedConfig(proxyWith({ maxReplicationLag: Duration.seconds(5) }).template)).toContain('max_lag_ms=5000');
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc, discovery: { maxLagMs: 1500 } });
    new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, maxReplicationLag: Duration.seconds(5) });
    expect(renderedConfig(Template.fromStack(stack))).toContain('max_lag_ms=1500');
  });

  test('read replicas carry max_replication_lag on every row; Aurora behind its endpoints cannot be measured', () => {
    const f = fixture();
    const endpoints = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.example.internal', port: 3306 },
      readers: [{ host: 'r.example.internal', port: 3306 }],
      adminSecret: f.db.masterSecret,
      appUserSecrets: [f.db.appUserSecret],
      databaseMaxConnections: 500,
    });
    new ProxySqlFargate(f.stack, 'P1', { vpc: f.vpc, backend: endpoints, maxReplicationLag: Duration.seconds(12) });
    const readOnlyChecks = ProxySqlBackend.fromAuroraCluster(f.db.cluster, {
      topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS,
      adminSecret: f.db.masterSecret,
      appUserSecrets: [f.db.appUserSecret],
      databaseMaxConnections: 1000,
    });
    new ProxySqlFargate(f.stack, 'P2', { vpc: f.vpc, backend: readOnlyChecks });
    const configs = Object.values(Template.fromStack(f.stack).findResources('AWS::ECS::TaskDefinition'))
      .map((td) => JSON.stringify(td.Properties.ContainerDefinitions[0].Environment));
    // Writer, writer as fallback reader, reader.
    expect(configs[0].match(/max_replication_lag=\d+/g)).toEqual(['max_replication_lag=12', 'max_replication_lag=12', 'max_replication_lag=12']);
    expect(configs[1].match(/max_replication_lag=\d+/g)).toEqual(['max_replication_lag=0', 'max_replication_lag=0', 'max_replication_lag=0']);
  });

  test.each([
    [Duration.seconds(0), /maxReplicationLag must be whole seconds from 1 to 600 \(got 0\)/],
    [Duration.seconds(601), /maxReplicationLag must be whole seconds from 1 to 600 \(got 601\)/],
    [Duration.millis(2500), /maxReplicationLag must be whole seconds from 1 to 600 \(got 2.5\)/],
  ])('rejects %s', (maxReplicationLag, message) => {
    expect(() => proxyWith({ maxReplicationLag })).toThrow(message);
  });

  test('rejects a token, naming the prop', () => {
    const f = fixture();
    const n = new CfnParameter(f.stack, 'Lag', { type: 'Number' }).valueAsNumber;
    expect(() => new ProxySqlFargate(f.stack, 'P', { vpc: f.vpc, backend: f.db, maxReplicationLag: Duration.seconds(n) }))
      .toThrow(/maxReplicationLag must be a literal duration \(got "a token"\)/);
  });
});

describe('ProxySqlFargate numeric props as tokens', () => {
  /** A proxy built with a CfnParameter of type Number (`N`) in some props. */
  function withToken(build: (n: number) => Partial<ProxySqlFargateProps>): Template {
    const f = fixture();
    const n = new CfnParameter(f.stack, 'N', { type: 'Number' }).valueAsNumber;
    new ProxySqlFargate(f.stack, 'Proxy', { vpc: f.vpc, backend: f.db, ...build(n) });
    return Template.fromStack(f.stack);
  }
  const N = { Ref: 'N' };

  test.each<[string, (n: number) => Partial<ProxySqlFargateProps>, RegExp]>([
    ['cpu without workerThreads', (n) => ({ cpu: n }),
      /^ProxySqlFargate: cpu may be a token only when workerThreads is given: the default workerThreads \(one per vCPU\) is computed from it at synth time \(got a token\)$/],
    ['memoryLimitMiB without maxClientConnections', (n) => ({ memoryLimitMiB: n }),
      /^ProxySqlFargate: memoryLimitMiB may be a token only when maxClientConnections is given: .* \(got a token\)$/],
    ['desiredCount without maxCapacity', (n) => ({ desiredCount: n }),
      /^ProxySqlFargate: desiredCount may be a token only when maxCapacity is given: the default maxCapacity \(3 × minCapacity, at least 6\) is computed from it at synth time \(got a token\)$/],
    ['minCapacity without maxCapacity', (n) => ({ minCapacity: n, desiredCount: 2 }),
      /^ProxySqlFargate: minCapacity may be a token only when maxCapacity is given: .* \(got a token\)$/],
    ['drainTime', (n) => ({ drainTime: Duration.seconds(n) }),
      /^ProxySqlFargate: drainTime must be a concrete duration, not a token: the container's stop timeout \(drainTime \+ 10 s, at most 120 s\) .* \(got a token\)$/],
    ['writerHostgroup', (n) => ({ writerHostgroup: n }),
      /^ProxySqlFargate: writerHostgroup must be a concrete number, not a token: hostgroup ids are compared at synth time .* \(got a token\)$/],
    ['readerHostgroup', (n) => ({ readerHostgroup: n }), /^ProxySqlFargate: readerHostgroup must be a concrete number, not a token/],
  ])('refuses a token in %s, naming the prop', (_, build, message) => {
    expect(() => withToken(build)).toThrow(message);
  });

  test.each<[string, (n: number) => Partial<ProxySqlFargateProps>, (t: Template) => void]>([
    ['cpu with workerThreads', (n) => ({ cpu: n, workerThreads: 2 }), (t) => {
      t.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: N });
      expect(renderedConfig(t)).toContain('threads=2');
    }],
    ['memoryLimitMiB with maxClientConnections', (n) => ({ memoryLimitMiB: n, maxClientConnections: 4000 }), (t) => {
      t.hasResourceProperties('AWS::ECS::TaskDefinition', { Memory: N });
      expect(renderedConfig(t)).toContain('max_connections=4000');
    }],
    ['desiredCount with maxCapacity', (n) => ({ desiredCount: n, maxCapacity: 8 }), (t) => {
      t.hasResourceProperties('AWS::ECS::Service', { DesiredCount: N });
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: N, MaxCapacity: 8 });
    }],
    ['minCapacity with maxCapacity', (n) => ({ minCapacity: n, maxCapacity: 8 }), (t) => {
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: N, MaxCapacity: 8 });
    }],
    ['targetCpuUtilizationPercent', (n) => ({ targetCpuUtilizationPercent: n }), (t) => {
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: N }),
      });
    }],
    ['listenerPort', (n) => ({ listenerPort: n }), (t) => {
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: N });
    }],
    ['trafficPort', (n) => ({ trafficPort: n }), (t) => {
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: N, HealthCheckPort: N });
      expect(renderedConfig(t)).toContain('interfaces=\\"0.0.0.0:",{"Ref":"N"}');
    }],
    ['the monitor and pool settings', (n) => ({
      workerThreads: n,
      maxClientConnections: n,
      connectionMaxAgeMs: n,
      monitorConnectIntervalMs: n,
      monitorPingIntervalMs: n,
      monitorReadOnlyIntervalMs: n,
      monitorReadOnlyTimeoutMs: n,
    }), (t) => {
      const config = renderedConfig(t);
      for (const name of ['threads', 'max_connections', 'connection_max_age_ms', 'monitor_connect_interval',
        'monitor_ping_interval', 'monitor_read_only_interval', 'monitor_read_only_timeout']) {
        expect(config).toContain(`${name}=",{"Ref":"N"}`);
      }
    }],
  ])('takes a token in %s and renders the reference', (_, build, check) => {
    const template = withToken(build);
    check(template);
    // No token leaked as the huge negative number CDK encodes it with.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/e\+\d{3}/);
  });
});

describe('ProxySqlFargate subnets', () => {
  /** A proxy in a VPC made of the given subnet types, in `maxAzs` zones. */
  function inVpc(types: ec2.SubnetType[], extra: Partial<ProxySqlFargateProps> = {}, maxAzs = 2) {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs,
      natGateways: types.includes(ec2.SubnetType.PRIVATE_WITH_EGRESS) ? 1 : 0,
      subnetConfiguration: types.map((subnetType) => ({ name: subnetType.toString().replace(/_/g, ''), subnetType })),
    });
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'db.internal', port: 3306 },
      adminSecret: new secretsmanager.Secret(stack, 'Admin'),
      appUserSecrets: [new secretsmanager.Secret(stack, 'App')],
    });
    const build = () => new ProxySqlFargate(stack, 'Proxy', { vpc, backend, ...extra });
    return { stack, vpc, build };
  }
  const idsOf = (subnets: ec2.ISubnet[], stack: Stack) => subnets.map((s) => stack.resolve(s.subnetId));

  test('GIVEN a VPC with isolated subnets only THEN tasks, load balancer and bootstrap function default to them', () => {
    const { stack, vpc, build } = inVpc([ec2.SubnetType.PRIVATE_ISOLATED]);
    build();
    const template = Template.fromStack(stack);
    const isolated = idsOf(vpc.isolatedSubnets, stack);
    template.hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: Match.arrayEquals(isolated) }) },
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Subnets: Match.arrayEquals(isolated) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('ProxySQL monitor and application users'),
      VpcConfig: Match.objectLike({ SubnetIds: Match.arrayEquals(isolated) }),
    });
  });

  test('GIVEN isolated subnets and the default image THEN synth warns, naming image; with an ECR image it does not', () => {
    const withDefault = inVpc([ec2.SubnetType.PRIVATE_ISOLATED]);
    withDefault.build();
    Annotations.fromStack(withDefault.stack).hasWarning('/Test/Proxy',
      Match.stringLikeRegexp('cannot pull the default image proxysql/proxysql:2.7.4 from Docker Hub: set image to a copy in ECR'));

    const mirrored = inVpc([ec2.SubnetType.PRIVATE_ISOLATED]);
    const repository = ecr.Repository.fromRepositoryName(mirrored.stack, 'Mirror', 'proxysql');
    new ProxySqlFargate(mirrored.stack, 'Proxy', {
      vpc: mirrored.vpc,
      backend: ProxySqlBackend.fromEndpoints({ writer: { host: 'db.internal', port: 3306 } }),
      bootstrap: false,
      users: [ProxySqlUser.fromSecret(new secretsmanager.Secret(mirrored.stack, 'User'))],
      image: ecs.ContainerImage.fromEcrRepository(repository, '2.7.4'),
      credentialsImage: ecs.ContainerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(mirrored.stack, 'CliMirror', 'aws-cli'), '2.15.62'),
    });
    Annotations.fromStack(mirrored.stack).hasNoWarning('/Test/Proxy', Match.stringLikeRegexp('cannot pull'));
  });

  test('GIVEN isolated subnets and the default credentials image THEN synth warns, naming credentialsImage; with liveCredentials false it does not', () => {
    const withDefault = inVpc([ec2.SubnetType.PRIVATE_ISOLATED]);
    withDefault.build();
    Annotations.fromStack(withDefault.stack).hasWarning('/Test/Proxy', Match.stringLikeRegexp(
      "cannot pull the credentials sidecar's default image public.ecr.aws/aws-cli/aws-cli:2.15.62 from Amazon ECR Public: set credentialsImage to a copy in ECR"));

    const off = inVpc([ec2.SubnetType.PRIVATE_ISOLATED]);
    new ProxySqlFargate(off.stack, 'Proxy', {
      vpc: off.vpc,
      backend: ProxySqlBackend.fromEndpoints({ writer: { host: 'db.internal', port: 3306 } }),
      bootstrap: false,
      users: [ProxySqlUser.fromSecret(new secretsmanager.Secret(off.stack, 'User'))],
      liveCredentials: false,
    });
    Annotations.fromStack(off.stack).hasNoWarning('/Test/Proxy', Match.stringLikeRegexp('credentials sidecar'));
  });

  test('GIVEN private subnets with egress and isolated ones THEN the tasks prefer those with egress, and nothing warns about the image', () => {
    const { stack, vpc, build } = inVpc([ec2.SubnetType.PUBLIC, ec2.SubnetType.PRIVATE_WITH_EGRESS, ec2.SubnetType.PRIVATE_ISOLATED]);
    build();
    Template.fromStack(stack).hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: Match.arrayEquals(idsOf(vpc.privateSubnets, stack)) }) },
    });
    Annotations.fromStack(stack).hasNoWarning('/Test/Proxy', Match.stringLikeRegexp('cannot pull|Availability Zone'));
  });

  test('GIVEN a VPC with public subnets only THEN it fails naming vpcSubnets', () => {
    const { build } = inVpc([ec2.SubnetType.PUBLIC]);
    expect(build).toThrow('ProxySqlFargate: vpcSubnets must select private subnets for its tasks and the database bootstrap function, '
      + 'and the VPC has none to default to: add private subnets (with egress, or isolated with VPC endpoints) to the VPC and select them '
      + 'with vpcSubnets (got a VPC with 2 public and no private or isolated subnets)');
  });

  test('GIVEN task subnets of its own but a VPC without private subnets THEN the load balancer default fails naming loadBalancerSubnets', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'pub', subnetType: ec2.SubnetType.PUBLIC }] });
    const subnets = ['a', 'b'].map((az) => ec2.Subnet.fromSubnetAttributes(stack, `Private${az}`, { subnetId: `subnet-0${az}`, availabilityZone: `eu-west-1${az}` }));
    expect(() => new ProxySqlFargate(stack, 'Proxy', {
      vpc,
      vpcSubnets: { subnets },
      backend: ProxySqlBackend.fromEndpoints({ writer: { host: 'db.internal', port: 3306 } }),
      bootstrap: false,
      users: [ProxySqlUser.fromSecret(new secretsmanager.Secret(stack, 'User'))],
    })).toThrow(/^ProxySqlFargate: loadBalancerSubnets must select private subnets for its internal load balancer, and the VPC has none to default to: .* \(got a VPC with 2 public and no private or isolated subnets\)$/);
  });

  test('GIVEN tasks in public subnets THEN it fails naming vpcSubnets (no public IP, and the bootstrap Lambda cannot run there)', () => {
    const { build } = inVpc([ec2.SubnetType.PUBLIC, ec2.SubnetType.PRIVATE_ISOLATED], { vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } });
    expect(build).toThrow(/^ProxySqlFargate: vpcSubnets must select private subnets \(with egress, or isolated with VPC endpoints\): the tasks get no public IP address, and the database bootstrap function \(a Lambda function\) cannot run in public subnets \(got a selection with public subnets\)$/);
  });

  test('GIVEN tasks in one Availability Zone THEN synth warns, naming vpcSubnets', () => {
    const { stack, build } = inVpc([ec2.SubnetType.PRIVATE_ISOLATED], { image: ecs.ContainerImage.fromRegistry('example.com/proxysql:2.7.4') }, 1);
    build();
    Annotations.fromStack(stack).hasWarning('/Test/Proxy',
      Match.stringLikeRegexp("The tasks' subnets \\(vpcSubnets\\) span 1 Availability Zone: an outage of that zone stops the proxy"));
  });
});

describe('ProxySqlFargate reads falling back to the writer', () => {
  test('GIVEN a budget of one connection per server THEN the fallback is left out with a warning naming the ways out; asked for explicitly, it is refused', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    // db.t4g.medium (90) for up to 14 tasks: floor((81 - 3 - 4 × 14) / 14) = 1 per task and server.
    const db = new AuroraBackend(stack, 'Db', { vpc, instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM) });
    const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, maxCapacity: 7 });
    expect(proxy.backendConnectionsPerServer).toBe(1);
    Annotations.fromStack(stack).hasWarning('/Test/Proxy', Match.stringLikeRegexp('Reads will not fall back to the writer .* \\(1 per task and server\\)'));
    expect(renderedConfig(Template.fromStack(stack))).toMatch(/# cdk-proxysql server_shares=10,20,0,(\d+:0,){13}1:0\\n/);
    expect(() => new ProxySqlFargate(stack, 'Explicit', { vpc, backend: db, maxCapacity: 7, readsFallBackToWriter: true }))
      .toThrow(/readsFallBackToWriter needs a connection budget of at least 2 per server .* \(got 1\)/);
  });

  test('GIVEN the default backend THEN the writer is a fallback reader, and readsFallBackToWriter: false keeps reads off it', () => {
    expect(renderedConfig(proxyWith().template)).toMatch(/# cdk-proxysql server_shares=10,20,1000,893:223,444:111,.*,70:17\\n/);
    expect(renderedConfig(proxyWith({ readsFallBackToWriter: false }).template)).toMatch(/# cdk-proxysql server_shares=10,20,0,893:0,444:0,.*,70:0\\n/);
  });
});
