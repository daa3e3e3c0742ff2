/**
 * The security groups of the load balancer and the tasks, and the rules between them, the admin
 * peers, the clients and the database.
 */
import { Annotations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct, IConstruct } from 'constructs';
import { ProxySqlBackendConfig } from '../backend';
import { RenderedConfig } from '../config/configuration';
import { CrossStackConnections } from '../private/cross-stack-connections';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';

export interface ProxyNetworkInput {
  readonly backend: ProxySqlBackendConfig;
  readonly rendered: RenderedConfig;
  readonly listenerPort: number;
}

export interface ProxyNetwork {
  /** The load balancer's security group, guarded for peers in other stacks, on the listener port. */
  readonly connections: ec2.Connections;
  readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  readonly securityGroup: ec2.ISecurityGroup;
  /** The tasks' security group, for admin and metrics peers that may live in other stacks. */
  readonly taskConnections: CrossStackConnections;
  /** The database's security groups (rules into them are made in this stack), if it has any. */
  readonly backendConnections?: CrossStackConnections;
}

export function proxyNetwork(scope: Construct, props: ProxySqlFargateProps, input: ProxyNetworkInput): ProxyNetwork {
  const { backend, rendered } = input;
  const loadBalancerSecurityGroup = new ec2.SecurityGroup(scope, 'LoadBalancerSecurityGroup', {
    vpc: props.vpc,
    description: 'ProxySQL load balancer: clients are admitted here on the listener port',
    allowAllOutbound: false,
  });
  const securityGroup = new ec2.SecurityGroup(scope, 'SecurityGroup', {
    vpc: props.vpc,
    description: 'ProxySQL tasks: traffic port from the load balancer only',
    allowAllOutbound: true,
  });
  securityGroup.connections.allowFrom(loadBalancerSecurityGroup, ec2.Port.tcp(rendered.trafficPort),
    'ProxySQL traffic (and health checks) from the load balancer');

  // VPC, database, proxy, clients: each may live in a stack of its own. A rule between security
  // groups in two stacks goes into the stack that depends on the other (see CrossStackConnections):
  // a client's stack for client rules, this stack for the database rules.
  const upstream = (): IConstruct[] => [
    props.vpc,
    ...(props.cluster ? [props.cluster] : []),
    ...(props.adminAccess ?? []),
    ...(props.adminSecret ? [props.adminSecret] : []),
    ...(props.monitorSecret ? [props.monitorSecret] : []),
    ...(props.users ?? []).map((u) => u.secret),
    ...(backend.connections?.securityGroups ?? []),
    ...(backend.adminSecret ? [backend.adminSecret] : []),
    ...(backend.defaultUserSecrets ?? []),
    ...(backend.dependables ?? []).filter((d): d is IConstruct => Construct.isConstruct(d)),
  ];
  const taskConnections = new CrossStackConnections({ securityGroups: [securityGroup] }, upstream);
  for (const [i, group] of (props.adminAccess ?? []).entries()) {
    taskConnections.allowFrom(group, ec2.Port.tcp(rendered.adminPort), `ProxySQL admin from adminAccess[${i}]`);
    if (rendered.restApiPort !== undefined) {
      taskConnections.allowFrom(group, ec2.Port.tcp(rendered.restApiPort), `ProxySQL REST API from adminAccess[${i}]`);
    }
  }
  const connections = new CrossStackConnections({
    securityGroups: [loadBalancerSecurityGroup],
    defaultPort: ec2.Port.tcp(input.listenerPort),
  }, upstream);

  // The database's stack never depends on this one: rules into its groups are made here.
  const backendConnections = backend.connections
    ? new CrossStackConnections({ securityGroups: backend.connections.securityGroups })
    : undefined;
  if (backendConnections && backendConnections.securityGroups.length > 0) {
    backendConnections.allowFrom(securityGroup, ec2.Port.tcp(backend.port), 'ProxySQL tasks');
  } else {
    Annotations.of(scope).addWarningV2('cdk-proxysql:backendNotOpened',
      `The backend has no security group this app can change: admit the ProxySQL tasks' security group (${scope.node.path}/SecurityGroup) to the database port yourself`);
  }
  return { connections, loadBalancerSecurityGroup, securityGroup, taskConnections, backendConnections };
}
