import { Arn, ArnFormat, CfnResource, Duration, Names, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { GateTarget } from './gate';
import { RotationGateFunction } from './rotation-gate-function';
import { suppressVpcLambdaRoleNag } from '../private/nag';

/**
 * How long the gate may run for one step: a task follows a secret within its refresh interval plus a
 * few seconds, so this covers `credentialsRefreshInterval` up to about 9 minutes.
 */
export const GATE_TIMEOUT = Duration.minutes(10);

export interface RotationGateProps {
  /** The rotated secret: the one the rotation schedule belongs to. */
  readonly secret: secretsmanager.ISecret;
  /** The rotation it wraps (`addRotationMultiUser` or a `SecretRotation`). */
  readonly rotation: secretsmanager.SecretRotation;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
}

/**
 * Makes a secret's rotation wait for the proxies that serve it (src/rotation-gate/gate.ts): the
 * rotation schedule calls this gate, which runs each step with the rotation function and, after
 * testSecret, waits until every registered proxy accepts the pending user. Proxies register with
 * `register()` (ProxySqlFargate does, for each user secret that has a gate), as SSM parameters under
 * `parameterPath`: the gate reads them when it runs, so a proxy in another stack needs no reference
 * from the secret's stack to its own.
 */
export class RotationGate extends Construct implements ec2.IConnectable {
  /** The gate of a secret, when it has one. */
  public static of(secret: secretsmanager.ISecret): RotationGate | undefined {
    return GATES.get(secret);
  }

  /** The gate function, whose security group the proxies let in on their listener port (`connections`). */
  public readonly function: RotationGateFunction;
  /** Where the proxies register (`/cdk-proxysql/rotation-gate/<stack>/<id>`). */
  public readonly parameterPath: string;

  constructor(scope: Construct, id: string, props: RotationGateProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.parameterPath = `/cdk-proxysql/rotation-gate/${stack.stackName}/${Names.uniqueId(this)}`;
    const application = props.rotation.node.findChild('Resource') as CfnResource;
    const rotationFunctionArn = application.getAtt('Outputs.RotationLambdaARN').toString();

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Rotation gate: logs in through the proxies and calls the Secrets Manager, SSM and Lambda APIs',
      allowAllOutbound: true,
    });
    this.function = new RotationGateFunction(this, 'Function', {
      description: 'cdk-proxysql: runs the secret rotation and holds it until every proxy accepts the pending user',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [securityGroup],
      timeout: GATE_TIMEOUT,
      memorySize: 256,
      environment: {
        ROTATION_FUNCTION_ARN: rotationFunctionArn,
        GATE_PARAMETER_PATH: this.parameterPath,
      },
    });
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [rotationFunctionArn] }));
    props.secret.grantRead(this.function);
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParametersByPath'],
      resources: [Arn.format({ service: 'ssm', resource: 'parameter', resourceName: this.parameterPath.slice(1), arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, stack)],
    }));
    const permission = this.function.grantInvoke(new iam.ServicePrincipal('secretsmanager.amazonaws.com'));

    // The schedule that the rotation created calls the gate instead of the rotation function.
    const schedule = props.secret.node.findChild('RotationSchedule').node.defaultChild as secretsmanager.CfnRotationSchedule;
    schedule.addPropertyOverride('RotationLambdaARN', this.function.functionArn);
    permission.applyBefore(schedule);

    GATES.set(props.secret, this);
    suppressVpcLambdaRoleNag(this, 'Function/ServiceRole');
  }

  /** The gate function's security group: proxies let it in on their listener port. */
  public get connections(): ec2.Connections {
    return this.function.connections;
  }

  /**
   * Register a proxy that serves the secret: the gate waits for it. The parameter lives beside the
   * proxy and appears once `after` (the proxy's service) is deployed.
   */
  public register(proxy: IConstruct, target: Omit<GateTarget, 'name'>, after: IConstruct): ssm.StringParameter {
    const parameter = new ssm.StringParameter(proxy, `RotationGate${Names.uniqueId(this)}`, {
      parameterName: `${this.parameterPath}/${Names.uniqueId(proxy)}`,
      description: `cdk-proxysql: ${proxy.node.path} serves a secret whose rotation waits for it`,
      stringValue: Stack.of(proxy).toJsonString({ name: proxy.node.path, ...target }),
    });
    parameter.node.addDependency(after);
    return parameter;
  }
}

const GATES = new WeakMap<secretsmanager.ISecret, RotationGate>();
