import { App, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AuroraBackend, AuroraTopologyMode, auroraDomainFromClusterEndpoint, IProxySqlBackend, ProxySqlBackend,
  ProxySqlEngine, ProxySqlFargate, ProxySqlFargateProps, ReplicationCheck,
} from '../src';
import { LibconfigValue, parseLibconfig } from './fixtures/libconfig';

type Row = { [k: string]: LibconfigValue };
type Json = any; // CloudFormation template fragments

/**
 * Stand-ins for what CloudFormation returns for each attribute, shaped like the real values, so
 * the rendered config can be evaluated the way CloudFormation will and parsed with real libconfig.
 */
const HASH = 'c1abc2def3gh.eu-west-1.rds.amazonaws.com';
function attribute(template: Json, logicalId: string, attr?: string): string {
  const type = template.Resources[logicalId]?.Type;
  const name = logicalId.toLowerCase();
  if (type === 'AWS::RDS::DBCluster') {
    if (attr === 'Endpoint.Address') return `${name}.cluster-${HASH}`;
    if (attr === 'ReadEndpoint.Address') return `${name}.cluster-ro-${HASH}`;
    if (attr === 'Endpoint.Port') return '3306';
  }
  if (type === 'AWS::RDS::DBInstance') {
    if (attr === undefined) return name;
    if (attr === 'Endpoint.Address') return `${name}.${HASH}`;
    if (attr === 'Endpoint.Port') return '3306';
  }
  throw new Error(`no stand-in for ${type} ${logicalId} ${attr ?? 'Ref'}`);
}

/** Evaluate the intrinsics a rendered config may contain (Join, Select, Split, Ref, GetAtt). */
function evaluate(template: Json, node: Json): Json {
  if (typeof node === 'string' || typeof node === 'number') return node;
  if (Array.isArray(node)) return node.map((n) => evaluate(template, n));
  const [fn, args] = Object.entries(node)[0] as [string, Json];
  switch (fn) {
    case 'Fn::Join': return (evaluate(template, args[1]) as string[]).join(args[0]);
    case 'Fn::Select': return evaluate(template, args[1])[args[0]];
    case 'Fn::Split': return String(evaluate(template, args[1])).split(args[0]);
    case 'Ref': return attribute(template, args);
    case 'Fn::GetAtt': return attribute(template, args[0], args[1]);
    default: throw new Error(`unexpected intrinsic ${fn}`);
  }
}

function containerEnv(template: Template, name: string): Json {
  const defs = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  expect(defs).toHaveLength(1);
  const env = defs[0].Properties.ContainerDefinitions[0].Environment as Array<{ Name: string; Value: Json }>;
  return env.find((e) => e.Name === name)!.Value;
}

/** The ProxySQL config as CloudFormation will hand it to the container, parsed by libconfig. */
function renderedConfig(template: Template): { [k: string]: LibconfigValue } {
  return parseLibconfig(evaluate(template.toJSON(), containerEnv(template, 'PROXYSQL_CONFIG_TEMPLATE')));
}

/**
 * The servers a backend produced, as [hostgroup, host, port, use_ssl]. The writer's extra row in
 * the reader hostgroup (reads fall back to it, weight 1) is the configuration engine's, asserted in
 * `fallbackRow` and in test/config: it is left out here.
 */
function servers(config: { [k: string]: LibconfigValue }): Array<[number, string, number, number]> {
  const rows = config.mysql_servers as Row[];
  const writer = rows.find((s) => s.hostgroup_id === 10);
  return rows
    .filter((s) => !(writer && s !== writer && s.hostname === writer.hostname && s.port === writer.port && s.weight === 1))
    .map((s) => [s.hostgroup_id as number, s.hostname as string, s.port as number, s.use_ssl as number]);
}

/** The writer's row in the reader hostgroup, when reads fall back to it. */
function fallbackRow(config: { [k: string]: LibconfigValue }): Row | undefined {
  const rows = config.mysql_servers as Row[];
  const writer = rows.find((s) => s.hostgroup_id === 10)!;
  return rows.find((s) => s !== writer && s.hostgroup_id === 20 && s.hostname === writer.hostname && s.port === writer.port);
}

function logicalIds(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type)).sort();
}

/** Logical id of the secret a grant names, through a SecretTargetAttachment if there is one. */
function secretIdOf(template: Json, resource: Json): string {
  const ref: string | undefined = resource?.Ref;
  if (ref === undefined) return JSON.stringify(resource); // an imported secret's ARN
  const r = template.Resources[ref];
  return r.Type === 'AWS::SecretsManager::SecretTargetAttachment' ? r.Properties.SecretId.Ref : ref;
}

/** Role logical id → the secrets it may read (GetSecretValue), for every policy in the stack. */
function secretReaders(template: Template): Record<string, string[]> {
  const json = template.toJSON();
  const readers: Record<string, Set<string>> = {};
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const st of policy.Properties.PolicyDocument.Statement) {
      const actions = [st.Action].flat();
      if (!actions.some((a: string) => a === 'secretsmanager:GetSecretValue' || a === 'secretsmanager:*' || a === '*')) continue;
      for (const role of policy.Properties.Roles) {
        readers[role.Ref] ??= new Set();
        for (const res of [st.Resource].flat()) readers[role.Ref].add(secretIdOf(json, res));
      }
    }
  }
  return Object.fromEntries(Object.entries(readers).map(([k, v]) => [k, [...v].sort()]));
}

function roleOf(template: Template, type: string, roleProp: string): string {
  const found = Object.values(template.findResources(type));
  expect(found).toHaveLength(1);
  const role = found[0].Properties[roleProp];
  return role['Fn::GetAtt'][0];
}

function ingressInto(template: Template, groupId: Json): Json[] {
  return Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
    .map((r) => r.Properties)
    .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(groupId));
}

function dependsOn(template: Template, logicalId: string): string[] {
  return [template.toJSON().Resources[logicalId].DependsOn ?? []].flat();
}

interface Setup {
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
}

function setup(): Setup {
  const stack = new Stack(new App(), 'Test');
  return { stack, vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }) };
}

function withProxy(s: Setup, backend: IProxySqlBackend, extra: Partial<ProxySqlFargateProps> = {}) {
  const proxy = new ProxySqlFargate(s.stack, 'Proxy', { vpc: s.vpc, backend, ...extra });
  return { proxy, template: Template.fromStack(s.stack) };
}

describe('AuroraBackend behind ProxySqlFargate (Aurora discovery, the default)', () => {
  const s = setup();
  const db = new AuroraBackend(s.stack, 'Db', { vpc: s.vpc, readers: 2 });
  const { proxy, template } = withProxy(s, db);
  const json = template.toJSON();
  const cluster = logicalIds(template, 'AWS::RDS::DBCluster')[0];
  const instances = logicalIds(template, 'AWS::RDS::DBInstance');
  const writer = instances.find((i) => /Writer/.test(i))!;
  const readers = instances.filter((i) => /Reader/.test(i));

  test('GIVEN an AuroraBackend WHEN the proxy renders its config THEN it seeds every instance and enables Aurora discovery with the cluster domain', () => {
    const config = renderedConfig(template);
    expect(servers(config)).toEqual([
      [10, `${writer.toLowerCase()}.${HASH}`, 3306, 1],
      ...readers.map((r) => [20, `${r.toLowerCase()}.${HASH}`, 3306, 1]),
    ]);
    // Discovery keeps the writer in the reader hostgroup as a fallback for reads (weight 1 against
    // the discovered readers' 1000).
    expect(config.mysql_aws_aurora_hostgroups).toEqual([expect.objectContaining({
      writer_hostgroup: 10,
      reader_hostgroup: 20,
      active: 1,
      aurora_port: 3306,
      domain_name: `.${HASH}`,
      writer_is_also_reader: 1,
      new_reader_weight: 1000,
    })]);
    expect(fallbackRow(config)).toMatchObject({ hostgroup_id: 20, weight: 1, use_ssl: 1 });
    expect(config.mysql_replication_hostgroups).toBeUndefined();
    expect((config.mysql_variables as Row).server_version).toBe('8.0.42');
  });

  test('GIVEN a CDK-made cluster THEN the domain comes from Fn::Split of the cluster endpoint on ".cluster-"', () => {
    const tmpl = JSON.stringify(containerEnv(template, 'PROXYSQL_CONFIG_TEMPLATE'));
    expect(tmpl).toContain(JSON.stringify({ 'Fn::Select': [1, { 'Fn::Split': ['.cluster-', { 'Fn::GetAtt': [cluster, 'Endpoint.Address'] }] }] }));
  });

  test('THEN the cluster security group admits the proxy tasks and the bootstrap function on the cluster port, and nothing else', () => {
    const dbSg = json.Resources[cluster].Properties.VpcSecurityGroupIds[0];
    const rules = ingressInto(template, dbSg);
    const port = { 'Fn::GetAtt': [cluster, 'Endpoint.Port'] };
    const proxySg = Stack.of(proxy).resolve(proxy.securityGroup.securityGroupId);
    const bootstrapSg = { 'Fn::GetAtt': [logicalIds(template, 'AWS::EC2::SecurityGroup').find((id) => /ProxyBootstrap/.test(id))!, 'GroupId'] };
    expect(rules.map((r) => [r.SourceSecurityGroupId, r.FromPort, r.ToPort, r.IpProtocol])).toEqual(expect.arrayContaining([
      [proxySg, port, port, 'tcp'],
      [bootstrapSg, port, port, 'tcp'],
    ]));
    expect(rules).toHaveLength(2);
    expect(json.Resources[dbSg['Fn::GetAtt'][0]].Properties.SecurityGroupIngress).toBeUndefined();
  });

  test('THEN every DB instance comes before the bootstrap, and the bootstrap before the ECS service', () => {
    const bootstrap = logicalIds(template, 'Custom::ProxySqlDatabaseBootstrap');
    expect(bootstrap).toHaveLength(1);
    expect(dependsOn(template, bootstrap[0])).toEqual(expect.arrayContaining([...instances, cluster]));
    expect(instances).toHaveLength(3);
    const service = logicalIds(template, 'AWS::ECS::Service')[0];
    expect(dependsOn(template, service)).toContain(bootstrap[0]);
  });

  test('THEN the task execution role reads the admin, monitor and app secrets, the task role (live credentials) monitor and app, the bootstrap master, monitor and app, nobody else any', () => {
    const id = (secret: secretsmanager.ISecret) => secretIdOf(json, Stack.of(secret).resolve(secret.secretArn));
    const execution = roleOf(template, 'AWS::ECS::TaskDefinition', 'ExecutionRoleArn');
    const taskRole = roleOf(template, 'AWS::ECS::TaskDefinition', 'TaskRoleArn');
    const bootstrapRole = logicalIds(template, 'AWS::IAM::Role').find((r) => /ProxyBootstrapFunctionServiceRole/.test(r))!;
    expect(secretReaders(template)).toEqual({
      [execution]: [id(proxy.adminSecret), id(proxy.monitorSecret), id(db.appUserSecret)].sort(),
      [taskRole]: [id(proxy.monitorSecret), id(db.appUserSecret)].sort(),
      [bootstrapRole]: [id(db.masterSecret), id(proxy.monitorSecret), id(db.appUserSecret)].sort(),
    });
    // The master secret is the DB's admin, not ProxySQL's: the container never gets it.
    expect(id(db.masterSecret)).not.toBe(id(proxy.adminSecret));
  });
});

describe('AuroraBackend with READ_ONLY_CHECKS', () => {
  test('GIVEN topologyMode READ_ONLY_CHECKS THEN the servers are the cluster and reader endpoints told apart by innodb_read_only', () => {
    const s = setup();
    const db = new AuroraBackend(s.stack, 'Db', { vpc: s.vpc, topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS });
    const { template } = withProxy(s, db);
    const cluster = logicalIds(template, 'AWS::RDS::DBCluster')[0].toLowerCase();
    const config = renderedConfig(template);
    expect(servers(config)).toEqual([
      [10, `${cluster}.cluster-${HASH}`, 3306, 1],
      [20, `${cluster}.cluster-ro-${HASH}`, 3306, 1],
    ]);
    expect(config.mysql_replication_hostgroups).toEqual([expect.objectContaining({ writer_hostgroup: 10, reader_hostgroup: 20, check_type: 'innodb_read_only' })]);
    expect(config.mysql_aws_aurora_hostgroups).toBeUndefined();
    const bootstrap = Object.values(template.findResources('Custom::ProxySqlDatabaseBootstrap'))[0];
    expect(bootstrap.Properties.MonitorPrivileges).toBe('basic');
  });

  test('GIVEN discovery tuning THEN it reaches mysql_aws_aurora_hostgroups', () => {
    const s = setup();
    const db = new AuroraBackend(s.stack, 'Db', { vpc: s.vpc, discovery: { maxLagMs: 5000, checkIntervalMs: 2000, checkTimeoutMs: 1000, writerIsAlsoReader: true } });
    const config = renderedConfig(withProxy(s, db).template);
    expect(config.mysql_aws_aurora_hostgroups).toEqual([expect.objectContaining({
      max_lag_ms: 5000, check_interval_ms: 2000, check_timeout_ms: 1000, writer_is_also_reader: 1,
    })]);
  });
});

describe('ProxySqlBackend.fromAuroraCluster with an imported cluster', () => {
  function imported(s: Setup, attrs: Partial<rds.DatabaseClusterAttributes> = {}) {
    return rds.DatabaseCluster.fromDatabaseClusterAttributes(s.stack, 'Legacy', {
      clusterIdentifier: 'legacy',
      clusterEndpointAddress: 'legacy.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com',
      readerEndpointAddress: 'legacy.cluster-ro-abcdefghijkl.eu-west-1.rds.amazonaws.com',
      port: 3306,
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(s.stack, 'LegacySg', 'sg-0123456789abcdef0')],
      ...attrs,
    });
  }
  function secrets(s: Setup) {
    return {
      admin: secretsmanager.Secret.fromSecretCompleteArn(s.stack, 'Master', 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:legacy-master-AbCdEf'),
      app: secretsmanager.Secret.fromSecretCompleteArn(s.stack, 'App', 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:legacy-app-GhIjKl'),
    };
  }

  test('GIVEN instanceIdentifiers THEN Aurora discovery seeds those instances under the concrete domain', () => {
    const s = setup();
    const { admin, app } = secrets(s);
    const backend = ProxySqlBackend.fromAuroraCluster(imported(s), {
      instanceIdentifiers: ['legacy-1', 'legacy-2'], adminSecret: admin, appUserSecrets: [app],
    });
    const { template } = withProxy(s, backend);
    const config = renderedConfig(template);
    expect(servers(config)).toEqual([
      [10, 'legacy-1.abcdefghijkl.eu-west-1.rds.amazonaws.com', 3306, 1],
      [20, 'legacy-2.abcdefghijkl.eu-west-1.rds.amazonaws.com', 3306, 1],
    ]);
    expect(config.mysql_aws_aurora_hostgroups).toEqual([expect.objectContaining({ domain_name: '.abcdefghijkl.eu-west-1.rds.amazonaws.com', aurora_port: 3306 })]);
    // The imported group admits the proxy tasks and the bootstrap on 3306.
    const rules = ingressInto(template, 'sg-0123456789abcdef0');
    expect(rules.map((r) => [r.FromPort, r.ToPort, r.Description]).sort()).toEqual([
      [3306, 3306, 'ProxySQL database bootstrap'],
      [3306, 3306, 'ProxySQL tasks'],
    ]);
    const bootstrap = Object.values(template.findResources('Custom::ProxySqlDatabaseBootstrap'))[0];
    expect(bootstrap.Properties).toMatchObject({
      WriterHost: 'legacy.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com',
      Port: 3306,
      MonitorPrivileges: 'aurora',
      Tls: true,
      AdminSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:legacy-master-AbCdEf',
    });
  });

  test('GIVEN an imported cluster THEN its admin secret is read by the bootstrap only, the app secret by the bootstrap and the task execution role', () => {
    const s = setup();
    const { admin, app } = secrets(s);
    const { proxy, template } = withProxy(s, ProxySqlBackend.fromAuroraCluster(imported(s), { adminSecret: admin, appUserSecrets: [app] }));
    const json = template.toJSON();
    const id = (secret: secretsmanager.ISecret) => secretIdOf(json, Stack.of(s.stack).resolve(secret.secretArn));
    const adminArns = [`${admin.secretArn}`, `${admin.secretArn}-??????`].map((a) => JSON.stringify(a));
    const appArns = [`${app.secretArn}`, `${app.secretArn}-??????`].map((a) => JSON.stringify(a));
    const readers = secretReaders(template);
    const execution = roleOf(template, 'AWS::ECS::TaskDefinition', 'ExecutionRoleArn');
    const bootstrapRole = Object.keys(readers).find((r) => /ProxyBootstrapFunctionServiceRole/.test(r))!;
    const taskRole = roleOf(template, 'AWS::ECS::TaskDefinition', 'TaskRoleArn');
    expect(Object.keys(readers).sort()).toEqual([bootstrapRole, execution, taskRole].sort());
    const has = (role: string, arns: string[]) => readers[role].some((r) => arns.includes(r));
    expect(has(bootstrapRole, adminArns)).toBe(true);
    expect(has(execution, adminArns)).toBe(false);
    expect(has(taskRole, adminArns)).toBe(false);
    expect(has(taskRole, appArns)).toBe(true);
    expect(has(bootstrapRole, appArns) && has(execution, appArns)).toBe(true);
    expect(readers[execution]).toContain(id(proxy.adminSecret));
    expect(readers[execution]).toContain(id(proxy.monitorSecret));
    expect(readers[bootstrapRole]).toContain(id(proxy.monitorSecret));
    expect(readers[bootstrapRole]).not.toContain(id(proxy.adminSecret));
  });

  test('GIVEN no instanceIdentifiers THEN read_only checks against the cluster and reader endpoints (innodb_read_only)', () => {
    const s = setup();
    const { admin, app } = secrets(s);
    const backend = ProxySqlBackend.fromAuroraCluster(imported(s), { adminSecret: admin, appUserSecrets: [app] });
    const config = renderedConfig(withProxy(s, backend).template);
    expect(servers(config)).toEqual([
      [10, 'legacy.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com', 3306, 1],
      [20, 'legacy.cluster-ro-abcdefghijkl.eu-west-1.rds.amazonaws.com', 3306, 1],
    ]);
    expect(config.mysql_replication_hostgroups).toEqual([expect.objectContaining({ check_type: 'innodb_read_only' })]);
  });

  test('GIVEN useSsl false and a serverVersion THEN servers go without TLS and ProxySQL announces that version', () => {
    const s = setup();
    const { admin, app } = secrets(s);
    const config = renderedConfig(withProxy(s, ProxySqlBackend.fromAuroraCluster(imported(s), {
      adminSecret: admin, appUserSecrets: [app], useSsl: false, serverVersion: '8.0.36',
    })).template);
    expect(servers(config).map(([, , , ssl]) => ssl)).toEqual([0, 0]);
    expect((config.mysql_variables as Row).server_version).toBe('8.0.36');
  });

  test('GIVEN no adminSecret WHEN bootstrap is on THEN synth fails naming the prop; with bootstrap off there is no bootstrap at all', () => {
    const s = setup();
    const { app } = secrets(s);
    const backend = ProxySqlBackend.fromAuroraCluster(imported(s), { appUserSecrets: [app] });
    expect(() => new ProxySqlFargate(s.stack, 'Proxy', { vpc: s.vpc, backend }))
      .toThrow(/ProxySqlFargate: backend must carry an adminSecret while bootstrap is on/);
    const s2 = setup();
    const { template } = withProxy(s2, ProxySqlBackend.fromAuroraCluster(imported(s2), { appUserSecrets: [secrets(s2).app] }), { bootstrap: false });
    template.resourceCountIs('Custom::ProxySqlDatabaseBootstrap', 0);
    expect(ingressInto(template, 'sg-0123456789abcdef0').map((r) => r.Description)).toEqual(['ProxySQL tasks']);
  });

  test('GIVEN AURORA_DISCOVERY without instanceIdentifiers THEN it fails naming instanceIdentifiers', () => {
    const s = setup();
    expect(() => ProxySqlBackend.fromAuroraCluster(imported(s), { topologyMode: AuroraTopologyMode.AURORA_DISCOVERY }))
      .toThrow('ProxySqlBackend.fromAuroraCluster: instanceIdentifiers must name at least one instance with topologyMode AURORA_DISCOVERY (got none); pass them or use AuroraTopologyMode.READ_ONLY_CHECKS');
  });

  test('GIVEN discovery tuning with READ_ONLY_CHECKS THEN it fails naming discovery', () => {
    const s = setup();
    expect(() => ProxySqlBackend.fromAuroraCluster(imported(s), { discovery: { maxLagMs: 1000 } }))
      .toThrow('ProxySqlBackend.fromAuroraCluster: discovery applies only to topologyMode AURORA_DISCOVERY (got READ_ONLY_CHECKS)');
  });

  test('GIVEN instanceIdentifiers with READ_ONLY_CHECKS THEN it fails: they would be ignored', () => {
    const s = setup();
    expect(() => ProxySqlBackend.fromAuroraCluster(imported(s), { instanceIdentifiers: ['legacy-1'], topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS }))
      .toThrow('ProxySqlBackend.fromAuroraCluster: instanceIdentifiers apply only to topologyMode AURORA_DISCOVERY; READ_ONLY_CHECKS uses the cluster and reader endpoints (got legacy-1)');
  });

  test('GIVEN an instance endpoint instead of an identifier THEN it fails naming the entry', () => {
    const s = setup();
    expect(() => ProxySqlBackend.fromAuroraCluster(imported(s), { instanceIdentifiers: ['legacy-1', 'legacy-2.abcdefghijkl.eu-west-1.rds.amazonaws.com'] }))
      .toThrow('ProxySqlBackend.fromAuroraCluster: instanceIdentifiers[1] must be a DB instance identifier (letters, digits, hyphens; not an endpoint) (got "legacy-2.abcdefghijkl.eu-west-1.rds.amazonaws.com")');
  });

  test('GIVEN a reader endpoint as the cluster endpoint THEN discovery refuses it (its domain would be wrong)', () => {
    const s = setup();
    const cluster = imported(s, { clusterEndpointAddress: 'legacy.cluster-ro-abcdefghijkl.eu-west-1.rds.amazonaws.com' });
    const backend = ProxySqlBackend.fromAuroraCluster(cluster, { instanceIdentifiers: ['legacy-1'], adminSecret: secrets(s).admin });
    expect(() => new ProxySqlFargate(s.stack, 'Proxy', { vpc: s.vpc, backend, users: [] }))
      .toThrow('ProxySqlBackend: the cluster endpoint must be the cluster\'s writer endpoint, not its reader or a custom endpoint (got legacy.cluster-ro-abcdefghijkl.eu-west-1.rds.amazonaws.com)');
  });
});

describe('auroraDomainFromClusterEndpoint', () => {
  test('GIVEN a concrete cluster endpoint THEN the domain is everything after ".cluster-", with its dot', () => {
    expect(auroraDomainFromClusterEndpoint('prod-db.cluster-c9akciq32.us-east-1.rds.amazonaws.com')).toBe('.c9akciq32.us-east-1.rds.amazonaws.com');
    expect(auroraDomainFromClusterEndpoint('a.cluster-x.cn-north-1.rds.amazonaws.com.cn')).toBe('.x.cn-north-1.rds.amazonaws.com.cn');
  });

  test('GIVEN a token THEN CloudFormation cuts it with Fn::Select(1, Fn::Split(".cluster-", endpoint))', () => {
    const stack = new Stack();
    const endpoint = Token.asString({ 'Fn::GetAtt': ['Cluster', 'Endpoint.Address'] });
    const domain = auroraDomainFromClusterEndpoint(endpoint);
    expect(Token.isUnresolved(domain)).toBe(true);
    const resolved = stack.resolve(domain);
    expect(resolved).toEqual({
      'Fn::Join': ['', ['.', { 'Fn::Select': [1, { 'Fn::Split': ['.cluster-', { 'Fn::GetAtt': ['Cluster', 'Endpoint.Address'] }] }] }]],
    });
    // What CloudFormation computes from it equals the concrete path.
    const evaluated = evaluate({ Resources: { Cluster: { Type: 'AWS::RDS::DBCluster' } } }, resolved);
    expect(evaluated).toBe(`.${HASH}`);
    expect(evaluated).toBe(auroraDomainFromClusterEndpoint(`cluster.cluster-${HASH}`));
  });

  test.each([
    ['an instance endpoint', 'db-1.c9akciq32.us-east-1.rds.amazonaws.com'],
    ['a marker with no name before it', '.cluster-c9akciq32.us-east-1.rds.amazonaws.com'],
    ['a marker with no domain after it', 'db.cluster-'],
  ])('GIVEN %s THEN it fails naming the shape', (_, endpoint) => {
    expect(() => auroraDomainFromClusterEndpoint(endpoint))
      .toThrow(`ProxySqlBackend: the cluster endpoint must look like <name>.cluster-<id>.<region>.rds.amazonaws.com (got ${endpoint})`);
  });

  test.each([
    'db.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com',
    'analytics.cluster-custom-c9akciq32.us-east-1.rds.amazonaws.com',
  ])('GIVEN the reader or custom endpoint %s THEN it fails', (endpoint) => {
    expect(() => auroraDomainFromClusterEndpoint(endpoint)).toThrow(/must be the cluster's writer endpoint, not its reader or a custom endpoint/);
  });
});

describe('ProxySqlBackend.fromRdsInstances (RDS for MySQL with read replicas)', () => {
  function rdsStack() {
    const s = setup();
    const primary = new rds.DatabaseInstance(s.stack, 'Primary', {
      engine: rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_0 }),
      vpc: s.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
    });
    const replicas = [1, 2].map((n) => new rds.DatabaseInstanceReadReplica(s.stack, `Replica${n}`, {
      sourceDatabaseInstance: primary,
      vpc: s.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
    }));
    const app = new secretsmanager.Secret(s.stack, 'AppSecret', {
      generateSecretString: { secretStringTemplate: '{"username":"shop"}', generateStringKey: 'password' },
    });
    const backend = ProxySqlBackend.fromRdsInstances(primary, { readReplicas: replicas, adminSecret: primary.secret, appUserSecrets: [app] });
    const { proxy, template } = withProxy(s, backend);
    return { s, primary, replicas, app, proxy, template };
  }
  const { primary, replicas, app, proxy, template } = rdsStack();
  const json = template.toJSON();
  const idOf = (c: { node: { defaultChild?: unknown } }) => Stack.of(primary).resolve((c.node.defaultChild as rds.CfnDBInstance).ref).Ref as string;

  test('GIVEN a writer and two replicas THEN the writer and replica endpoints are served, told apart by read_only', () => {
    const config = renderedConfig(template);
    expect(servers(config)).toEqual([
      [10, `${idOf(primary).toLowerCase()}.${HASH}`, 3306, 1],
      ...replicas.map((r) => [20, `${idOf(r).toLowerCase()}.${HASH}`, 3306, 1]),
    ]);
    expect(config.mysql_replication_hostgroups).toEqual([expect.objectContaining({ writer_hostgroup: 10, reader_hostgroup: 20, check_type: 'read_only' })]);
    expect(config.mysql_aws_aurora_hostgroups).toBeUndefined();
    const bootstrap = Object.values(template.findResources('Custom::ProxySqlDatabaseBootstrap'))[0];
    expect(bootstrap.Properties).toMatchObject({
      WriterHost: { 'Fn::GetAtt': [idOf(primary), 'Endpoint.Address'] }, MonitorPrivileges: 'replication', Tls: true,
    });
  });

  test('THEN each instance\'s security group admits the proxy tasks and the bootstrap on the writer port', () => {
    const proxySg = Stack.of(proxy).resolve(proxy.securityGroup.securityGroupId);
    for (const instance of [primary, ...replicas]) {
      const groupId = Stack.of(instance).resolve(instance.connections.securityGroups[0].securityGroupId);
      const rules = ingressInto(template, groupId);
      expect(rules).toHaveLength(2);
      for (const r of rules) {
        expect(r.FromPort).toEqual({ 'Fn::GetAtt': [idOf(primary), 'Endpoint.Port'] });
        expect(r.ToPort).toEqual(r.FromPort);
      }
      expect(rules.map((r) => r.SourceSecurityGroupId)).toContainEqual(proxySg);
      expect(rules.map((r) => r.Description).sort()).toEqual(['ProxySQL database bootstrap', 'ProxySQL tasks']);
    }
  });

  test('THEN the writer and every replica exist before the bootstrap, which precedes the service', () => {
    const bootstrap = logicalIds(template, 'Custom::ProxySqlDatabaseBootstrap')[0];
    expect(dependsOn(template, bootstrap)).toEqual(expect.arrayContaining([primary, ...replicas].map(idOf)));
    expect(dependsOn(template, logicalIds(template, 'AWS::ECS::Service')[0])).toContain(bootstrap);
  });

  test('THEN the writer\'s master secret is read by the bootstrap only; the app secret by the bootstrap and the execution role', () => {
    const id = (secret: secretsmanager.ISecret) => secretIdOf(json, Stack.of(secret).resolve(secret.secretArn));
    const execution = roleOf(template, 'AWS::ECS::TaskDefinition', 'ExecutionRoleArn');
    const bootstrapRole = logicalIds(template, 'AWS::IAM::Role').find((r) => /ProxyBootstrapFunctionServiceRole/.test(r))!;
    const taskRole = roleOf(template, 'AWS::ECS::TaskDefinition', 'TaskRoleArn');
    expect(secretReaders(template)).toEqual({
      [execution]: [id(proxy.adminSecret), id(proxy.monitorSecret), id(app)].sort(),
      [taskRole]: [id(proxy.monitorSecret), id(app)].sort(),
      [bootstrapRole]: [id(primary.secret!), id(proxy.monitorSecret), id(app)].sort(),
    });
  });

  test('GIVEN imported instances with concrete ports THEN the port is a plain number everywhere', () => {
    const s = setup();
    const sg = ec2.SecurityGroup.fromSecurityGroupId(s.stack, 'Sg', 'sg-0aaaaaaaaaaaaaaaa');
    const writer = rds.DatabaseInstance.fromDatabaseInstanceAttributes(s.stack, 'W', {
      instanceIdentifier: 'shop', instanceEndpointAddress: 'shop.abc.eu-west-1.rds.amazonaws.com', port: 3307, securityGroups: [sg],
    });
    const replica = rds.DatabaseInstance.fromDatabaseInstanceAttributes(s.stack, 'R', {
      instanceIdentifier: 'shop-r', instanceEndpointAddress: 'shop-r.abc.eu-west-1.rds.amazonaws.com', port: 3307, securityGroups: [sg],
    });
    const admin = secretsmanager.Secret.fromSecretNameV2(s.stack, 'Admin', 'shop-admin');
    const shopApp = secretsmanager.Secret.fromSecretNameV2(s.stack, 'App', 'shop-app');
    const backend = ProxySqlBackend.fromRdsInstances(writer, {
      readReplicas: [replica], adminSecret: admin, appUserSecrets: [shopApp], useSsl: false,
    });
    const { template: t } = withProxy(s, backend);
    const config = renderedConfig(t);
    expect(servers(config)).toEqual([
      [10, 'shop.abc.eu-west-1.rds.amazonaws.com', 3307, 0],
      [20, 'shop-r.abc.eu-west-1.rds.amazonaws.com', 3307, 0],
    ]);
    const rules = ingressInto(t, 'sg-0aaaaaaaaaaaaaaaa');
    expect(rules.map((r) => [r.FromPort, r.ToPort])).toEqual([[3307, 3307], [3307, 3307]]);
    expect(Object.values(t.findResources('Custom::ProxySqlDatabaseBootstrap'))[0].Properties).toMatchObject({ Port: 3307, WriterHost: 'shop.abc.eu-west-1.rds.amazonaws.com' });
  });
});

describe('ProxySqlBackend.fromRdsInstances validation', () => {
  test('GIVEN a replica on another port than the writer THEN it fails naming the replica', () => {
    const s = setup();
    const at = (id: string, port: number) => rds.DatabaseInstance.fromDatabaseInstanceAttributes(s.stack, id, {
      instanceIdentifier: id, instanceEndpointAddress: `${id}.abc.eu-west-1.rds.amazonaws.com`, port, securityGroups: [],
    });
    expect(() => ProxySqlBackend.fromRdsInstances(at('w', 3306), { readReplicas: [at('r1', 3306), at('r2', 3307)] }))
      .toThrow('ProxySqlBackend.fromRdsInstances: readReplicas[1] must listen on the writer\'s port (3306) so one security rule covers every instance (got 3307)');
  });
});

describe('ProxySqlBackend.fromEndpoints (any MySQL)', () => {
  function endpointsStack(extra: Partial<Parameters<typeof ProxySqlBackend.fromEndpoints>[0]> = {}, proxyExtra: Partial<ProxySqlFargateProps> = {}) {
    const s = setup();
    const admin = secretsmanager.Secret.fromSecretNameV2(s.stack, 'Admin', 'mysql-admin');
    const app = secretsmanager.Secret.fromSecretNameV2(s.stack, 'App', 'mysql-app');
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'mysql-primary.corp.internal', port: 3306 },
      readers: [{ host: '10.0.3.21', port: 3306 }, { host: 'mysql-replica-2.corp.internal', port: 3306 }],
      adminSecret: admin,
      appUserSecrets: [app],
      ...extra,
    });
    return { s, admin, app, ...withProxy(s, backend, proxyExtra) };
  }

  test('GIVEN a writer and readers THEN they are served as given, without TLS by default, told apart by read_only', () => {
    const { template } = endpointsStack();
    const config = renderedConfig(template);
    expect(servers(config)).toEqual([
      [10, 'mysql-primary.corp.internal', 3306, 0],
      [20, '10.0.3.21', 3306, 0],
      [20, 'mysql-replica-2.corp.internal', 3306, 0],
    ]);
    expect(config.mysql_replication_hostgroups).toEqual([expect.objectContaining({ check_type: 'read_only' })]);
    expect(config.mysql_aws_aurora_hostgroups).toBeUndefined();
    // Reads fall back to the writer: it is also a reader, with weight 1 against the readers' 1000.
    expect(fallbackRow(config)).toMatchObject({ hostgroup_id: 20, weight: 1, use_ssl: 0 });
    const readerWeights = (config.mysql_servers as Row[]).filter((r) => r !== fallbackRow(config) && r.hostgroup_id === 20).map((r) => r.weight);
    expect(readerWeights).toEqual([1000, 1000]);
    expect((config.mysql_variables as Row).monitor_writer_is_also_reader).toBe(true);
    expect(Object.values(template.findResources('Custom::ProxySqlDatabaseBootstrap'))[0].Properties).toMatchObject({
      WriterHost: 'mysql-primary.corp.internal', Port: 3306, MonitorPrivileges: 'replication', Tls: false,
    });
  });

  test('GIVEN no engine THEN ProxySQL announces MySQL 8.0.39 with its own charset defaults (as before the prop)', () => {
    const vars = renderedConfig(endpointsStack().template).mysql_variables as Row;
    expect(vars.server_version).toBe('8.0.39');
    expect(vars.default_charset).toBeUndefined();
    expect(vars.default_collation_connection).toBeUndefined();
    const explicit = renderedConfig(endpointsStack({ engine: ProxySqlEngine.MYSQL_8_0 }).template).mysql_variables as Row;
    expect([explicit.server_version, explicit.default_charset, explicit.default_collation_connection]).toEqual(['8.0.39', undefined, undefined]);
  });

  test('GIVEN engine MariaDB THEN ProxySQL announces MariaDB\'s 5.5.5- version and utf8mb4 with a collation MariaDB knows', () => {
    const vars = renderedConfig(endpointsStack({ engine: ProxySqlEngine.mariaDb('10.11.9') }).template).mysql_variables as Row;
    expect(vars.server_version).toBe('5.5.5-10.11.9-MariaDB');
    expect(vars.default_charset).toBe('utf8mb4');
    expect(vars.default_collation_connection).toBe('utf8mb4_general_ci');
    expect(ProxySqlEngine.mariaDb('11.4').serverVersion).toBe('5.5.5-11.4-MariaDB');
  });

  test.each([
    ['5.5', 'ProxySqlEngine.mariaDb: version must be a MariaDB version from 10.0 on, like 10.11 or 10.11.9 (got "5.5")'],
    ['10', 'ProxySqlEngine.mariaDb: version must be a MariaDB version from 10.0 on, like 10.11 or 10.11.9 (got "10")'],
    ['10.11.9-MariaDB', 'ProxySqlEngine.mariaDb: version must be a MariaDB version from 10.0 on, like 10.11 or 10.11.9 (got "10.11.9-MariaDB")'],
    ['latest', 'ProxySqlEngine.mariaDb: version must be a MariaDB version from 10.0 on, like 10.11 or 10.11.9 (got "latest")'],
  ])('GIVEN mariaDb(%s) THEN it fails naming the rule and the value', (version, message) => {
    expect(() => ProxySqlEngine.mariaDb(version)).toThrow(message);
  });

  test('GIVEN a token version THEN mariaDb refuses it by name', () => {
    expect(() => ProxySqlEngine.mariaDb(Token.asString({ Ref: 'Version' })))
      .toThrow('ProxySqlEngine.mariaDb: version must be a literal like 10.11 (the announced version is built at synth) (got a token)');
  });

  test('GIVEN engine and serverVersion THEN fromEndpoints fails naming both', () => {
    expect(() => ProxySqlBackend.fromEndpoints({ writer: { host: 'db', port: 3306 }, engine: ProxySqlEngine.mariaDb('10.11'), serverVersion: '8.0.36' }))
      .toThrow('ProxySqlBackend.fromEndpoints: give engine or serverVersion, not both (the engine sets the announced version) (got engine 5.5.5-10.11-MariaDB and serverVersion 8.0.36)');
  });

  test('GIVEN useSsl and another replicationCheck THEN both reach the config', () => {
    const config = renderedConfig(endpointsStack({ useSsl: true, replicationCheck: ReplicationCheck.SUPER_READ_ONLY }).template);
    expect(servers(config).map(([, , , ssl]) => ssl)).toEqual([1, 1, 1]);
    expect(config.mysql_replication_hostgroups).toEqual([expect.objectContaining({ check_type: 'super_read_only' })]);
  });

  test('GIVEN no security groups THEN no ingress rule is made and the bootstrap may reach the database port anywhere (the network is the user\'s)', () => {
    const { template } = endpointsStack();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1); // the proxy tasks from the NLB, nothing into a database
    const bootstrapSg = Object.values(template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: 'ProxySQL database bootstrap function' } }))[0];
    expect(bootstrapSg.Properties.SecurityGroupEgress).toEqual(expect.arrayContaining([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 3306, ToPort: 3306, IpProtocol: 'tcp' }),
    ]));
  });

  test('GIVEN security groups THEN each admits the proxy tasks and the bootstrap on the writer port', () => {
    const s = setup();
    const groups = ['sg-0bbbbbbbbbbbbbbbb', 'sg-0cccccccccccccccc'].map((id) => ec2.SecurityGroup.fromSecurityGroupId(s.stack, id, id));
    const backend = ProxySqlBackend.fromEndpoints({
      writer: { host: 'mysql-primary.corp.internal', port: 3307 },
      readers: [{ host: 'mysql-replica.corp.internal', port: 3307 }],
      securityGroups: groups,
      adminSecret: secretsmanager.Secret.fromSecretNameV2(s.stack, 'Admin', 'mysql-admin'),
      appUserSecrets: [secretsmanager.Secret.fromSecretNameV2(s.stack, 'App', 'mysql-app')],
    });
    const { template } = withProxy(s, backend);
    for (const id of ['sg-0bbbbbbbbbbbbbbbb', 'sg-0cccccccccccccccc']) {
      expect(ingressInto(template, id).map((r) => [r.Description, r.FromPort, r.ToPort]).sort()).toEqual([
        ['ProxySQL database bootstrap', 3307, 3307],
        ['ProxySQL tasks', 3307, 3307],
      ]);
    }
  });

  test('GIVEN plain endpoints THEN the admin secret goes to the bootstrap only and the app secret to the bootstrap and the execution role', () => {
    const { template, admin, app } = endpointsStack();
    const readers = secretReaders(template);
    const execution = roleOf(template, 'AWS::ECS::TaskDefinition', 'ExecutionRoleArn');
    const bootstrapRole = Object.keys(readers).find((r) => /ProxyBootstrapFunctionServiceRole/.test(r))!;
    const taskRole = roleOf(template, 'AWS::ECS::TaskDefinition', 'TaskRoleArn');
    expect(Object.keys(readers).sort()).toEqual([bootstrapRole, execution, taskRole].sort());
    const json = template.toJSON();
    const grants = (secret: secretsmanager.ISecret) => secretIdOf(json, Stack.of(secret).resolve(`${secret.secretArn}-??????`));
    expect(readers[bootstrapRole]).toContain(grants(admin));
    expect(readers[execution]).not.toContain(grants(admin));
    expect(readers[taskRole]).not.toContain(grants(admin));
    expect(readers[taskRole]).toContain(grants(app));
    expect(readers[bootstrapRole]).toContain(grants(app));
    expect(readers[execution]).toContain(grants(app));
  });

  test('GIVEN no readers THEN only the writer is served and plain reads stay on it', () => {
    const config = renderedConfig(endpointsStack({ readers: undefined }).template);
    expect(servers(config)).toEqual([[10, 'mysql-primary.corp.internal', 3306, 0]]);
    expect((config.mysql_query_rules as Row[]).every((r) => r.destination_hostgroup === 10)).toBe(true);
  });

  const base = { writer: { host: 'db.internal', port: 3306 } };
  test.each([
    ['an empty writer host', { ...base, writer: { host: '', port: 3306 } }, 'ProxySqlBackend: writer.host must be a host name or IP address (got "")'],
    ['a blank reader host', { ...base, readers: [{ host: '  ', port: 3306 }] }, 'ProxySqlBackend: readers[0].host must be a host name or IP address (got "  ")'],
    ['a host with a port', { ...base, writer: { host: 'db.internal:3306', port: 3306 } },
      'ProxySqlBackend: writer.host must be a bare host name or IP address, without port, scheme, path, quotes or spaces (got "db.internal:3306")'],
    ['a host with a scheme', { ...base, readers: [{ host: 'mysql://replica', port: 3306 }] },
      'ProxySqlBackend: readers[0].host must be a bare host name or IP address, without port, scheme, path, quotes or spaces (got "mysql://replica")'],
    ['a host with a quote', { ...base, writer: { host: 'db"x', port: 3306 } },
      'ProxySqlBackend: writer.host must be a bare host name or IP address, without port, scheme, path, quotes or spaces (got "db\\"x")'],
    ['a bracketed IPv6 address with a port', { ...base, writer: { host: '[2001:db8::10]:3306', port: 3306 } },
      'ProxySqlBackend: writer.host must be a bare IPv6 address, without brackets or port (write 2001:db8::10 and give the port in port) (got "[2001:db8::10]:3306")'],
    ['a bracketed IPv6 address', { ...base, readers: [{ host: '[fd00::11]', port: 3306 }] },
      'ProxySqlBackend: readers[0].host must be a bare IPv6 address, without brackets or port (write 2001:db8::10 and give the port in port) (got "[fd00::11]")'],
    ['port 0', { ...base, writer: { host: 'db', port: 0 } }, 'ProxySqlBackend: writer.port must be a whole number from 1 to 65535 (got 0)'],
    ['port 65536', { ...base, writer: { host: 'db', port: 65536 } }, 'ProxySqlBackend: writer.port must be a whole number from 1 to 65535 (got 65536)'],
    ['a fractional port', { ...base, readers: [{ host: 'r', port: 3306.5 }] }, 'ProxySqlBackend: readers[0].port must be a whole number from 1 to 65535 (got 3306.5)'],
    // Python and Java callers can leave out a field TypeScript requires.
    ['a writer without a port', { writer: { host: 'db' } }, 'ProxySqlBackend: writer.port is required (a whole number from 1 to 65535) (got undefined)'],
    ['a reader without a port', { ...base, readers: [{ host: 'r' }] }, 'ProxySqlBackend: readers[0].port is required (a whole number from 1 to 65535) (got undefined)'],
    ['no writer', {}, 'ProxySqlBackend.fromEndpoints: writer is required ({ host, port } of the primary) (got undefined)'],
    ['a reader on another port', { ...base, readers: [{ host: 'r1', port: 3306 }, { host: 'r2', port: 3307 }] },
      'ProxySqlBackend.fromEndpoints: readers[1].port must equal writer.port (3306) so one security rule covers every server (got 3307)'],
  ])('GIVEN %s THEN fromEndpoints fails naming the prop', (_, options, message) => {
    expect(() => ProxySqlBackend.fromEndpoints(options as never)).toThrow(message);
  });

  test('GIVEN IPv6 literals and token hosts/ports THEN they are accepted', () => {
    expect(() => ProxySqlBackend.fromEndpoints({ writer: { host: 'fd00::10', port: 3306 }, readers: [{ host: '::1', port: 3306 }] })).not.toThrow();
    expect(() => ProxySqlBackend.fromEndpoints({
      writer: { host: Token.asString({ Ref: 'Host' }), port: Token.asNumber({ Ref: 'Port' }) },
      readers: [{ host: Token.asString({ Ref: 'ReaderHost' }), port: 3307 }],
    })).not.toThrow();
  });
});
