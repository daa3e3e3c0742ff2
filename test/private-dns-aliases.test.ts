import { App, Duration, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { AuroraBackend, IProxySqlLoadBalancerProvider, PrivateDnsAliases, PrivateDnsAliasesProps, ProxySqlFargate } from '../src';

function setup(readers = 1) {
  const stack = new Stack(new App(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
  const db = new AuroraBackend(stack, 'Db', { vpc, readers });
  const proxy = new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db });
  return { stack, vpc, db, proxy };
}

function records(template: Template, type: string) {
  return Object.values(template.findResources('AWS::Route53::RecordSet', { Properties: { Type: type } })).map((r) => r.Properties);
}

describe('PrivateDnsAliases with an Aurora cluster', () => {
  const { stack, vpc, db, proxy } = setup();
  const dns = new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster: db.cluster });
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const clusterId = Object.keys(template.findResources('AWS::RDS::DBCluster'))[0];

  test('GIVEN defaults THEN a private zone proxysql.local associated with the VPC', () => {
    template.resourceCountIs('AWS::Route53::HostedZone', 1);
    template.hasResourceProperties('AWS::Route53::HostedZone', {
      Name: 'proxysql.local.',
      VPCs: [{ VPCId: stack.resolve(vpc.vpcId), VPCRegion: Match.anyValue() }],
    });
  });

  test('THEN nlb is an alias A record to the proxy\'s load balancer', () => {
    const [nlb] = records(template, 'A');
    const lb = stack.resolve(proxy.loadBalancer.loadBalancerDnsName);
    expect(nlb.Name).toBe('nlb.proxysql.local.');
    expect(nlb.AliasTarget).toEqual({
      DNSName: { 'Fn::Join': ['', ['dualstack.', lb]] },
      HostedZoneId: stack.resolve(proxy.loadBalancer.loadBalancerCanonicalHostedZoneId),
    });
    expect(dns.proxyName).toBe('nlb.proxysql.local');
  });

  test('THEN writer is a CNAME to the cluster endpoint and reader a CNAME to the cluster READ endpoint, never the writer', () => {
    const cnames = Object.fromEntries(records(template, 'CNAME').map((r) => [r.Name, r]));
    expect(Object.keys(cnames).sort()).toEqual(['reader.proxysql.local.', 'writer.proxysql.local.']);
    expect(cnames['writer.proxysql.local.'].ResourceRecords).toEqual([{ 'Fn::GetAtt': [clusterId, 'Endpoint.Address'] }]);
    expect(cnames['reader.proxysql.local.'].ResourceRecords).toEqual([{ 'Fn::GetAtt': [clusterId, 'ReadEndpoint.Address'] }]);
    expect(cnames['reader.proxysql.local.'].TTL).toBe('60');
    expect(json.Resources[clusterId].Type).toBe('AWS::RDS::DBCluster');
    expect([dns.writerName, dns.readerName]).toEqual(['writer.proxysql.local', 'reader.proxysql.local']);
  });

  test('THEN no other record is made in the zone', () => {
    template.resourceCountIs('AWS::Route53::RecordSet', 3);
  });
});

describe('PrivateDnsAliases options', () => {
  test('GIVEN custom names, zone name and TTL THEN the records use them', () => {
    const { stack, vpc, db, proxy } = setup();
    const dns = new PrivateDnsAliases(stack, 'Dns', {
      vpc,
      proxy,
      cluster: db.cluster,
      zoneName: 'db.example.internal',
      proxyRecordName: 'mysql',
      writerRecordName: 'primary',
      readerRecordName: 'replicas',
      ttl: Duration.seconds(15),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'db.example.internal.' });
    expect(records(template, 'A').map((r) => r.Name)).toEqual(['mysql.db.example.internal.']);
    expect(records(template, 'CNAME').map((r) => [r.Name, r.TTL]).sort()).toEqual([
      ['primary.db.example.internal.', '15'],
      ['replicas.db.example.internal.', '15'],
    ]);
    expect([dns.proxyName, dns.writerName, dns.readerName]).toEqual(['mysql.db.example.internal', 'primary.db.example.internal', 'replicas.db.example.internal']);
  });

  test('GIVEN a TTL as a token THEN the CNAMEs carry the reference', () => {
    const { stack, vpc, db, proxy } = setup();
    new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster: db.cluster, ttl: Duration.seconds(Token.asNumber({ Ref: 'Ttl' })) });
    expect(records(Template.fromStack(stack), 'CNAME').map((r) => r.TTL)).toEqual([{ Ref: 'Ttl' }, { Ref: 'Ttl' }]);
  });

  test('GIVEN an existing zone THEN records go into it and no zone is made', () => {
    const { stack, vpc, db, proxy } = setup();
    const zone = new route53.PrivateHostedZone(stack, 'Existing', { zoneName: 'corp.internal', vpc });
    const dns = new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster: db.cluster, zone });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Route53::HostedZone', 1);
    const zoneRef = stack.resolve(zone.hostedZoneId);
    const all = Object.values(template.findResources('AWS::Route53::RecordSet')).map((r) => r.Properties);
    expect(all.map((r) => [r.Name, r.HostedZoneId]).sort()).toEqual([
      ['nlb.corp.internal.', zoneRef],
      ['reader.corp.internal.', zoneRef],
      ['writer.corp.internal.', zoneRef],
    ]);
    expect(dns.zone).toBe(zone);
  });

  test('GIVEN host names instead of a cluster THEN writer and reader point at them; without them only nlb exists', () => {
    const { stack, vpc, proxy } = setup();
    const dns = new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, writerHostname: 'mysql-primary.corp.internal', readerHostname: 'mysql-replicas.corp.internal' });
    const cnames = records(Template.fromStack(stack), 'CNAME').map((r) => [r.Name, r.ResourceRecords]).sort();
    expect(cnames).toEqual([
      ['reader.proxysql.local.', ['mysql-replicas.corp.internal']],
      ['writer.proxysql.local.', ['mysql-primary.corp.internal']],
    ]);
    expect(dns.readerName).toBe('reader.proxysql.local');

    const other = setup();
    const nlbOnly = new PrivateDnsAliases(other.stack, 'Dns', { vpc: other.vpc, proxy: other.proxy });
    const template = Template.fromStack(other.stack);
    template.resourceCountIs('AWS::Route53::RecordSet', 1);
    expect([nlbOnly.writerName, nlbOnly.readerName]).toEqual([undefined, undefined]);
  });

  test('GIVEN any load balancer provider (not a ProxySqlFargate) THEN nlb is an alias to its load balancer', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    // ProxySQL run some other way, behind a Network Load Balancer made elsewhere.
    const proxy: IProxySqlLoadBalancerProvider = {
      loadBalancer: elbv2.NetworkLoadBalancer.fromNetworkLoadBalancerAttributes(stack, 'Nlb', {
        loadBalancerArn: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/proxysql/0123456789abcdef',
        loadBalancerDnsName: 'proxysql-0123456789abcdef.elb.eu-west-1.amazonaws.com',
        loadBalancerCanonicalHostedZoneId: 'Z2IFOLAFXWLO4F',
      }),
    };
    new PrivateDnsAliases(stack, 'Dns', { vpc, proxy });
    expect(records(Template.fromStack(stack), 'A')).toEqual([expect.objectContaining({
      Name: 'nlb.proxysql.local.',
      AliasTarget: { DNSName: 'dualstack.proxysql-0123456789abcdef.elb.eu-west-1.amazonaws.com', HostedZoneId: 'Z2IFOLAFXWLO4F' },
    })]);
  });

  test('GIVEN an imported cluster with a reader endpoint THEN the reader record points at it', () => {
    const { stack, vpc, proxy } = setup();
    const cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(stack, 'Legacy', {
      clusterIdentifier: 'legacy',
      clusterEndpointAddress: 'legacy.cluster-abc.eu-west-1.rds.amazonaws.com',
      readerEndpointAddress: 'legacy.cluster-ro-abc.eu-west-1.rds.amazonaws.com',
      port: 3306,
    });
    new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster });
    expect(records(Template.fromStack(stack), 'CNAME').map((r) => [r.Name, r.ResourceRecords]).sort()).toEqual([
      ['reader.proxysql.local.', ['legacy.cluster-ro-abc.eu-west-1.rds.amazonaws.com']],
      ['writer.proxysql.local.', ['legacy.cluster-abc.eu-west-1.rds.amazonaws.com']],
    ]);
  });
});

describe('PrivateDnsAliases validation', () => {
  /** Aliases for the cluster of an AuroraBackend with `readers` readers, or for host names only. */
  function attempt(props: Partial<PrivateDnsAliasesProps>, { readers = 1, withCluster = true } = {}) {
    const { stack, vpc, db, proxy } = setup(readers);
    return () => new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, ...(withCluster ? { cluster: db.cluster } : {}), ...props });
  }

  test('GIVEN a cluster and host names THEN it fails', () => {
    expect(attempt({ writerHostname: 'db.internal' }))
      .toThrow('PrivateDnsAliases: give either cluster or writerHostname/readerHostname, not both (got both)');
    expect(attempt({ readerHostname: 'db-ro.internal' })).toThrow(/not both/);
  });

  test('GIVEN an existing zone and a zoneName THEN it fails naming zoneName', () => {
    const { stack, vpc, db, proxy } = setup();
    const zone = new route53.PrivateHostedZone(stack, 'Existing', { zoneName: 'corp.internal', vpc });
    expect(() => new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster: db.cluster, zone, zoneName: 'other.internal' }))
      .toThrow('PrivateDnsAliases: zoneName applies only to a new zone; leave it out with zone (got zoneName other.internal)');
  });

  test.each([
    ['proxyRecordName', 'Proxy'],
    ['writerRecordName', 'db.writer'],
    ['readerRecordName', '-reader'],
    ['readerRecordName', 'a'.repeat(64)],
    ['proxyRecordName', ''],
  ])('GIVEN %s %p THEN it fails: one DNS label', (prop, value) => {
    expect(attempt({ [prop]: value }))
      .toThrow(`PrivateDnsAliases: ${prop} must be one DNS label (lower-case letters, digits and inner hyphens, at most 63) (got ${value})`);
  });

  test('GIVEN two records with the same name THEN it fails listing them', () => {
    expect(attempt({ readerRecordName: 'db', writerRecordName: 'db' }))
      .toThrow('PrivateDnsAliases: proxyRecordName, writerRecordName and readerRecordName must differ (got nlb, db, db)');
  });

  test.each([
    ['db.internal', 'db.internal'],
    ['db.internal', 'DB.Internal.'],
  ])('GIVEN the reader host %p equal to the writer\'s %p THEN it fails: reads would land on the writer', (writer, reader) => {
    expect(attempt({ writerHostname: writer, readerHostname: reader }, { withCluster: false }))
      .toThrow(`PrivateDnsAliases: readerHostname must not be the writer's host name: reads would land on the writer (got ${reader})`);
  });

  test('GIVEN a cluster without a reader instance THEN it fails: its reader endpoint is the writer', () => {
    expect(attempt({}, { readers: 0 })).toThrow('PrivateDnsAliases: cluster must have at least one reader instance: without one its reader endpoint resolves to the writer '
      + '(got 1 instance); add a reader, or pass writerHostname only');
  });

  test('GIVEN an empty host name THEN it fails naming the prop', () => {
    expect(attempt({ writerHostname: ' ' }, { withCluster: false })).toThrow('PrivateDnsAliases: writerHostname must be a host name when given (got " ")');
    expect(attempt({ readerHostname: '' }, { withCluster: false })).toThrow('PrivateDnsAliases: readerHostname must be a host name when given (got "")');
  });
});
