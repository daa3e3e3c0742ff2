/**
 * The TypeScript side of the consumer comparison. `python/app.py`, `java/.../ConsumerApp.java` and
 * `go/main.go` build exactly these two stacks through the packaged library (wheel, jar and Go module);
 * `compare.ts` checks that the four languages synthesize the same templates. Keep the four apps in
 * step: any change here needs the same change in the other three.
 *
 *   ConsumerReference: the reference topology (VPC, Aurora writer + reader, ProxySQL on Fargate,
 *                      private DNS names, demo API) with one custom query rule.
 *   ConsumerImported:  ProxySQL in front of an Aurora cluster that this app did not create, with
 *                      required TLS and a brought certificate, the dashboard, the recommended alarms
 *                      and an alarm of the app's own on a ProxySQL metric.
 *
 * Usage: ts-node test/consumers/ts-app.ts OUTDIR
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  AuroraBackend, HostgroupRole, LambdaDemoApi, PrivateDnsAliases, ProxySqlBackend, ProxySqlFargate, ProxySqlTlsCertificate, QueryRules,
  RuleDestination,
} from '../../src';

const outdir = process.argv[2];
if (!outdir) throw new Error('usage: ts-app.ts OUTDIR');

// analyticsReporting off: the CDKMetadata resource names the language, which is the one
// difference between the four apps that is expected.
const app = new App({ outdir, analyticsReporting: false });

function vpcFor(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
}

// --- ConsumerReference -----------------------------------------------------------------------
const reference = new Stack(app, 'ConsumerReference');
const vpc = vpcFor(reference);
const db = new AuroraBackend(reference, 'Db', {
  vpc,
  readers: 1,
  instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
  removalPolicy: RemovalPolicy.DESTROY,
  deletionProtection: false,
});
const proxy = new ProxySqlFargate(reference, 'Proxy', {
  vpc,
  backend: db,
  dropUsersOnDelete: true,
  queryRules: QueryRules.readWriteSplit({
    before: [{
      match: '^SELECT .* FROM reports\\.',
      destination: RuleDestination.READERS,
      cacheTtlMs: 30_000,
      comment: 'reports: readers, cached for 30 s',
    }],
  }),
});
new PrivateDnsAliases(reference, 'Dns', { vpc, proxy, cluster: db.cluster });
new LambdaDemoApi(reference, 'Demo', { vpc, proxy, userSecret: db.appUserSecret, databaseName: db.databaseName });

// --- ConsumerImported ------------------------------------------------------------------------
const imported = new Stack(app, 'ConsumerImported');
const importedVpc = vpcFor(imported);
const legacy = rds.DatabaseCluster.fromDatabaseClusterAttributes(imported, 'Legacy', {
  clusterIdentifier: 'legacy-aurora',
  clusterEndpointAddress: 'legacy-aurora.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
  readerEndpointAddress: 'legacy-aurora.cluster-ro-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
  port: 3306,
  securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(imported, 'LegacySg', 'sg-0123456789abcdef0')],
});
const adminSecret = secretsmanager.Secret.fromSecretCompleteArn(imported, 'LegacyAdmin',
  'arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/admin-AbCdEf');
const appSecret = secretsmanager.Secret.fromSecretCompleteArn(imported, 'LegacyApp',
  'arn:aws:secretsmanager:us-east-1:111122223333:secret:legacy-aurora/app-GhIjKl');
const certificate = secretsmanager.Secret.fromSecretCompleteArn(imported, 'ProxyCertificate',
  'arn:aws:secretsmanager:us-east-1:111122223333:secret:proxysql/tls-MnOpQr');
const importedProxy = new ProxySqlFargate(imported, 'Proxy', {
  vpc: importedVpc,
  backend: ProxySqlBackend.fromAuroraCluster(legacy, {
    adminSecret,
    appUserSecrets: [appSecret],
    instanceIdentifiers: ['legacy-aurora-1', 'legacy-aurora-2'],
  }),
  desiredCount: 3,
  // The legacy cluster's limit is not given (100 is assumed): up to 6 tasks (12 in a deployment) fit it.
  maxCapacity: 6,
  cpu: 512,
  memoryLimitMiB: 1024,
  requireTls: true,
  tlsCertificate: ProxySqlTlsCertificate.fromSecret(certificate),
});
importedProxy.addDashboard();
importedProxy.addRecommendedAlarms({ clientConnectionsPercent: 70 });
importedProxy.metricQueriesRouted(HostgroupRole.READERS).createAlarm(imported, 'ReadsStopped', {
  threshold: 1,
  evaluationPeriods: 5,
  comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
});

app.synth();
