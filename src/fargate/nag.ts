/**
 * The cdk-nag findings the proxy's resources are exempt from, each with the reason.
 */
import { Construct } from 'constructs';
import { suppressNag } from '../private/nag';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';

export function suppressProxyNag(scope: Construct, props: ProxySqlFargateProps): void {
  suppressNag(scope, 'TaskDefinition', [{
    id: 'AwsSolutions-ECS2',
    reason: 'The environment holds the ProxySQL config template with placeholders, the drain time and public CA certificates; every credential and private key is an ECS secret (Secrets Manager reference)',
  }]);
  suppressNag(scope, 'LoadBalancer', [{
    id: 'AwsSolutions-ELB2',
    reason: 'NLB access logs exist only for TLS listeners; this listener is TCP (MySQL protocol, TLS negotiated by ProxySQL). Use VPC flow logs for connection records',
  }]);
  if (props.enableExecuteCommand ?? true) {
    suppressNag(scope, 'TaskDefinition/TaskRole/DefaultPolicy', [{
      id: 'AwsSolutions-IAM5',
      reason: 'ECS Exec needs ssmmessages:* channel actions, which have no resource-level permissions',
      appliesTo: ['Resource::*'],
    }]);
  }
  for (const [child, given] of [['AdminSecret', props.adminSecret], ['MonitorSecret', props.monitorSecret]] as const) {
    if (!given) suppressNag(scope, child, [{ id: 'AwsSolutions-SMG4', reason: 'Rotation would change a password that running ProxySQL tasks and the database users hold; rotate by updating the secret and redeploying, which re-runs the bootstrap and replaces the tasks' }]);
  }
}
