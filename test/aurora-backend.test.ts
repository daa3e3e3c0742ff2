import { App, CfnElement, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { AppUserRotation, AuroraBackend, AuroraBackendProps, AuroraTopologyMode, MonitorPrivileges, ReplicationCheck } from '../src';
import { SAFE_SECRET_EXCLUDED_CHARACTERS } from '../src/private/secrets';

function make(props: Partial<AuroraBackendProps> = {}, vpcProps: ec2.VpcProps = { maxAzs: 2 }) {
  const stack = new Stack(new App(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', vpcProps);
  const db = new AuroraBackend(stack, 'Db', { vpc, ...props });
  return { stack, vpc, db, template: Template.fromStack(stack) };
}

function instances(template: Template) {
  return Object.entries(template.findResources('AWS::RDS::DBInstance')).map(([id, r]) => ({ id, ...r.Properties }));
}

/** Characters a generated password must never hold: ProxySQL pastes passwords into SQL, splits admin credentials on :/; */
const MUST_EXCLUDE = ['\'', '"', ':', ';', '\\'];

describe('AuroraBackend defaults', () => {
  const { db, template, stack } = make();

  test('GIVEN defaults THEN an encrypted Aurora MySQL 3 cluster with 7-day backups, snapshot on removal and deletion protection', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-mysql',
      EngineVersion: Match.stringLikeRegexp('^8\\.0\\.mysql_aurora\\.3\\.'),
      StorageEncrypted: true,
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      MasterUsername: 'clusteradmin',
      ServerlessV2ScalingConfiguration: Match.absent(),
    });
    template.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
    // A kept snapshot needs its passwords: both generated secrets are kept with it.
    expect(Object.values(template.findResources('AWS::SecretsManager::Secret')).map((r) => r.DeletionPolicy)).toEqual(['Retain', 'Retain']);
  });

  test('GIVEN defaults THEN a writer and one reader on Graviton (db.r7g.large), the reader first in line for failover', () => {
    const all = instances(template);
    expect(all).toHaveLength(2);
    expect(all.map((i) => i.DBInstanceClass)).toEqual(['db.r7g.large', 'db.r7g.large']);
    const writer = all.find((i) => /Writer/.test(i.id))!;
    const reader = all.find((i) => /Reader1/.test(i.id))!;
    expect(writer.PromotionTier).toBe(0);
    expect(reader.PromotionTier).toBe(1);
    expect(all.every((i) => i.PubliclyAccessible === false)).toBe(true);
  });

  test('GIVEN a VPC with private subnets with egress only THEN the cluster uses them', () => {
    const subnets = Object.values(template.findResources('AWS::RDS::DBSubnetGroup'))[0].Properties.SubnetIds;
    const vpc = db.cluster.vpc as ec2.Vpc;
    expect(subnets).toEqual(vpc.privateSubnets.map((s) => stack.resolve(s.subnetId)));
  });

  test('GIVEN defaults THEN master and app secrets are generated without the characters ProxySQL cannot carry', () => {
    const secrets = Object.values(template.findResources('AWS::SecretsManager::Secret')).map((r) => r.Properties.GenerateSecretString);
    expect(secrets).toHaveLength(2);
    for (const gen of secrets) {
      for (const c of MUST_EXCLUDE) expect(gen.ExcludeCharacters).toContain(c);
      expect(gen.GenerateStringKey).toBe('password');
    }
    expect(secrets.map((g) => JSON.parse(g.SecretStringTemplate))).toEqual(expect.arrayContaining([
      { username: 'clusteradmin' },
      { username: 'app', dbname: 'app' },
    ]));
    expect(db.databaseName).toBe('app');
  });

  test('GIVEN defaults THEN masterSecret is the cluster\'s secret and appUserSecret a separate one', () => {
    expect(db.masterSecret).toBe(db.cluster.secret);
    expect(stack.resolve(db.appUserSecret.secretArn)).not.toEqual(stack.resolve(db.masterSecret.secretArn));
    expect(db.connections).toBe(db.cluster.connections);
  });

  test('WHEN bound THEN it describes Aurora discovery over every instance, the master as admin and the app user as default user', () => {
    const config = db.bind(stack);
    expect(config.monitorPrivileges).toBe(MonitorPrivileges.AURORA);
    expect(config.adminSecret).toBe(db.masterSecret);
    expect(config.defaultUserSecrets).toEqual([db.appUserSecret]);
    expect(config.tlsWithRdsCertificates).toBe(true);
    expect(config.dependables).toEqual([db.cluster]);
    expect(config.connections).toBe(db.cluster.connections);
    expect(stack.resolve(config.writerEndpoint)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbCluster/), 'Endpoint.Address'] });
    expect(config.topology.auroraDiscovery).toBeDefined();
    expect(config.topology.replicationCheck).toBeUndefined();
    expect(config.topology.readers).toHaveLength(1);
    expect(config.topology.serverVersion).toBe('8.0.42');
  });
});

describe('AuroraBackend props', () => {
  test('GIVEN readers: 3 and an instance type THEN a writer and three readers of that type', () => {
    const { template } = make({ readers: 3, instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.XLARGE) });
    const all = instances(template);
    expect(all).toHaveLength(4);
    expect(new Set(all.map((i) => i.DBInstanceClass))).toEqual(new Set(['db.r6g.xlarge']));
  });

  test('GIVEN readers: 0 THEN the writer only', () => {
    const { template, db, stack } = make({ readers: 0 });
    expect(instances(template)).toHaveLength(1);
    expect(db.bind(stack).topology.readers).toEqual([]);
  });

  test('GIVEN serverlessV2 THEN serverless instances with the default capacity range 0.5–4 ACU', () => {
    const { template } = make({ serverlessV2: true });
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } });
    const all = instances(template);
    expect(all.map((i) => i.DBInstanceClass)).toEqual(['db.serverless', 'db.serverless']);
  });

  test('GIVEN serverlessV2 with a capacity range THEN that range', () => {
    const { template } = make({ serverlessV2: true, serverlessV2MinCapacity: 1, serverlessV2MaxCapacity: 16 });
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 1, MaxCapacity: 16 } });
  });

  test('GIVEN removal and retention props THEN they reach the cluster', () => {
    const { template } = make({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false, backupRetention: Duration.days(14) });
    template.hasResourceProperties('AWS::RDS::DBCluster', { DeletionProtection: false, BackupRetentionPeriod: 14 });
    template.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Delete' });
    expect(Object.values(template.findResources('AWS::SecretsManager::Secret')).map((r) => r.DeletionPolicy)).toEqual(['Delete', 'Delete']);
  });

  test('GIVEN names and an engine version THEN they reach the cluster and the secrets', () => {
    const { template, db } = make({
      masterUsername: 'root_admin', appUsername: 'shop', databaseName: 'shopdb', engineVersion: rds.AuroraMysqlEngineVersion.VER_3_08_0,
    });
    template.hasResourceProperties('AWS::RDS::DBCluster', { MasterUsername: 'root_admin', EngineVersion: '8.0.mysql_aurora.3.08.0' });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: JSON.stringify({ username: 'shop', dbname: 'shopdb' }) }),
    });
    expect(db.databaseName).toBe('shopdb');
  });

  test('GIVEN a VPC with isolated subnets THEN the cluster goes there', () => {
    const { template, vpc } = make({}, {
      maxAzs: 2,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const subnets = Object.values(template.findResources('AWS::RDS::DBSubnetGroup'))[0].Properties.SubnetIds;
    expect(subnets).toEqual(vpc.isolatedSubnets.map((s) => Stack.of(s).resolve(s.subnetId)));
  });

  test('GIVEN READ_ONLY_CHECKS THEN bound as cluster + reader endpoints with innodb_read_only', () => {
    const { db, stack } = make({ topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS });
    const config = db.bind(stack);
    expect(config.monitorPrivileges).toBe(MonitorPrivileges.READ_ONLY_CHECKS);
    expect(config.topology.replicationCheck).toBe(ReplicationCheck.INNODB_READ_ONLY);
    expect(config.topology.auroraDiscovery).toBeUndefined();
    expect(stack.resolve(config.topology.readers![0].host)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbCluster/), 'ReadEndpoint.Address'] });
  });
});

describe('AuroraBackend validation', () => {
  test.each([-1, 16, 1.5])('GIVEN readers %p THEN it fails naming readers', (readers) => {
    expect(() => make({ readers })).toThrow(`AuroraBackend: readers must be a whole number from 0 to 15 (Aurora's limit) (got ${readers})`);
  });

  test.each([
    [{ serverlessV2MinCapacity: 1 }],
    [{ serverlessV2MaxCapacity: 8 }],
    [{ serverlessV2: false, serverlessV2MinCapacity: 1, serverlessV2MaxCapacity: 8 }],
  ])('GIVEN serverless capacity %p without serverlessV2 THEN it fails', (props) => {
    expect(() => make(props)).toThrow('AuroraBackend: serverlessV2MinCapacity and serverlessV2MaxCapacity need serverlessV2: true (got serverlessV2 unset or false)');
  });

  test.each([
    ['serverlessV2MinCapacity', { serverlessV2MinCapacity: 0.3 }, 'from 0 to 256 ACU in steps of 0.5 (got 0.3)'],
    ['serverlessV2MinCapacity', { serverlessV2MinCapacity: -1 }, 'from 0 to 256 ACU in steps of 0.5 (got -1)'],
    ['serverlessV2MaxCapacity', { serverlessV2MaxCapacity: 0.5 }, 'from 1 to 256 ACU in steps of 0.5 (got 0.5)'],
    ['serverlessV2MaxCapacity', { serverlessV2MaxCapacity: 300 }, 'from 1 to 256 ACU in steps of 0.5 (got 300)'],
  ])('GIVEN a bad %s THEN it fails naming it', (prop, props, rule) => {
    expect(() => make({ serverlessV2: true, ...props })).toThrow(`AuroraBackend: ${prop} must be ${rule}`);
  });

  test('GIVEN serverless capacity 0 (scale to zero) to 2 THEN it is accepted', () => {
    make({ serverlessV2: true, serverlessV2MinCapacity: 0, serverlessV2MaxCapacity: 2 }).template
      .hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2 } });
  });

  test.each([
    ['readers', { readers: Token.asNumber(Fn.ref('Readers')) }, 'one reader instance is created per unit at synth time'],
    ['serverlessV2MinCapacity', { serverlessV2: true, serverlessV2MinCapacity: Token.asNumber(Fn.ref('Min')) }, 'aws-cdk-lib checks the capacity range at synth time'],
    ['serverlessV2MaxCapacity', { serverlessV2: true, serverlessV2MaxCapacity: Token.asNumber(Fn.ref('Max')) }, 'aws-cdk-lib checks the capacity range at synth time'],
  ])('GIVEN %s as a token THEN it fails naming the prop (no silent fallback)', (prop, props, why) => {
    expect(() => make(props)).toThrow(`AuroraBackend: ${prop} must be a concrete number, not a token: ${why} (got a token)`);
  });

  test('GIVEN backupRetention as a token THEN it reaches the cluster', () => {
    const { template } = make({ backupRetention: Duration.days(Token.asNumber(Fn.ref('Days'))) });
    template.hasResourceProperties('AWS::RDS::DBCluster', { BackupRetentionPeriod: { Ref: 'Days' } });
  });

  test('GIVEN a VPC with public subnets only THEN it fails naming vpcSubnets', () => {
    expect(() => make({}, { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'pub', subnetType: ec2.SubnetType.PUBLIC }] }))
      .toThrow('AuroraBackend: vpcSubnets must select subnets for the cluster, and the VPC has no isolated or private subnets to default to (got a VPC with 2 public subnets only)');
  });

  test('GIVEN instanceType with serverlessV2 THEN it fails naming instanceType', () => {
    expect(() => make({ serverlessV2: true, instanceType: ec2.InstanceType.of(ec2.InstanceClass.R7G, ec2.InstanceSize.LARGE) }))
      .toThrow('AuroraBackend: instanceType applies to provisioned instances only (got r7g.large with serverlessV2: true)');
  });

  test('GIVEN READ_ONLY_CHECKS with no readers THEN it fails: the reader endpoint would be the writer', () => {
    expect(() => make({ topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS, readers: 0 }))
      .toThrow('AuroraBackend: topologyMode READ_ONLY_CHECKS sends reads to the reader endpoint, which needs readers >= 1 (got readers: 0)');
  });

  test('GIVEN the same app and master user name THEN it fails naming appUsername', () => {
    expect(() => make({ appUsername: 'admin', masterUsername: 'admin' }))
      .toThrow('AuroraBackend: appUsername must differ from masterUsername (got admin for both)');
  });

  test('GIVEN discovery tuning with READ_ONLY_CHECKS THEN it fails naming discovery', () => {
    expect(() => make({ topologyMode: AuroraTopologyMode.READ_ONLY_CHECKS, discovery: { maxLagMs: 1000 } }))
      .toThrow('ProxySqlBackend.fromAuroraCluster: discovery applies only to topologyMode AURORA_DISCOVERY (got READ_ONLY_CHECKS)');
  });
});

describe('AuroraBackend appUserRotation', () => {
  type Resource = { Type: string; Properties: Record<string, unknown> };
  const ofType = (template: Template, type: string) => Object.entries(template.toJSON().Resources as Record<string, Resource>)
    .filter(([, r]) => r.Type === type);

  test('GIVEN alternatingUsers() THEN the secret names the master secret, is attached to the cluster and rotates every 30 days with the multi-user function', () => {
    const { stack, db, template } = make({ appUserRotation: AppUserRotation.alternatingUsers() });
    const appSecretId = stack.getLogicalId(db.node.findChild('AppUserSecret').node.defaultChild as CfnElement);
    const generate = (template.toJSON().Resources[appSecretId] as Resource).Properties.GenerateSecretString as { SecretStringTemplate: unknown };
    expect(JSON.stringify(generate.SecretStringTemplate)).toContain('masterarn');
    const attachments = ofType(template, 'AWS::SecretsManager::SecretTargetAttachment');
    expect(attachments.map(([, r]) => JSON.stringify(r.Properties.SecretId))).toContain(JSON.stringify({ Ref: appSecretId }));
    const schedules = ofType(template, 'AWS::SecretsManager::RotationSchedule');
    const forApp = schedules.filter(([, r]) => JSON.stringify(r.Properties.SecretId) === JSON.stringify(stack.resolve(db.appUserSecret.secretArn)));
    expect(forApp).toHaveLength(1);
    expect(JSON.stringify(forApp[0][1].Properties.RotationRules)).toContain('rate(30 days)');
    const apps = ofType(template, 'AWS::Serverless::Application');
    expect(apps).toHaveLength(1);
    // The application is named in the template's mapping (one per partition).
    expect(JSON.stringify(template.toJSON().Mappings)).toContain('SecretsManagerRDSMySQLRotationMultiUser');
    expect(JSON.stringify(template.toJSON().Mappings)).not.toContain('SecretsManagerRDSMySQLRotationSingleUser');
    const parameters = apps[0][1].Properties.Parameters as Record<string, unknown>;
    expect(parameters.excludeCharacters).toBe(SAFE_SECRET_EXCLUDED_CHARACTERS);
    expect(parameters.masterSecretArn).toEqual(stack.resolve(db.masterSecret.secretArn));
    expect(db.appUserRotation).toBeDefined();
  });

  test('GIVEN singleUser() THEN the single-user function, and the secret names no master secret', () => {
    const { stack, db, template } = make({ appUserRotation: AppUserRotation.singleUser({ automaticallyAfter: Duration.days(7) }) });
    const appSecretId = stack.getLogicalId(db.node.findChild('AppUserSecret').node.defaultChild as CfnElement);
    const generate = (template.toJSON().Resources[appSecretId] as Resource).Properties.GenerateSecretString as { SecretStringTemplate: unknown };
    expect(JSON.stringify(generate.SecretStringTemplate)).not.toContain('masterarn');
    const apps = ofType(template, 'AWS::Serverless::Application');
    expect(apps).toHaveLength(1);
    expect(JSON.stringify(template.toJSON().Mappings)).toContain('SecretsManagerRDSMySQLRotationSingleUser');
    expect(JSON.stringify(template.toJSON().Mappings)).not.toContain('SecretsManagerRDSMySQLRotationMultiUser');
    expect(JSON.stringify(ofType(template, 'AWS::SecretsManager::RotationSchedule')[0][1].Properties.RotationRules)).toContain('rate(7 days)');
  });

  test('GIVEN no appUserRotation THEN no rotation schedule and a secret without host', () => {
    const { template } = make();
    expect(ofType(template, 'AWS::SecretsManager::RotationSchedule')).toHaveLength(0);
    expect(ofType(template, 'AWS::SecretsManager::SecretTargetAttachment')).toHaveLength(1); // the master secret's only
  });

  test('an appUsername too long for its clone is refused with alternating users', () => {
    expect(() => make({ appUsername: 'a'.repeat(27), appUserRotation: AppUserRotation.alternatingUsers() }))
      .toThrow("AuroraBackend: appUsername must be at most 26 characters with alternating-users rotation (the rotation adds '_clone', and MySQL user names have at most 32) (got 27 characters)");
    expect(() => make({ appUsername: 'a'.repeat(26), appUserRotation: AppUserRotation.alternatingUsers() })).not.toThrow();
  });

  test('GIVEN a VPC without private subnets with egress THEN synth warns that the rotation function needs a Secrets Manager endpoint', () => {
    const { stack } = make({ appUserRotation: AppUserRotation.alternatingUsers() },
      { maxAzs: 2, subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    Annotations.fromStack(stack).hasWarning('/Test/Db', Match.stringLikeRegexp('appUserRotation: the VPC has no private subnets with egress'));
  });
});
