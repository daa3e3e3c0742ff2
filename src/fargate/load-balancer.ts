/**
 * The internal Network Load Balancer in front of the tasks: its listener (the port clients use),
 * the target group with its health check and draining, and the endpoint clients are given.
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { DEFAULTS as CONFIG_DEFAULTS } from '../config/configuration';
import { ProxySqlEndpoint } from '../endpoint';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';
import { ProxySubnets, Sizing } from './validation';

export interface ProxyLoadBalancerInput {
  readonly service: ecs.FargateService;
  readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly subnets: ProxySubnets;
  readonly sizing: Sizing;
  readonly trafficPort: number;
}

export interface ProxyLoadBalancer {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly listener: elbv2.NetworkListener;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly endpoint: ProxySqlEndpoint;
}

export function proxyLoadBalancer(scope: Construct, props: ProxySqlFargateProps, input: ProxyLoadBalancerInput): ProxyLoadBalancer {
  const { trafficPort, sizing } = input;
  const loadBalancer = new elbv2.NetworkLoadBalancer(scope, 'LoadBalancer', {
    vpc: props.vpc,
    internetFacing: false,
    vpcSubnets: input.subnets.loadBalancer,
    crossZoneEnabled: true,
    securityGroups: [input.loadBalancerSecurityGroup],
  });
  input.loadBalancerSecurityGroup.connections.allowTo(input.securityGroup, ec2.Port.tcp(trafficPort),
    'Forward to ProxySQL tasks');

  const listener = loadBalancer.addListener('Listener', {
    port: sizing.listenerPort,
    protocol: elbv2.Protocol.TCP,
    // The same value as ProxySQL's wait_timeout (validated by the configuration).
    tcpIdleTimeout: props.idleClientTimeout ?? CONFIG_DEFAULTS.idleClientTimeout,
  });
  const targetGroup = listener.addTargets('ProxySql', {
    port: trafficPort,
    protocol: elbv2.Protocol.TCP,
    targets: [input.service.loadBalancerTarget({ containerName: 'proxysql', containerPort: trafficPort })],
    // ECS waits this long after deregistering a task before it sends SIGTERM (see drainTime).
    deregistrationDelay: sizing.drainTime,
    // The NLB checks only that ProxySQL accepts connections: a database failover must not make
    // every task unhealthy at once (ProxySQL itself rides out the failover).
    healthCheck: {
      protocol: elbv2.Protocol.TCP,
      port: String(trafficPort),
      interval: Duration.seconds(10),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 2,
    },
  });
  // Flows outlive the deregistration delay: the task closes each client session between two
  // statements after SIGTERM (see drainTime), where a reset at the delay's end would cut some
  // statements short. The attribute is NLB's default; it is set so the choice is visible.
  targetGroup.setAttribute('deregistration_delay.connection_termination.enabled', 'false');

  const endpoint = { hostname: loadBalancer.loadBalancerDnsName, port: sizing.listenerPort };
  return { loadBalancer, listener, targetGroup, endpoint };
}
