import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * Where a construct puts what runs in the VPC when the user chose no subnets: the private subnets
 * with egress when the VPC has any, else its isolated subnets (a VPC with VPC endpoints and no
 * NAT); never public subnets. aws-cdk-lib's own default would fail in an isolated-only VPC with
 * "There are no 'Private' subnet groups", naming no prop.
 *
 * @param context the construct, for the message (e.g. `ProxySqlFargate`)
 * @param prop the prop that chooses these subnets (e.g. `vpcSubnets`)
 * @param what what goes there, for the message (e.g. `its tasks`)
 */
export function defaultPrivateSubnets(vpc: ec2.IVpc, context: string, prop: string, what: string): ec2.SubnetSelection {
  if (vpc.privateSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  if (vpc.isolatedSubnets.length > 0) return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  throw new Error(`${context}: ${prop} must select private subnets for ${what}, and the VPC has none to default to: `
    + 'add private subnets (with egress, or isolated with VPC endpoints) to the VPC and select them with '
    + `${prop} (got a VPC with ${vpc.publicSubnets.length} public and no private or isolated subnets)`);
}

/** Every selected subnet is one of the VPC's isolated subnets (no route out: no NAT, no internet gateway). */
export function onlyIsolated(vpc: ec2.IVpc, selected: ec2.SelectedSubnets): boolean {
  const isolated = new Set(vpc.isolatedSubnets.map((s) => s.subnetId));
  return selected.subnetIds.length > 0 && selected.subnetIds.every((id) => isolated.has(id));
}
