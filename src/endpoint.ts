import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';

/** Where clients reach a proxy. */
export interface ProxySqlEndpoint {
  /** Host name clients connect to. */
  readonly hostname: string;
  /** Port clients connect to (MySQL protocol). */
  readonly port: number;
}

/**
 * Something applications reach ProxySQL through: its network access (`connections`, whose default
 * port is the client port) and the host name and port to connect to.
 *
 * `ProxySqlFargate` implements it; so can anything else that fronts ProxySQL.
 */
export interface IProxySqlEndpointProvider extends ec2.IConnectable {
  /** Where clients connect (for `ProxySqlFargate`, the internal NLB's DNS name and listener port). */
  readonly endpoint: ProxySqlEndpoint;
}

/**
 * A proxy whose clients arrive through a Network Load Balancer: what a DNS alias record for the
 * proxy points at (`PrivateDnsAliases`).
 *
 * `ProxySqlFargate` implements it.
 */
export interface IProxySqlLoadBalancerProvider {
  /** The Network Load Balancer in front of the proxy. */
  readonly loadBalancer: elbv2.INetworkLoadBalancer;
}
