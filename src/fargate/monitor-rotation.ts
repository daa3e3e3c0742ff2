/**
 * The generated monitor secret, and its rotation when `monitorRotation` asks for one: Secrets
 * Manager's alternating-users function for MySQL, signing in with the backend's admin secret. The
 * tasks follow each rotation with their credentials sidecar; the previous user stays valid until the
 * next rotation, so the monitor needs no gate.
 */
import { Annotations, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { fail } from './validation';
import { ProxySqlBackendConfig } from '../backend';
import { CLONE_SUFFIX } from '../private/alternating-users';
import { CrossStackConnections } from '../private/cross-stack-connections';
import { rotationIntervalProblem } from '../private/rotation-interval';
import { generatedUserSecret, SAFE_SECRET_EXCLUDED_CHARACTERS } from '../private/secrets';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';

/** The monitor's user name in the generated secret. */
const MONITOR_USERNAME = 'proxysql_monitor';

/** Refuses a `monitorRotation` that could not work, before anything is made. */
export function checkMonitorRotation(props: ProxySqlFargateProps): void {
  const rotation = props.monitorRotation;
  if (!rotation) return;
  if (props.monitorSecret) {
    fail('monitorRotation', 'rotates the generated monitor secret: with your own monitorSecret, attach a rotation to that secret instead '
      + '(the tasks follow it live), or leave monitorSecret unset', 'a monitorSecret');
  }
  if (props.bootstrap === false) {
    fail('monitorRotation', 'needs the bootstrap, which creates the first monitor user (the rotation creates the second one from its grants)', 'bootstrap: false');
  }
  if (props.liveCredentials === false) {
    fail('monitorRotation', 'needs liveCredentials: the tasks must switch to each new monitor user before the following rotation changes the password of the one they use',
      'liveCredentials: false');
  }
  const problem = rotationIntervalProblem(rotation.automaticallyAfter ?? Duration.days(30));
  if (problem) fail('monitorRotation.automaticallyAfter', problem.rule, problem.got);
}

export interface MonitorSecretInput {
  readonly backend: ProxySqlBackendConfig;
}

/**
 * The generated monitor secret. With `monitorRotation` it also holds what the rotation function
 * reads (the writer's host and port, the engine, the admin secret's ARN), under its own construct
 * id: turning rotation on replaces the secret, and the new one starts at the second user, so tasks
 * that still run with the first one keep it until they are replaced.
 */
export function monitorSecret(scope: Construct, props: ProxySqlFargateProps, input: MonitorSecretInput): secretsmanager.Secret {
  if (!props.monitorRotation) {
    return generatedUserSecret(scope, 'MonitorSecret', MONITOR_USERNAME, 'ProxySQL monitor user credentials');
  }
  const { backend } = input;
  return generatedUserSecret(scope, 'RotatingMonitorSecret', `${MONITOR_USERNAME}${CLONE_SUFFIX}`,
    'ProxySQL monitor user credentials, rotated with alternating users', {
      engine: 'mysql',
      host: backend.writerEndpoint,
      port: backend.port,
      // checkMonitorRotation refused monitorRotation without the bootstrap, which requires an admin secret.
      masterarn: backend.adminSecret!.secretArn,
    });
}

export interface MonitorRotationInput {
  readonly backend: ProxySqlBackendConfig;
  readonly secret: secretsmanager.ISecret;
  /** The tasks' subnets: the default for the rotation function. */
  readonly taskSubnets: ec2.SubnetSelection;
  /** The database's security groups (rules into them are made in this stack), if it has any. */
  readonly backendConnections?: CrossStackConnections;
}

/** Attaches the rotation to the monitor secret (undefined without `monitorRotation`). */
export function monitorSecretRotation(
  scope: Construct, props: ProxySqlFargateProps, input: MonitorRotationInput,
): secretsmanager.SecretRotation | undefined {
  const rotation = props.monitorRotation;
  if (!rotation) return undefined;
  const { backend } = input;
  const vpcSubnets = rotation.vpcSubnets ?? input.taskSubnets;
  if (props.vpc.selectSubnets(vpcSubnets).hasPublic) {
    fail('monitorRotation.vpcSubnets', 'must select private subnets: the rotation function is a Lambda function, which cannot use public subnets', 'a selection with public subnets');
  }
  const securityGroup = new ec2.SecurityGroup(scope, 'MonitorRotationSecurityGroup', {
    vpc: props.vpc,
    description: 'ProxySQL monitor secret rotation: signs in to the writer and calls the Secrets Manager API',
    allowAllOutbound: true,
  });
  const secretRotation = new secretsmanager.SecretRotation(scope, 'MonitorRotation', {
    application: secretsmanager.SecretRotationApplication.MYSQL_ROTATION_MULTI_USER,
    secret: input.secret,
    masterSecret: backend.adminSecret,
    // The rule into the database is made below, in the stack where it cannot form a cycle
    // (CrossStackConnections); SecretRotation's own would go into the database's stack.
    target: { connections: new ec2.Connections({ defaultPort: ec2.Port.tcp(backend.port) }) },
    vpc: props.vpc,
    vpcSubnets,
    securityGroup,
    automaticallyAfter: rotation.automaticallyAfter ?? Duration.days(30),
    // New passwords stay safe for ProxySQL's configuration, like the generated ones.
    excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
  });
  if (input.backendConnections && input.backendConnections.securityGroups.length > 0) {
    input.backendConnections.allowFrom(securityGroup, ec2.Port.tcp(backend.port), 'ProxySQL monitor secret rotation');
  } else {
    Annotations.of(scope).addWarningV2('cdk-proxysql:monitorRotationNotOpened',
      `monitorRotation: the backend has no security group this app can change: admit the rotation function's security group (${securityGroup.node.path}) to the database port yourself`);
  }
  return secretRotation;
}
