import * as crypto from 'crypto';
import { CfnResource, CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IDependable } from 'constructs';
import { BootstrapFunction } from './bootstrap-function';
import { checkGrants, DATABASE_NAME_PATTERN, GRANT_RECORD_SCHEMA, MonitorPrivileges, MONITOR_PRIVILEGE_MODES } from './privileges';
import { suppressNag, suppressVpcLambdaRoleNag } from '../private/nag';
import { describeSecret, sameSecret } from '../private/secrets';

/** What the monitor user is granted; see `MonitorPrivileges` in privileges.ts for the evidence. */
export type MonitorPrivilegeMode = MonitorPrivileges;

/** An application user the bootstrap creates from its secret. */
export interface DatabaseBootstrapUser {
  /** RDS-shaped secret (`username`, `password`, optionally `dbname`). */
  readonly secret: secretsmanager.ISecret;
  /**
   * The user's database, created when missing.
   *
   * @default - the secret's `dbname` field, else the user name
   */
  readonly database?: string;
  /**
   * Database-level privileges on `database` (e.g. `['SELECT', 'INSERT', 'UPDATE', 'DELETE']`).
   *
   * @default ['ALL PRIVILEGES']
   */
  readonly grants?: string[];
}

export interface DatabaseBootstrapProps {
  /** The VPC of the database; the function runs in it. */
  readonly vpc: ec2.IVpc;
  /**
   * Where the function runs. It needs a route to the database and to Secrets Manager (NAT or a
   * `secretsmanager` interface endpoint).
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The writer's host name (cluster or instance endpoint). */
  readonly writerHost: string;
  /** The database port. */
  readonly port: number;
  /**
   * Credentials allowed to create users and grant privileges (the master user). Never one of the
   * managed users: the bootstrap must not manage the password or privileges it signs in with.
   */
  readonly adminSecret: secretsmanager.ISecret;
  /** Credentials of the ProxySQL monitor user (not the admin secret). */
  readonly monitorSecret: secretsmanager.ISecret;
  /** Which topology checks the monitor user must be able to run. */
  readonly monitorPrivileges: MonitorPrivilegeMode;
  /** Application users (none of them the admin secret). */
  readonly users: DatabaseBootstrapUser[];
  /**
   * Drop the monitor and application users when this resource is deleted. Databases are never
   * dropped.
   *
   * @default false
   */
  readonly dropUsersOnDelete?: boolean;
  /**
   * The database's network peer; the function's security group is allowed into it on `port`.
   *
   * @default - none: the database must already admit the function (plain endpoints)
   */
  readonly backendConnections?: ec2.IConnectable;
  /**
   * What must exist before the bootstrap runs (the database instances).
   *
   * @default - none
   */
  readonly dependencies?: IDependable[];
  /**
   * Connect with TLS, verifying the server against the Amazon RDS certificate authorities.
   *
   * @default false
   */
  readonly tls?: boolean;
  /**
   * Connect with TLS, verifying the server against these CA certificates (PEM) instead, as the
   * proxy does (a user-given CA for plain endpoints).
   *
   * @default - see `tls`
   */
  readonly tlsCaPem?: string;
  /**
   * Change this value to run the bootstrap again on the next deploy without changing anything else
   * (e.g. after a secret's value was changed outside CloudFormation).
   *
   * @default - none
   */
  readonly rerunToken?: string;
}

/**
 * Creates the ProxySQL monitor user and the application users in the database from their secrets,
 * on every deploy that changes an input, through a Lambda function in the VPC. Internal: the
 * proxy construct creates it and makes its service depend on `customResource`.
 */
export class DatabaseBootstrap extends Construct implements ec2.IConnectable {
  /** Long enough for a cluster that is still starting; the handler stops retrying 30 s before. */
  public static readonly FUNCTION_TIMEOUT = Duration.minutes(10);

  public readonly function: BootstrapFunction;
  public readonly provider: cr.Provider;
  public readonly customResource: CustomResource;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: DatabaseBootstrapProps) {
    super(scope, id);
    validate(props);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'ProxySQL database bootstrap function',
      allowAllOutbound: false,
    });
    // Secrets Manager over HTTPS (through NAT or an interface endpoint); the database rule below.
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager API');
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(props.port) });
    openDatabase(this, this.securityGroup, props);

    this.function = bootstrapFunction(this, props, this.securityGroup);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.customResource = bootstrapResource(this, props, this.provider);

    // Run after the database exists and after the network path into it is open.
    for (const d of props.dependencies ?? []) this.customResource.node.addDependency(d);
    this.customResource.node.addDependency(this.securityGroup);
    for (const sg of props.backendConnections?.connections.securityGroups ?? []) {
      this.customResource.node.addDependency(sg);
    }

    suppressBootstrapNag(this, this.function);
  }
}

/** Lets the function into the database: through its peer's rules when there is one, else out to any address. */
function openDatabase(bootstrap: ec2.IConnectable, securityGroup: ec2.SecurityGroup, props: DatabaseBootstrapProps): void {
  if (props.backendConnections) {
    props.backendConnections.connections.allowFrom(bootstrap, ec2.Port.tcp(props.port), 'ProxySQL database bootstrap');
  } else {
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(props.port), 'Database (plain endpoint)');
  }
}

/** The handler in the VPC, with its log group and read access to every secret it uses. */
function bootstrapFunction(scope: Construct, props: DatabaseBootstrapProps, securityGroup: ec2.ISecurityGroup): BootstrapFunction {
  const functionLogs = new logs.LogGroup(scope, 'FunctionLogs', {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fn = new BootstrapFunction(scope, 'Function', {
    description: 'Creates the ProxySQL monitor and application users from their secrets',
    vpc: props.vpc,
    vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: [securityGroup],
    timeout: DatabaseBootstrap.FUNCTION_TIMEOUT,
    memorySize: 256,
    logGroup: functionLogs,
  });
  for (const secret of [props.adminSecret, props.monitorSecret, ...props.users.map((u) => u.secret)]) {
    secret.grantRead(fn);
  }
  return fn;
}

/** The custom resource: secret ARNs and settings only, never a secret's value. */
function bootstrapResource(scope: Construct, props: DatabaseBootstrapProps, provider: cr.Provider): CustomResource {
  const properties = {
    WriterHost: props.writerHost,
    Port: props.port,
    AdminSecretArn: props.adminSecret.secretArn,
    MonitorSecretArn: props.monitorSecret.secretArn,
    MonitorPrivileges: props.monitorPrivileges,
    Users: props.users.map((u) => ({ SecretArn: u.secret.secretArn, Database: u.database, Grants: u.grants })),
    DropUsersOnDelete: props.dropUsersOnDelete ?? false,
    Tls: props.tls ?? false,
    ...(props.tlsCaPem !== undefined ? { TlsCaPem: props.tlsCaPem } : {}),
  };
  return new CustomResource(scope, 'Resource', {
    serviceToken: provider.serviceToken,
    resourceType: 'Custom::ProxySqlDatabaseBootstrap',
    properties: {
      ...properties,
      // Any change re-runs the bootstrap; the hash also carries rerunToken. No secret value is in it.
      ConfigHash: configHash(Stack.of(scope).resolve({ ...properties, rerunToken: props.rerunToken ?? null })),
    },
  });
}

function suppressBootstrapNag(scope: Construct, fn: BootstrapFunction): void {
  suppressVpcLambdaRoleNag(scope, 'Function/ServiceRole');
  suppressNag(scope, 'Provider/framework-onEvent/ServiceRole', [{
    id: 'AwsSolutions-IAM4',
    reason: 'AWSLambdaBasicExecutionRole (own log streams) is the narrow AWS-managed policy the custom resource framework attaches',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
  }]);
  suppressNag(scope, 'Provider/framework-onEvent/ServiceRole/DefaultPolicy', [{
    id: 'AwsSolutions-IAM5',
    reason: 'The custom resource framework may invoke any version of the bootstrap function (aws-cdk-lib custom-resources Provider)',
    appliesTo: [`Resource::<${Stack.of(scope).resolve((fn.node.defaultChild as CfnResource).logicalId)}.Arn>:*`],
  }]);
  suppressNag(scope, 'Provider/framework-onEvent', [{
    id: 'AwsSolutions-L1',
    reason: 'The custom resource framework function runtime is chosen by aws-cdk-lib; our own handler runs on the newest Node.js runtime',
  }]);
}

function configHash(resolved: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(resolved)).digest('hex').slice(0, 32);
}

function validate(props: DatabaseBootstrapProps): void {
  const fail = (prop: string, rule: string, got: unknown) => {
    throw new Error(`DatabaseBootstrap: ${prop} ${rule} (got ${JSON.stringify(got)})`);
  };
  if (!Token.isUnresolved(props.port) && (!Number.isInteger(props.port) || props.port < 1 || props.port > 65535)) {
    fail('port', 'must be an integer from 1 to 65535', props.port);
  }
  if (!Token.isUnresolved(props.writerHost) && props.writerHost.trim() === '') {
    fail('writerHost', 'must not be empty', props.writerHost);
  }
  if (!MONITOR_PRIVILEGE_MODES.includes(props.monitorPrivileges)) {
    fail('monitorPrivileges', `must be one of ${MONITOR_PRIVILEGE_MODES.join(', ')}`, props.monitorPrivileges);
  }
  // The handler refuses the same thing by user name at run time; here it is caught before deploy.
  const notAdmin = (prop: string, secret: secretsmanager.ISecret, what: string) => {
    if (sameSecret(secret, props.adminSecret)) {
      throw new Error(`DatabaseBootstrap: ${prop} must not be the adminSecret: the bootstrap signs in with it and must not `
        + `manage that user's own password and privileges; give the ${what} a secret of its own (got ${describeSecret(secret)})`);
    }
  };
  notAdmin('monitorSecret', props.monitorSecret, 'monitor user');
  props.users.forEach((u, i) => {
    notAdmin(`users[${i}].secret`, u.secret, 'application user');
    if (u.database !== undefined && !Token.isUnresolved(u.database) && !DATABASE_NAME_PATTERN.test(u.database)) {
      fail(`users[${i}].database`, `must match ${DATABASE_NAME_PATTERN}`, u.database);
    }
    if (u.database !== undefined && !Token.isUnresolved(u.database) && u.database.toLowerCase() === GRANT_RECORD_SCHEMA) {
      fail(`users[${i}].database`, `must not be ${GRANT_RECORD_SCHEMA}, which holds the bootstrap's grant record`, u.database);
    }
    if (u.grants !== undefined && !u.grants.some((g) => Token.isUnresolved(g))) {
      const problem = checkGrants(u.grants);
      if (problem) throw new Error(`DatabaseBootstrap: users[${i}].grants ${problem}`);
    }
  });
}
