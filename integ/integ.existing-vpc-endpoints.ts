/**
 * Second scenario: the proxy joins infrastructure that already exists. A "network" stack owns the
 * VPC and a MySQL server (here an RDS for MySQL instance, standing in for any MySQL reachable by
 * host and port); the proxy stack imports both and fronts the server through
 * `ProxySqlBackend.fromEndpoints`. The assertions prove the demo API reaches MySQL through the proxy
 * and the ECS service runs its desired count.
 */
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { LambdaDemoApi, ProxySqlBackend, ProxySqlFargate } from '../src';
import { assertDemoSplitsReadsAndWrites, assertServiceRunsDesiredCount } from './assertions';
import { referenceVpc } from './topology';
import { SAFE_SECRET_EXCLUDED_CHARACTERS } from '../src/private/secrets';

// No stack traces in the snapshot metadata (creation stacks of every resource, stacks of
// annotations): they hold the paths of the machine that synthesized it.
const app = new App({ stackTraces: false, context: { [cxapi.DISABLE_CREATION_STACK_TRACES]: true } });

// --- what the user already has -----------------------------------------------------------------
const network = new Stack(app, 'ProxySqlExistingNetwork');
const vpc = referenceVpc(network);
const mysql = new rds.DatabaseInstance(network, 'Mysql', {
  engine: rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_0_43 }),
  instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  credentials: rds.Credentials.fromGeneratedSecret('dbadmin', { excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS }),
  storageEncrypted: true,
  multiAz: false,
  removalPolicy: RemovalPolicy.DESTROY,
  deletionProtection: false,
});
const appUser = new rds.DatabaseSecret(network, 'AppUserSecret', {
  username: 'app', dbname: 'app', excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
});

// --- the proxy, given host, port, an admin secret and the server's security group ----------------
const proxyStack = new Stack(app, 'ProxySqlOnEndpoints');
// Imported, as a user would with a security group they do not manage here: the ingress rules the
// proxy adds then live in this stack, and the network stack never depends on it.
const mysqlSecurityGroup = ec2.SecurityGroup.fromSecurityGroupId(proxyStack, 'MysqlSecurityGroup',
  mysql.connections.securityGroups[0].securityGroupId);
const backend = ProxySqlBackend.fromEndpoints({
  writer: { host: mysql.dbInstanceEndpointAddress, port: 3306 },
  adminSecret: mysql.secret,
  appUserSecrets: [appUser],
  securityGroups: [mysqlSecurityGroup],
  serverVersion: '8.0.43',
});
const proxy = new ProxySqlFargate(proxyStack, 'Proxy', { vpc, backend, dropUsersOnDelete: true, logRemovalPolicy: RemovalPolicy.DESTROY });
const demo = new LambdaDemoApi(proxyStack, 'Demo', { vpc, proxy, userSecret: appUser, databaseName: 'app' });

const integ = new IntegTest(app, 'ProxySqlOnEndpointsTest', {
  testCases: [proxyStack],
  cdkCommandOptions: { destroy: { args: { force: true } } },
  regions: ['us-east-1'],
});
assertServiceRunsDesiredCount(integ, proxy, 2);
assertDemoSplitsReadsAndWrites(integ, demo, { readerExpected: false });
