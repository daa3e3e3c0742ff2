/**
 * TLS props in the template (issue #15): what reaches the container, as what, and what is refused.
 * The behaviour itself is proven against the real ProxySQL in test/dataplane/tls.test.ts.
 */
import { X509Certificate } from 'crypto';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraBackend, ProxySqlBackend, ProxySqlFargate, ProxySqlFargateProps, ProxySqlTlsCertificate, ProxySqlUser } from '../src';
import { rdsCaCertificatesByRegion } from '../src/private/rds-ca';

// Any PEM certificate will do for the template tests: the first of the bundled RDS roots.
const SOME_CA = rdsCaCertificatesByRegion()['eu-west-1'].split(/(?<=-----END CERTIFICATE-----)\n/)[0] + '\n';

type Container = {
  Environment: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
};

function container(template: Template): Container {
  const [td] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return td.Properties.ContainerDefinitions[0];
}

function env(template: Template, name: string): unknown {
  return container(template).Environment.find((e) => e.Name === name)?.Value;
}

function aurora(extra: Partial<ProxySqlFargateProps> = {}, region?: string) {
  const stack = new Stack(new App(), 'Test', region ? { env: { region, account: '111111111111' } } : {});
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Db', { vpc });
  const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, ...extra });
  return { stack, proxy, template: Template.fromStack(stack) };
}

function endpoints(backend: { useSsl?: boolean; serverCaPem?: string } = {}, extra: Partial<ProxySqlFargateProps> = {}) {
  const stack = new Stack(new App(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const admin = new secretsmanager.Secret(stack, 'Admin');
  const app = new secretsmanager.Secret(stack, 'App');
  const proxy = new ProxySqlFargate(stack, 'Proxy', {
    vpc,
    backend: ProxySqlBackend.fromEndpoints({ writer: { host: 'db.corp.internal', port: 3306 }, adminSecret: admin, appUserSecrets: [app], databaseMaxConnections: 500, ...backend }),
    ...extra,
  });
  return { stack, proxy, template: Template.fromStack(stack), app };
}

describe('client TLS: requireTls and a brought certificate', () => {
  test('GIVEN requireTls THEN every application user gets use_ssl=1; without it, 0', () => {
    expect(JSON.stringify(env(aurora({ requireTls: true }).template, 'PROXYSQL_CONFIG_TEMPLATE'))).toMatch(/USER_0_PASSWORD:sq}[^}]*use_ssl=1/);
    expect(JSON.stringify(env(aurora().template, 'PROXYSQL_CONFIG_TEMPLATE'))).toMatch(/USER_0_PASSWORD:sq}[^}]*use_ssl=0/);
  });

  test('GIVEN tlsCertificate THEN certificate, key and chain are ECS secret references to their JSON keys, never values', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc });
    const cert = new secretsmanager.Secret(stack, 'Cert');
    new ProxySqlFargate(stack, 'Proxy', {
      vpc,
      backend: db,
      requireTls: true,
      tlsCertificate: ProxySqlTlsCertificate.fromSecret(cert, { privateKey: 'key' }),
    });
    const template = Template.fromStack(stack);
    const certId = stack.getLogicalId(cert.node.defaultChild as secretsmanager.CfnSecret);
    const ref = (field: string) => ({ 'Fn::Join': ['', [{ Ref: certId }, `:${field}::`]] });
    expect(container(template).Secrets).toEqual(expect.arrayContaining([
      { Name: 'PROXYSQL_TLS_CERTIFICATE', ValueFrom: ref('certificate') },
      { Name: 'PROXYSQL_TLS_PRIVATE_KEY', ValueFrom: ref('key') },
      { Name: 'PROXYSQL_TLS_CERTIFICATE_CHAIN', ValueFrom: ref('certificateChain') },
    ]));
    expect(container(template).Environment.map((e) => e.Name).filter((n) => n.startsWith('PROXYSQL_TLS'))).toEqual([]);
    // No key material anywhere (the start script only names the PEM header it checks for).
    expect(JSON.stringify(template.toJSON())).not.toMatch(/PRIVATE KEY-----\\n[A-Za-z0-9+/]/);
    // The execution role may read the certificate's secret (ECS fetches it at task start).
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: certId } })]) },
    });
  });

  test.each([
    ['requireTls with frontendTls false', { requireTls: true, frontendTls: false }, /requireTls needs frontendTls .*\(got "requireTls true with frontendTls false"\)/],
    ['tlsCertificate with frontendTls false', { frontendTls: false }, /tlsCertificate needs frontendTls/],
  ] as Array<[string, Partial<ProxySqlFargateProps>, RegExp]>)('refuses %s, naming the prop', (_name, props, message) => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc });
    const extra = props.frontendTls === false && !props.requireTls
      ? { tlsCertificate: ProxySqlTlsCertificate.fromSecret(new secretsmanager.Secret(stack, 'Cert')) } : {};
    expect(() => new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, ...props, ...extra })).toThrow(message);
  });

  test('refuses requireTls with a user whose useSsl is false, naming the user', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc });
    const users = [ProxySqlUser.fromSecret(db.appUserSecret), ProxySqlUser.fromSecret(new secretsmanager.Secret(stack, 'Etl'), { useSsl: false })];
    expect(() => new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db, users, requireTls: true }))
      .toThrow(/users\[1\]\.useSsl must not be false when requireTls is true .*\(got false\)/);
  });
});

describe('backend TLS verification', () => {
  test('GIVEN Aurora in a concrete region THEN that region\'s three Amazon RDS roots reach the container and ssl_p2s_ca points at their file', () => {
    const { template } = aurora({}, 'eu-west-1');
    const pem = env(template, 'PROXYSQL_BACKEND_CA') as string;
    const subjects = pem.split(/(?<=-----END CERTIFICATE-----)\n/).filter((c) => c.trim()).map((c) => new X509Certificate(c).subject);
    expect(subjects).toHaveLength(3);
    expect(subjects.every((s) => /CN=Amazon RDS eu-west-1 Root CA (RSA2048|RSA4096|ECC384) G1/.test(s))).toBe(true);
    expect(JSON.stringify(env(template, 'PROXYSQL_CONFIG_TEMPLATE'))).toContain('ssl_p2s_ca=\\"%{PROXYSQL_BACKEND_CA_FILE}\\"');
    expect(template.toJSON().Mappings).toBeUndefined();
  });

  test('GIVEN an environment-agnostic stack THEN Fn::FindInMap on AWS::Region into one mapping of every region\'s roots', () => {
    const { template } = aurora();
    const mappings = template.toJSON().Mappings as Record<string, Record<string, { pem: string }>>;
    const [[id, byRegion]] = Object.entries(mappings);
    expect(env(template, 'PROXYSQL_BACKEND_CA')).toEqual({ 'Fn::FindInMap': [id, { Ref: 'AWS::Region' }, 'pem'] });
    expect(Object.keys(byRegion)).toEqual(expect.arrayContaining(['us-east-1', 'eu-west-1', 'ap-southeast-2']));
    // What a task definition gets is one region's roots: far under the 64 KiB of the whole task definition.
    const largest = Math.max(...Object.values(byRegion).map((v) => Buffer.byteLength(v.pem)));
    const configSize = Buffer.byteLength(JSON.stringify(env(template, 'PROXYSQL_CONFIG_TEMPLATE')));
    expect(largest).toBeLessThan(8 * 1024);
    expect(largest + configSize).toBeLessThan(32 * 1024);
  });

  test('GIVEN two proxies in one stack THEN one mapping serves both', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const db = new AuroraBackend(stack, 'Db', { vpc });
    new ProxySqlFargate(stack, 'A', { vpc, backend: db });
    new ProxySqlFargate(stack, 'B', { vpc, backend: db });
    expect(Object.keys(Template.fromStack(stack).toJSON().Mappings)).toHaveLength(1);
  });

  test('GIVEN a concrete region the bundle does not know THEN the synth names serverCaPem and the region', () => {
    expect(() => aurora({}, 'xx-nowhere-1')).toThrow(/serverCaPem is needed: .*none for region xx-nowhere-1/);
  });

  test('GIVEN RDS instances THEN the same Amazon RDS roots', () => {
    const stack = new Stack(new App(), 'Test', { env: { region: 'us-east-1', account: '111111111111' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const writer = new rds.DatabaseInstance(stack, 'Db', { vpc, engine: rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_0 }) });
    new ProxySqlFargate(stack, 'Proxy', {
      vpc, backend: ProxySqlBackend.fromRdsInstances(writer, { adminSecret: writer.secret, appUserSecrets: [new secretsmanager.Secret(stack, 'App')], databaseMaxConnections: 500 }),
    });
    expect(env(Template.fromStack(stack), 'PROXYSQL_BACKEND_CA')).toEqual(rdsCaCertificatesByRegion()['us-east-1']);
  });

  test('GIVEN fromEndpoints with serverCaPem THEN TLS on every server, ProxySQL and the bootstrap verify against it', () => {
    const { template } = endpoints({ serverCaPem: SOME_CA });
    expect(env(template, 'PROXYSQL_BACKEND_CA')).toBe(SOME_CA);
    expect(JSON.stringify(env(template, 'PROXYSQL_CONFIG_TEMPLATE'))).toMatch(/hostname=\\"db.corp.internal\\"[^}]*use_ssl=1/);
    template.hasResourceProperties('Custom::ProxySqlDatabaseBootstrap', { Tls: false, TlsCaPem: SOME_CA });
  });

  test('GIVEN fromEndpoints without TLS THEN no CA and no ssl_p2s_ca; with unverified TLS a warning names serverCaPem', () => {
    const plain = endpoints();
    expect(env(plain.template, 'PROXYSQL_BACKEND_CA')).toBeUndefined();
    expect(JSON.stringify(env(plain.template, 'PROXYSQL_CONFIG_TEMPLATE'))).not.toContain('ssl_p2s_ca');
    const unverified = endpoints({ useSsl: true });
    Annotations.fromStack(unverified.stack).hasWarning('/Test/Proxy', Match.stringLikeRegexp('cannot verify the servers.*serverCaPem'));
  });

  test.each([
    ['serverCaPem with useSsl false', { useSsl: false, serverCaPem: SOME_CA }, /serverCaPem needs TLS to the servers.*\(got useSsl false with a serverCaPem\)/],
    ['a serverCaPem that is no certificate', { serverCaPem: 'not a pem' }, /serverCaPem must hold PEM certificates .*\(got "not a pem"\.\.\.\)/],
    ['a private key in serverCaPem', { serverCaPem: `${SOME_CA}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n` }, /serverCaPem must hold PEM certificates .* and nothing secret/],
    ['a serverCaPem over 32 KiB', { serverCaPem: SOME_CA.repeat(40) }, /serverCaPem must be at most 32768 bytes .*\(got \d+ bytes\)/],
  ] as Array<[string, { useSsl?: boolean; serverCaPem?: string }, RegExp]>)('refuses %s, naming the prop', (_name, backend, message) => {
    expect(() => endpoints(backend)).toThrow(message);
  });

  test('a raw ssl_p2s_ca is refused: the backend sets it', () => {
    expect(() => endpoints({}, { rawMysqlVariables: { ssl_p2s_ca: '/tmp/ca.pem' } })).toThrow(/rawMysqlVariables\.ssl_p2s_ca is set by the backend/);
  });
});

test('GIVEN AuroraBackend with serverCaPem in a region the bundle does not know THEN its CA is used', () => {
  const stack = new Stack(new App(), 'Test', { env: { region: 'xx-nowhere-1', account: '111111111111' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Db', { vpc, serverCaPem: SOME_CA });
  new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db });
  const template = Template.fromStack(stack);
  expect(env(template, 'PROXYSQL_BACKEND_CA')).toBe(SOME_CA);
  template.hasResourceProperties('Custom::ProxySqlDatabaseBootstrap', { Tls: true, TlsCaPem: SOME_CA });
});
