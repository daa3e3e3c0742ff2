import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IConstruct } from 'constructs';

/**
 * Network access to security groups that peers in other stacks may be let into without a cycle.
 *
 * A rule between two security groups is a resource of its own, and aws-cdk-lib puts it in the
 * stack of the group being opened (`SecurityGroupBase.determineRuleScope`), unless `remoteRule` asks
 * for the peer's stack. `allowFrom(fn)` on the proxy's groups would therefore make the proxy's stack
 * reference the function's security group, while the function's stack already references the proxy
 * (its endpoint): a cyclic reference. Here a peer in another stack gets the rules in its own stack
 * (ingress with `remoteRule`, and its egress there too) — the stack that consumes this side — unless
 * that stack is upstream of ours (our VPC's, our database's, or a stack ours depends on), where the
 * rules stay in our stack as aws-cdk-lib would put them. In one stack nothing changes.
 *
 * A peer that is not a security group (a CIDR) is handled by aws-cdk-lib as usual. Unlike
 * aws-cdk-lib, security groups added to either side later do not get the rule.
 */
export class CrossStackConnections extends ec2.Connections {
  private readonly upstream: () => IConstruct[];

  /**
   * @param props the guarded security groups and default port
   * @param upstream constructs whose stacks ours depends on (VPC, database, secrets, ...)
   */
  constructor(props: ec2.ConnectionsProps, upstream: () => IConstruct[] = () => []) {
    super(props);
    this.upstream = upstream;
  }

  public allowFrom(other: ec2.IConnectable, portRange: ec2.Port, description?: string): void {
    const peers = other.connections.securityGroups;
    const groups = this.securityGroups;
    if (!groups.some((group) => peers.some((peer) => this.placeWithPeer(group, peer)))) {
      super.allowFrom(other, portRange, description);
      return;
    }
    for (const group of groups) {
      for (const peer of peers) {
        const withPeer = this.placeWithPeer(group, peer);
        // remoteRule: true puts the ingress rule under the peer when the stacks differ; the peer's
        // egress rule goes under the peer with remoteRule: false (aws-cdk-lib passes true, which
        // would put it in our stack). A peer that allows all outbound needs none (and would warn).
        group.addIngressRule(peer, portRange, description, withPeer);
        if (!withPeer) {
          peer.addEgressRule(group, portRange, description, true);
        } else if (!peer.allowAllOutbound) {
          peer.addEgressRule(group, portRange, description, false);
        }
      }
    }
  }

  /** The rules between `group` and `peer` belong in the peer's stack. */
  private placeWithPeer(group: ec2.ISecurityGroup, peer: ec2.ISecurityGroup): boolean {
    const ours = Stack.of(group);
    const theirs = Stack.of(peer);
    return ours !== theirs && !upstreamOf(ours, this.upstream()).has(theirs);
  }
}

/** The stacks `stack` depends on: those of `constructs`, and every explicit dependency, transitively. */
function upstreamOf(stack: Stack, constructs: IConstruct[]): Set<Stack> {
  const found = new Set<Stack>();
  const visit = (s: Stack) => {
    if (found.has(s)) return;
    found.add(s);
    s.dependencies.forEach(visit);
  };
  stack.dependencies.forEach(visit);
  for (const c of constructs) {
    const s = Stack.of(c);
    if (s !== stack) visit(s);
  }
  return found;
}
