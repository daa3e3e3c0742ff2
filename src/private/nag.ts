import { CfnResource, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One cdk-nag rule a resource is exempt from, and why. */
export interface NagSuppression {
  /** The rule, e.g. `AwsSolutions-IAM5`. */
  readonly id: string;
  readonly reason: string;
  /** Only these findings of the rule (e.g. `Resource::*`), not every one. */
  readonly appliesTo?: string[];
}

/**
 * Acknowledge cdk-nag findings on exactly one CloudFormation resource, in the construct metadata
 * that aws-cdk-lib's `Validations.acknowledge()` writes and cdk-nag 3 reads, so the library needs
 * no cdk-nag dependency. The entry is written directly because a finding id such as
 * `AwsSolutions-IAM4[Policy::arn:...]` contains `::`, which `acknowledge()` rejects.
 * `path` is the construct path below `scope` (e.g. `TaskDefinition/TaskRole/DefaultPolicy`).
 */
export function suppressNag(scope: IConstruct, path: string, rules: NagSuppression[]): void {
  let node: IConstruct = scope;
  for (const part of path.split('/').filter((p) => p)) {
    const child = node.node.tryFindChild(part);
    if (!child) throw new Error(`cdk-nag suppression target ${scope.node.path}/${path} not found (at ${part})`);
    node = child;
  }
  const resource = node instanceof CfnResource ? node : node.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`cdk-nag suppression target ${node.node.path} is not a CloudFormation resource`);
  }
  const acknowledged: Record<string, string> = {};
  for (const r of rules) {
    for (const id of r.appliesTo ? r.appliesTo.map((finding) => `${r.id}[${finding}]`) : [r.id]) {
      acknowledged[id] = r.reason;
    }
  }
  resource.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, acknowledged);
}

/**
 * The managed policies aws-lambda attaches to the role of a function in a VPC: logging and ENIs.
 */
export function suppressVpcLambdaRoleNag(scope: IConstruct, rolePath: string): void {
  suppressNag(scope, rolePath, [{
    id: 'AwsSolutions-IAM4',
    reason: 'AWSLambdaBasicExecutionRole (own log streams) and AWSLambdaVPCAccessExecutionRole (ENIs in the VPC) are the narrow AWS-managed policies aws-lambda attaches for these needs',
    appliesTo: [
      'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
      'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
    ],
  }]);
}
