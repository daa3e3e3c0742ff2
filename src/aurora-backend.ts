import { Annotations, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  AuroraDiscoveryTuning, AuroraTopologyMode, IProxySqlBackend, ProxySqlBackend, ProxySqlBackendConfig,
} from './backend';
import { auroraMysqlMaxConnections, auroraServerlessV2MaxConnections } from './config/connection-budget';
import { CLONE_SUFFIX, MYSQL_MAX_USERNAME } from './private/alternating-users';
import { suppressNag } from './private/nag';
import { rotationIntervalProblem } from './private/rotation-interval';
import { SAFE_SECRET_EXCLUDED_CHARACTERS } from './private/secrets';
import { RotationGate } from './rotation-gate/rotation-gate';

/**
 * Properties of an `AuroraBackend`.
 */
export interface AuroraBackendProps {
  /** The VPC of the cluster. */
  readonly vpc: ec2.IVpc;
  /**
   * Where the instances go.
   *
   * @default - the VPC's isolated subnets if it has any, else its private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Number of reader instances besides the writer (a number, not a token).
   *
   * @default 1
   */
  readonly readers?: number;
  /**
   * The provisioned instance class (Graviton by default: the best price/performance for MySQL).
   * Ignored when `serverlessV2` is true.
   *
   * @default - db.r7g.large
   */
  readonly instanceType?: ec2.InstanceType;
  /**
   * Use Aurora Serverless v2 instances instead of provisioned ones.
   *
   * @default false
   */
  readonly serverlessV2?: boolean;
  /**
   * Serverless v2 minimum capacity (ACU), with `serverlessV2` (a number, not a token).
   *
   * @default 0.5
   */
  readonly serverlessV2MinCapacity?: number;
  /**
   * Serverless v2 maximum capacity (ACU), with `serverlessV2` (a number, not a token).
   *
   * @default 4
   */
  readonly serverlessV2MaxCapacity?: number;
  /**
   * The Aurora MySQL 3 (MySQL 8.0-compatible) engine version.
   *
   * @default rds.AuroraMysqlEngineVersion.VER_3_10_3 (an LTS release)
   */
  readonly engineVersion?: rds.AuroraMysqlEngineVersion;
  /**
   * The database the application user owns (the bootstrap creates it).
   *
   * @default 'app'
   */
  readonly databaseName?: string;
  /**
   * The application user's name.
   *
   * @default 'app'
   */
  readonly appUsername?: string;
  /**
   * Rotate the application user's secret on a schedule, with Secrets Manager's rotation function
   * for MySQL (CDK's `addRotationMultiUser` or `addRotationSingleUser` on the cluster). The proxy's
   * tasks follow each rotation live (`liveCredentials` of `ProxySqlFargate`).
   * `AppUserRotation.alternatingUsers()` is the one to use: the secret then switches between
   * `app` and `app_clone`, and the previous user keeps working until the next rotation. Turning it
   * on for an existing cluster gives the secret a `masterarn` field (alternating users), which
   * generates a new password at that deploy; the bootstrap then sets it in the database.
   * See "Rotating credentials" in the README.
   *
   * @default - no rotation schedule
   */
  readonly appUserRotation?: AppUserRotation;
  /**
   * The master user's name.
   *
   * @default 'clusteradmin'
   */
  readonly masterUsername?: string;
  /**
   * How long automated backups are kept.
   *
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;
  /**
   * What happens to the cluster when it leaves the stack.
   *
   * @default RemovalPolicy.SNAPSHOT
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Protect the cluster from deletion.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * How ProxySQL learns the topology.
   *
   * @default AuroraTopologyMode.AURORA_DISCOVERY
   */
  readonly topologyMode?: AuroraTopologyMode;
  /**
   * Aurora discovery tuning.
   *
   * @default - ProxySQL configuration defaults
   */
  readonly discovery?: AuroraDiscoveryTuning;
  /**
   * The instances' `max_connections`, when a custom parameter group changes it. The proxy keeps
   * its tasks' backend connections within a share of it.
   *
   * @default - Aurora MySQL's default for `instanceType` (1000 for db.r7g.large), or for the
   * memory of `serverlessV2MaxCapacity` (2 GiB per ACU: 135 for 4 ACU)
   */
  readonly databaseMaxConnections?: number;
  /**
   * CA certificates (PEM) the instances' certificates chain to, for the proxy's and the bootstrap's
   * verification; only needed in a region whose Amazon RDS CAs the library does not bundle (the synth
   * says so). See `ProxySqlBackendOptions.serverCaPem`.
   *
   * @default - the Amazon RDS root CAs of the stack's region, bundled with the library
   */
  readonly serverCaPem?: string;
}

/** Options of `AppUserRotation`. */
export interface AppUserRotationOptions {
  /**
   * Time between two rotations.
   *
   * @default Duration.days(30)
   */
  readonly automaticallyAfter?: Duration;
}

/** How `AuroraBackend` rotates the application user's secret (`appUserRotation`). */
export class AppUserRotation {
  /**
   * Alternating users (Secrets Manager's multi-user strategy): each rotation hands out the other of
   * two users (`app`, `app_clone`) with a new password, using the master secret to create the clone
   * with the same grants. Clients that cached the previous value keep working until the next
   * rotation, and the proxy accepts both users.
   */
  public static alternatingUsers(options: AppUserRotationOptions = {}): AppUserRotation {
    return new AppUserRotation(true, options);
  }

  /**
   * Single user: each rotation changes the one user's password in place. From the database's
   * change until the proxy's tasks apply it, connections with either password can fail (measured:
   * see the README); prefer `alternatingUsers()`.
   */
  public static singleUser(options: AppUserRotationOptions = {}): AppUserRotation {
    return new AppUserRotation(false, options);
  }

  /** True for alternating users, false for single user. */
  public readonly alternating: boolean;
  /** Time between two rotations. */
  public readonly automaticallyAfter: Duration;

  private constructor(alternating: boolean, options: AppUserRotationOptions) {
    this.alternating = alternating;
    this.automaticallyAfter = options.automaticallyAfter ?? Duration.days(30);
    const problem = rotationIntervalProblem(this.automaticallyAfter);
    if (problem) throw new Error(`AppUserRotation: automaticallyAfter ${problem.rule} (got ${problem.got})`);
  }
}


/** MySQL version that Aurora MySQL 3.10 reports, so ProxySQL answers clients with the same. */
const DEFAULT_SERVER_VERSION = '8.0.42';

/**
 * An Aurora MySQL cluster (a writer and readers) ready to sit behind `ProxySqlFargate`.
 *
 * Storage is encrypted, the master and application users get generated secrets whose characters
 * are safe for ProxySQL's configuration, and the proxy's bootstrap creates the application user
 * and its database after deploy: no manual SQL.
 */
export class AuroraBackend extends Construct implements IProxySqlBackend, ec2.IConnectable {
  /** The Aurora cluster. */
  public readonly cluster: rds.DatabaseCluster;
  /** The master user's secret (RDS JSON shape). */
  public readonly masterSecret: secretsmanager.ISecret;
  /**
   * The application user's secret (RDS JSON shape: `username`, `password`, `dbname`). Without
   * `appUserRotation` it has no `host`; with it, it carries the cluster's `host` and `port`, which
   * the rotation function needs. Either way, the application connects through the proxy
   * (`proxy.endpoint`), not to the cluster.
   */
  public readonly appUserSecret: secretsmanager.ISecret;
  /** The database the application user owns. */
  public readonly databaseName: string;
  /** The application secret's rotation (undefined without `appUserRotation`). */
  public readonly appUserRotation?: secretsmanager.SecretRotation;
  /**
   * The function the application secret's rotation schedule calls with alternating users: it runs
   * each step with Secrets Manager's rotation function, and holds testSecret until every proxy that
   * serves the secret accepts the pending user (undefined without alternating-users rotation).
   */
  public readonly rotationGateFunction?: lambda.IFunction;
  /** Network access to the cluster. */
  public readonly connections: ec2.Connections;

  private readonly backend: IProxySqlBackend;

  constructor(scope: Construct, id: string, props: AuroraBackendProps) {
    super(scope, id);
    const settings = auroraSettings(props);
    this.databaseName = settings.databaseName;

    this.cluster = auroraCluster(this, props, settings);
    this.masterSecret = this.cluster.secret!;
    this.connections = this.cluster.connections;

    const rotation = props.appUserRotation;
    const appUsernameLength = Token.isUnresolved(settings.appUsername) ? 0 : settings.appUsername.length;
    if (rotation?.alternating && appUsernameLength + CLONE_SUFFIX.length > MYSQL_MAX_USERNAME) {
      throw new Error(`AuroraBackend: appUsername must be at most ${MYSQL_MAX_USERNAME - CLONE_SUFFIX.length} characters with alternating-users rotation `
        + `(the rotation adds '${CLONE_SUFFIX}', and MySQL user names have at most ${MYSQL_MAX_USERNAME}) (got ${settings.appUsername.length} characters)`);
    }
    const appSecret = new rds.DatabaseSecret(this, 'AppUserSecret', {
      username: settings.appUsername,
      dbname: this.databaseName,
      excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
      // Alternating users: the rotation function signs in with the master secret named here.
      ...(rotation?.alternating ? { masterSecret: this.masterSecret } : {}),
    });
    // Secrets Manager's rotation functions connect to the secret's `host`: a rotated secret carries
    // the cluster's (clients still connect to the proxy).
    const rotated = rotation ? appSecret.attach(this.cluster) : undefined;
    this.appUserSecret = rotated ?? appSecret;
    if (rotation && rotated) {
      // The rotation function calls the Secrets Manager API: subnets with a route out when the VPC has them.
      const egress = props.vpc.privateSubnets.length > 0;
      if (!egress) {
        Annotations.of(this).addWarningV2('cdk-proxysql:rotationWithoutEgress',
          'appUserRotation: the VPC has no private subnets with egress, so the rotation function runs in the cluster\'s subnets, '
          + 'where it reaches Secrets Manager only through an interface endpoint (ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)'
          + (rotation.alternating ? '; its gate also needs endpoints for SSM and Lambda (SSM, LAMBDA)' : ''));
      }
      const options = {
        vpcSubnets: egress ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : settings.vpcSubnets,
        automaticallyAfter: rotation.automaticallyAfter,
        // New passwords stay safe for ProxySQL's configuration, like the generated ones.
        excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
      };
      // Single user: a rotation of the application secret itself, signing in as that user.
      this.appUserRotation = rotation.alternating
        ? this.cluster.addRotationMultiUser('AppUserRotation', { ...options, secret: rotated })
        : new secretsmanager.SecretRotation(this, 'AppUserRotation', {
          ...options,
          application: secretsmanager.SecretRotationApplication.MYSQL_ROTATION_SINGLE_USER,
          secret: rotated,
          target: this.cluster,
          vpc: props.vpc,
        });
      // Alternating users: the rotation waits until the proxies accept the pending user before
      // AWSCURRENT moves (a single-user rotation changes the password the proxies still need, so no wait helps).
      if (rotation.alternating) {
        const gate = new RotationGate(this, 'RotationGate', {
          secret: rotated, rotation: this.appUserRotation, vpc: props.vpc, vpcSubnets: options.vpcSubnets,
        });
        this.rotationGateFunction = gate.function;
      }
    }

    // A kept cluster (snapshot or retained) is useless without its passwords: keep the secrets too.
    if (settings.removalPolicy !== RemovalPolicy.DESTROY) {
      // cluster.secret is the attachment; the generated secret itself is the cluster's 'Secret' child.
      (this.cluster.node.findChild('Secret') as secretsmanager.Secret).applyRemovalPolicy(RemovalPolicy.RETAIN);
      appSecret.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
    suppressAuroraNag(this, rotation !== undefined);

    this.backend = ProxySqlBackend.fromAuroraCluster(this.cluster, {
      adminSecret: this.masterSecret,
      appUserSecrets: [this.appUserSecret],
      serverVersion: DEFAULT_SERVER_VERSION,
      topologyMode: props.topologyMode ?? AuroraTopologyMode.AURORA_DISCOVERY,
      instanceIdentifiers: props.topologyMode === AuroraTopologyMode.READ_ONLY_CHECKS ? undefined : this.cluster.instanceIdentifiers,
      discovery: props.discovery,
      databaseMaxConnections: props.databaseMaxConnections ?? defaultMaxConnections(props, settings.instanceType),
      serverCaPem: props.serverCaPem,
    });
  }

  /** Describe this cluster to a proxy. */
  public bind(scope: Construct): ProxySqlBackendConfig {
    return this.backend.bind(scope);
  }
}

/** The props with their defaults filled in, once they are known to be valid. */
interface AuroraSettings {
  readonly readers: number;
  readonly databaseName: string;
  readonly appUsername: string;
  readonly masterUsername: string;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly instanceType: ec2.InstanceType;
  readonly removalPolicy: RemovalPolicy;
}

function auroraSettings(props: AuroraBackendProps): AuroraSettings {
  const readers = props.readers ?? 1;
  // One instance is made per reader at synth time, and aws-cdk-lib checks the serverless capacity
  // range at synth time: none of these can wait for CloudFormation.
  for (const [prop, value, why] of [
    ['readers', props.readers, 'one reader instance is created per unit at synth time'],
    ['serverlessV2MinCapacity', props.serverlessV2MinCapacity, 'aws-cdk-lib checks the capacity range at synth time'],
    ['serverlessV2MaxCapacity', props.serverlessV2MaxCapacity, 'aws-cdk-lib checks the capacity range at synth time'],
  ] as const) {
    if (value !== undefined && Token.isUnresolved(value)) {
      throw new Error(`AuroraBackend: ${prop} must be a concrete number, not a token: ${why} (got a token)`);
    }
  }
  if (!Number.isInteger(readers) || readers < 0 || readers > 15) {
    throw new Error(`AuroraBackend: readers must be a whole number from 0 to 15 (Aurora's limit) (got ${readers})`);
  }
  if (!props.serverlessV2 && (props.serverlessV2MinCapacity !== undefined || props.serverlessV2MaxCapacity !== undefined)) {
    throw new Error('AuroraBackend: serverlessV2MinCapacity and serverlessV2MaxCapacity need serverlessV2: true (got serverlessV2 unset or false)');
  }
  for (const [prop, value, min] of [
    ['serverlessV2MinCapacity', props.serverlessV2MinCapacity, 0],
    ['serverlessV2MaxCapacity', props.serverlessV2MaxCapacity, 1],
  ] as const) {
    if (value !== undefined && (value < min || value > 256 || !Number.isInteger(value * 2))) {
      throw new Error(`AuroraBackend: ${prop} must be from ${min} to 256 ACU in steps of 0.5 (got ${value})`);
    }
  }
  if (props.serverlessV2 && props.instanceType) {
    throw new Error(`AuroraBackend: instanceType applies to provisioned instances only (got ${props.instanceType} with serverlessV2: true)`);
  }
  if (props.topologyMode === AuroraTopologyMode.READ_ONLY_CHECKS && readers === 0) {
    throw new Error('AuroraBackend: topologyMode READ_ONLY_CHECKS sends reads to the reader endpoint, which needs readers >= 1 (got readers: 0)');
  }
  const appUsername = props.appUsername ?? 'app';
  const masterUsername = props.masterUsername ?? 'clusteradmin';
  if (appUsername === masterUsername) {
    throw new Error(`AuroraBackend: appUsername must differ from masterUsername (got ${appUsername} for both)`);
  }

  // A database needs no route out: isolated subnets first.
  if (!props.vpcSubnets && props.vpc.isolatedSubnets.length === 0 && props.vpc.privateSubnets.length === 0) {
    throw new Error('AuroraBackend: vpcSubnets must select subnets for the cluster, and the VPC has no isolated or private subnets to default to '
      + `(got a VPC with ${props.vpc.publicSubnets.length} public subnets only)`);
  }
  return {
    readers,
    databaseName: props.databaseName ?? 'app',
    appUsername,
    masterUsername,
    vpcSubnets: props.vpcSubnets ?? {
      subnetType: props.vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
    },
    instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.R7G, ec2.InstanceSize.LARGE),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
  };
}

function auroraCluster(scope: Construct, props: AuroraBackendProps, settings: AuroraSettings): rds.DatabaseCluster {
  const instance = (name: string, promotionTier: boolean) => props.serverlessV2
    ? rds.ClusterInstance.serverlessV2(name, { scaleWithWriter: promotionTier })
    : rds.ClusterInstance.provisioned(name, { instanceType: settings.instanceType, promotionTier: promotionTier ? 1 : 2 });
  return new rds.DatabaseCluster(scope, 'Cluster', {
    engine: rds.DatabaseClusterEngine.auroraMysql({
      version: props.engineVersion ?? rds.AuroraMysqlEngineVersion.VER_3_10_3,
    }),
    vpc: props.vpc,
    vpcSubnets: settings.vpcSubnets,
    credentials: rds.Credentials.fromGeneratedSecret(settings.masterUsername, {
      excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
    }),
    writer: instance('Writer', true),
    readers: Array.from({ length: settings.readers }, (_, i) => instance(`Reader${i + 1}`, i === 0)),
    serverlessV2MinCapacity: props.serverlessV2 ? props.serverlessV2MinCapacity ?? 0.5 : undefined,
    serverlessV2MaxCapacity: props.serverlessV2 ? props.serverlessV2MaxCapacity ?? 4 : undefined,
    storageEncrypted: true,
    iamAuthentication: true,
    backup: { retention: props.backupRetention ?? Duration.days(7) },
    removalPolicy: settings.removalPolicy,
    deletionProtection: props.deletionProtection ?? true,
    cloudwatchLogsExports: ['error', 'slowquery'],
  });
}

/** Aurora MySQL's default `max_connections` for the instances' size. */
function defaultMaxConnections(props: AuroraBackendProps, instanceType: ec2.InstanceType): number | undefined {
  const maxCapacity = props.serverlessV2MaxCapacity ?? 4;
  return props.serverlessV2
    ? (Token.isUnresolved(maxCapacity) ? undefined : auroraServerlessV2MaxConnections(maxCapacity))
    : auroraMysqlMaxConnections(instanceType.toString());
}

function suppressAuroraNag(scope: Construct, appUserRotates: boolean): void {
  suppressNag(scope, 'Cluster', [
    {
      id: 'AwsSolutions-RDS11',
      reason: 'Clients reach the cluster through ProxySQL and security groups; a non-default port adds no protection and breaks tools that assume 3306',
    },
    {
      id: 'AwsSolutions-RDS14',
      reason: 'Backtrack is off: it is incompatible with binlog replication and cross-region clusters; point-in-time restore from the automated backups covers recovery',
    },
  ]);
  suppressNag(scope, 'Cluster/Secret', [{ id: 'AwsSolutions-SMG4', reason: 'The construct attaches no rotation schedule to the master secret. Only the bootstrap reads it, during deploys, so cluster.addRotationSingleUser() can rotate it without affecting the proxy' }]);
  if (!appUserRotates) {
    suppressNag(scope, 'AppUserSecret', [{ id: 'AwsSolutions-SMG4', reason: 'appUserRotation is not set. Set it to AppUserRotation.alternatingUsers() and the proxy\'s tasks follow each rotation live (liveCredentials, see docs/rotation.md)' }]);
  }
}
