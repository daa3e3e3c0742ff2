import { Annotations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_CREDENTIALS_REFRESH_SECONDS, fail } from './validation';
import { ProxySqlEndpoint } from '../endpoint';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';
import { LOGIN_PAUSE_MS, LOGIN_STREAK, SETTLE_MARGIN_SECONDS } from '../rotation-gate/gate';
import { GATE_TIMEOUT, RotationGate } from '../rotation-gate/rotation-gate';

/**
 * What the gate's testSecret spends besides waiting for the proxies: the invoke of Secrets Manager's
 * function (a cold start in the VPC and its own login to the database) and the reads of SSM and the
 * pending value. A generous bound, not a measured one (no AWS account here).
 */
const GATE_OVERHEAD_SECONDS = 55;

/** The longest refresh interval a gate can wait for: its timeout, less the settle margin, the logins and the overhead. */
export const MAX_GATED_REFRESH_SECONDS = GATE_TIMEOUT.toSeconds() - SETTLE_MARGIN_SECONDS - Math.ceil(LOGIN_STREAK * LOGIN_PAUSE_MS / 1000)
  - GATE_OVERHEAD_SECONDS;

export interface RotationGateInput {
  readonly userSecrets: secretsmanager.ISecret[];
  readonly endpoint: ProxySqlEndpoint;
  /** The tasks' refresh interval (undefined with `liveCredentials: false`). */
  readonly refreshSeconds?: number;
  readonly connections: ec2.Connections;
  /** What must be deployed before the gate waits for this proxy (its service). */
  readonly after: IConstruct;
}

/**
 * For each user secret whose rotation waits for its proxies (`RotationGate`, e.g. AuroraBackend's
 * alternating users): let the gate in on the listener port and register this proxy with it.
 */
export function registerWithRotationGates(scope: Construct, props: ProxySqlFargateProps, input: RotationGateInput): void {
  const gates = new Set(input.userSecrets.map((s) => RotationGate.of(s)).filter((g): g is RotationGate => g !== undefined));
  if (gates.size === 0) return;
  if (input.refreshSeconds === undefined) {
    Annotations.of(scope).addWarningV2('cdk-proxysql:rotationWithoutLiveCredentials',
      'liveCredentials is false, but a user secret rotates with a gate that waits for this proxy: the tasks never learn the pending user, '
      + 'so every rotation fails at testSecret (the secret keeps its current value). Turn liveCredentials on');
  } else if (input.refreshSeconds > MAX_GATED_REFRESH_SECONDS) {
    fail('credentialsRefreshInterval', `must be at most ${MAX_GATED_REFRESH_SECONDS} s when a user secret's rotation waits for the proxy `
      + `(the rotation gate runs at most ${GATE_TIMEOUT.toMinutes()} minutes)`, `${input.refreshSeconds} s`);
  }
  for (const gate of gates) {
    input.connections.allowDefaultPortFrom(gate, 'Rotation gate: logs in with the pending user');
    gate.register(scope, {
      host: input.endpoint.hostname,
      port: input.endpoint.port,
      // Without live credentials the gate waits as it would for the default, then refuses (see the warning).
      refreshSeconds: input.refreshSeconds ?? DEFAULT_CREDENTIALS_REFRESH_SECONDS,
      tls: props.frontendTls ?? true,
    }, input.after);
  }
}
