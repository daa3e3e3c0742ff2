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
  if (!props.adminSecret) {
    suppressNag(scope, 'AdminSecret', [{ id: 'AwsSolutions-SMG4', reason: 'Only the ProxySQL tasks use the admin credentials, and they never leave the tasks; rotate them by updating the secret and redeploying, which replaces the tasks' }]);
  }
  // A rotated monitor secret (monitorRotation) needs no acknowledgment.
  if (!props.monitorSecret && !props.monitorRotation) {
    const reason = (props.liveCredentials ?? true)
      ? 'monitorRotation is not set. Set it and the monitor secret rotates with alternating users, which the running tasks follow live (liveCredentials, see docs/rotation.md)'
      : 'liveCredentials is off: the tasks read the monitor secret at start only, so rotate it by updating the secret and redeploying';
    suppressNag(scope, 'MonitorSecret', [{ id: 'AwsSolutions-SMG4', reason }]);
  }
}
