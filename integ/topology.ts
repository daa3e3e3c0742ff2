/**
 * The reference topology, shared by the integ apps and `npx projen demo`:
 * VPC → AuroraBackend (writer + reader) → ProxySqlFargate (2 tasks, internal NLB) →
 * PrivateDnsAliases (nlb/writer/reader.proxysql.local) → LambdaDemoApi (HTTP API + Lambda).
 *
 * Everything is destroyed with the stack, so an integ run leaves nothing behind.
 */
import { CfnOutput, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AuroraBackend, AuroraBackendProps, LambdaDemoApi, PrivateDnsAliases, ProxySqlFargate, ProxySqlFargateProps } from '../src';

export interface ReferenceTopology {
  readonly vpc: ec2.Vpc;
  readonly db: AuroraBackend;
  readonly proxy: ProxySqlFargate;
  readonly dns: PrivateDnsAliases;
  readonly demo: LambdaDemoApi;
}

/** A VPC with public, private (NAT) and isolated subnets in two AZs, with flow logs. */
export function referenceVpc(stack: Stack): ec2.Vpc {
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  const flowLogs = new logs.LogGroup(stack, 'FlowLogs', {
    retention: logs.RetentionDays.ONE_WEEK,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
  return vpc;
}

/** The reference topology; `proxyProps` lets a test turn on what the defaults leave off (e.g. the query log). */
export function referenceTopology(stack: Stack, proxyProps: Partial<ProxySqlFargateProps> = {},
  dbProps: Partial<AuroraBackendProps> = {}): ReferenceTopology {
  const vpc = referenceVpc(stack);
  const db = new AuroraBackend(stack, 'Db', {
    vpc,
    readers: 1,
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
    ...dbProps,
  });
  // A test stack must tear down cleanly, so it turns deletion protection off on purpose.
  Validations.of(db.cluster.node.defaultChild!).acknowledge({
    id: 'AwsSolutions-RDS10',
    reason: 'The reference/integ stack is destroyed after each run; AuroraBackend keeps deletion protection on by default',
  });
  const proxy = new ProxySqlFargate(stack, 'Proxy', {
    vpc, backend: db, dropUsersOnDelete: true, logRemovalPolicy: RemovalPolicy.DESTROY, ...proxyProps,
  });
  // What an operator adds in two lines: ProxySQL's own metrics on a dashboard, and the alarms.
  proxy.addDashboard();
  proxy.addRecommendedAlarms();
  const dns = new PrivateDnsAliases(stack, 'Dns', { vpc, proxy, cluster: db.cluster });
  const demo = new LambdaDemoApi(stack, 'Demo', { vpc, proxy, userSecret: db.appUserSecret, databaseName: db.databaseName });

  new CfnOutput(stack, 'DemoUrl', { value: demo.url, description: 'GET it: JSON showing where the write and the read ran' });
  new CfnOutput(stack, 'ProxyEndpoint', { value: `${proxy.endpoint.hostname}:${proxy.endpoint.port}`, description: 'The NLB in front of ProxySQL (host:port)' });
  new CfnOutput(stack, 'ProxyDnsName', { value: dns.proxyName, description: 'Friendly name of the proxy in the private zone' });
  new CfnOutput(stack, 'ClusterName', { value: proxy.cluster.clusterName, description: 'ECS cluster (for ECS Exec into a ProxySQL task)' });
  new CfnOutput(stack, 'ServiceName', { value: proxy.service.serviceName, description: 'ECS service running ProxySQL' });
  return { vpc, db, proxy, dns, demo };
}
