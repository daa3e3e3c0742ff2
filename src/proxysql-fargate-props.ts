import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IProxySqlBackend } from './backend';
import { ProxySqlConfigOptions } from './config/options';

/**
 * The official ProxySQL image we pin: 2.7.4, the security release of the 2.7 line (2026-10-20). It
 * fixes a pre-authentication heap overflow in the first MySQL packet, PROXY protocol spoofing, and
 * bounds checks in the handshake and COM_CHANGE_USER; its notes tell every 2.7 user to upgrade.
 * The 2.7 line is the one whose config-file loading we measured (see docs/container-image.md); the image is
 * multi-arch (amd64 + arm64).
 */
export const DEFAULT_PROXYSQL_IMAGE = 'proxysql/proxysql:2.7.4';
/** The credentials sidecar's image: the official AWS CLI v2 image (multi-arch) from Amazon ECR Public. */
export const DEFAULT_CREDENTIALS_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.15.62';

/**
 * Properties of a `ProxySqlFargate`.
 */
export interface ProxySqlFargateProps extends ProxySqlConfigOptions {
  /** The VPC the proxy runs in. */
  readonly vpc: ec2.IVpc;
  /** The database behind the proxy. */
  readonly backend: IProxySqlBackend;
  /**
   * The ECS cluster to run in.
   *
   * @default - a new cluster with Container Insights
   */
  readonly cluster?: ecs.ICluster;
  /**
   * Subnets for the ProxySQL tasks and the database bootstrap function: private ones (the tasks get
   * no public IP address, and a Lambda function cannot use public subnets). They need a route to
   * the image registry, Secrets Manager and CloudWatch Logs: NAT, or VPC endpoints in isolated
   * subnets (with an image in ECR: Docker Hub cannot be reached through an endpoint). Synth warns
   * when they span fewer than two Availability Zones.
   *
   * @default - the VPC's private subnets with egress, or its isolated subnets when it has none
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Subnets for the internal Network Load Balancer.
   *
   * @default - the VPC's private subnets with egress, or its isolated subnets when it has none
   */
  readonly loadBalancerSubnets?: ec2.SubnetSelection;
  /**
   * Task CPU units. ProxySQL runs one worker thread per vCPU (at least one). May be a token (e.g. a
   * `CfnParameter`) only together with `workerThreads`, which are otherwise computed from it.
   *
   * The default was measured (docs/benchmark.md#task-sizes): two 0.5 vCPU tasks served a burst of
   * 5 000 new clients in full, and one carried as many point reads per second as a 1 vCPU task on
   * the bench's machine; 0.25 vCPU carried about half as many. Raise it (or `maxCapacity`) for a
   * fleet that needs more statements per second than the two default tasks carry.
   *
   * @default 512 (0.5 vCPU)
   */
  readonly cpu?: number;
  /**
   * Task memory (MiB); must be a combination Fargate offers with `cpu`. May be a token only
   * together with `maxClientConnections`, which is otherwise computed from it (1 GiB → 3 072
   * client connections per task, 2 GiB → 7 168).
   *
   * @default - twice `cpu` in MiB, at least 1024 (1 GiB with the default `cpu`; 2048 with `cpu: 1024`)
   */
  readonly memoryLimitMiB?: number;
  /**
   * CPU architecture of the tasks.
   *
   * @default ecs.CpuArchitecture.ARM64 (Graviton: cheaper for the same work; the image is multi-arch)
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /**
   * Number of tasks to set on every deploy. Leave it unset so that deploys keep the count
   * autoscaling chose: with it set, every deploy that touches the service (a new image, a config
   * change) sends this count and shrinks a service autoscaling had grown. As a token it needs `maxCapacity` (or a concrete
   * `minCapacity`), which is otherwise computed from it.
   *
   * Unset, the template carries no `DesiredCount`. The trade-off is the first deploy: CloudFormation
   * creates the service with one task, and only once that service is stable does registering the
   * scalable target raise it to `minCapacity`; until the second task is healthy, one task (one
   * Availability Zone) serves. Later deploys leave the count alone, and `minCapacity` holds the
   * floor.
   *
   * @default - not set: the first deploy starts with 1 task and autoscaling raises it to `minCapacity`
   */
  readonly desiredCount?: number;
  /**
   * Fewest tasks autoscaling keeps (and, with `desiredCount` unset, the count the first deploy
   * reaches). Keep it at 2 or more so that a task or an Availability Zone can fail. As a token it needs `maxCapacity`, which is otherwise computed from it.
   *
   * @default - desiredCount when set, else 2
   */
  readonly minCapacity?: number;
  /**
   * Most tasks autoscaling runs. The static share of the connection budget (what a task uses until
   * it has counted the running tasks, or when it cannot) divides the database's connections among
   * this many tasks (doubled during a deployment), so it must be a literal number, not a token.
   *
   * @default - 3 × minCapacity, at least 6
   */
  readonly maxCapacity?: number;
  /**
   * Share of the database's own `max_connections` (per server) that all ProxySQL tasks together may
   * use (RDS Proxy's name). Each task counts the tasks that run and takes its share of it, after
   * connections kept for each task's monitor and fleet counter, the bootstrap and operators; until
   * it has counted, or when it cannot, it takes the share for the most tasks that can run
   * (`maxCapacity`, doubled while a deployment runs old and new tasks side by side): see
   * `backendConnectionsPerServer` and docs/protecting-the-database.md. 1–100; not a token.
   *
   * @default 90
   */
  readonly maxConnectionsPercent?: number;
  /**
   * Average CPU utilisation autoscaling aims for (percent).
   *
   * @default 60
   */
  readonly targetCpuUtilizationPercent?: number;
  /**
   * The ProxySQL container image. It must be built from the official image (it needs `sh`, `proxysql`
   * and the `mysql` client).
   *
   * @default - `proxysql/proxysql:2.7.4` (the 2.7 security release) from Docker Hub
   */
  readonly image?: ecs.ContainerImage;
  /**
   * The port clients connect to on the load balancer.
   *
   * @default 3306
   */
  readonly listenerPort?: number;
  /**
   * Security groups allowed to reach the ProxySQL admin interface (and the REST API / Prometheus
   * endpoint when enabled). Operators normally use ECS Exec instead.
   *
   * @default - nobody: the admin interface listens on 127.0.0.1 only
   */
  readonly adminAccess?: ec2.ISecurityGroup[];
  /**
   * ProxySQL admin credentials (RDS JSON shape). Its username and password must not contain `:`,
   * `;` or `"` (the task refuses to start, naming the field), and the username must not be `admin` if `adminAccess` is set (ProxySQL lets `admin` in
   * from localhost only).
   *
   * @default - a generated secret, see `adminSecret`
   */
  readonly adminSecret?: secretsmanager.ISecret;
  /**
   * Credentials of the monitor user ProxySQL uses for health and topology checks (RDS JSON shape).
   * The bootstrap creates this user in the database.
   *
   * @default - a generated secret, see `monitorSecret`
   */
  readonly monitorSecret?: secretsmanager.ISecret;
  /**
   * Rotate the generated monitor secret on a schedule, with Secrets Manager's alternating-users
   * function for MySQL: each rotation gives the other of two users (`proxysql_monitor`,
   * `proxysql_monitor_clone`) a new password, signing in with the backend's admin secret, and the
   * running tasks switch their monitor to it live (`liveCredentials`), while the previous user keeps
   * working until the next rotation: the monitor never stops. Needs the bootstrap (which creates the
   * first user) and live credentials, and the backend's admin secret must carry the writer's `host`
   * (RDS and Aurora generated secrets do). The monitor secret then also holds the writer's `host`,
   * `port` and `engine` and the admin secret's ARN (`masterarn`), as the rotation function needs.
   * Turning it on for a running proxy replaces the monitor secret with one that starts at
   * `proxysql_monitor_clone`, so the tasks still running keep their monitor user until they are
   * replaced. See "Rotating credentials" in the README.
   *
   * @default - no rotation schedule: the monitor secret keeps its value
   */
  readonly monitorRotation?: MonitorRotationOptions;
  /**
   * Create the monitor and application users in the database after deploy (a custom resource in
   * the VPC that signs in with the backend's admin secret). Turn off only if you create them
   * yourself before the proxy starts.
   *
   * @default true
   */
  readonly bootstrap?: boolean;
  /**
   * Drop the monitor and application users when the proxy is deleted.
   *
   * @default false
   */
  readonly dropUsersOnDelete?: boolean;
  /**
   * How long a stopping task may keep serving the clients it already has. ECS stops a task in this
   * order:
   * 1. it deregisters the task from the target group: new connections go to other tasks;
   * 2. it waits the target group's deregistration delay, set to `drainTime`: open connections keep
   *    working (connection termination is off, so the load balancer does not reset them at its end);
   * 3. it sends SIGTERM: the task stops accepting connections (`PROXYSQL PAUSE`) and closes each
   *    client connection between two of its statements, outside a transaction (within about a
   *    second; a pool discards the closed connection and opens a new one on a live task), waits at
   *    most `drainTime` again for a statement or transaction still running, then exits (normally
   *    within 2 s);
   * 4. it kills the container if it is still there after the stop timeout, set to `drainTime` + 10 s.
   * At most 110 s (Fargate's stop timeout is at most 120 s). Set it to the longest transaction you
   * want to survive a scale-in or a deploy. Not a token: the stop timeout is computed from it.
   *
   * @default Duration.seconds(20)
   */
  readonly drainTime?: Duration;
  /**
   * Follow rotated user and monitor secrets live. A non-essential `credentials` sidecar (the
   * official AWS CLI image from Amazon ECR Public) asks Secrets Manager for each secret's version
   * stages every `credentialsRefreshInterval`, reads the values when they changed, and hands them
   * to the ProxySQL container over a task volume; ProxySQL applies them through its admin interface
   * (`LOAD MYSQL USERS TO RUNTIME`), with no restart and without closing a client session. With
   * alternating-users rotation ProxySQL knows both users, so clients that cached the last value keep
   * working. The task role may read exactly these secrets (and decrypt with their KMS key). The
   * admin secret is not followed: only the tasks use it, so rotate it by redeploying.
   * See "Rotating credentials" in the README for the strategies, the time it takes and the cost.
   *
   * With `false` each task keeps the values it read at start until it is replaced.
   *
   * @default true
   */
  readonly liveCredentials?: boolean;
  /**
   * How often each task's credentials sidecar asks Secrets Manager whether a user or monitor secret
   * changed (one DescribeSecret call per secret; the values are read only when they changed). A
   * rotated password is accepted by every task at most this long plus about 2 s after its new
   * version exists. From 5 seconds to 1 hour; not a token (it is written into the sidecar's
   * environment as whole seconds).
   *
   * @default Duration.seconds(20)
   */
  readonly credentialsRefreshInterval?: Duration;
  /**
   * The credentials sidecar's image. It needs `sh`, `grep`, `tr`, `sort` and the AWS CLI (`aws`) on
   * its PATH; the sidecar runs its program with the entry point `sh -c`.
   *
   * @default - `public.ecr.aws/aws-cli/aws-cli:2.15.62` (the official AWS CLI image)
   */
  readonly credentialsImage?: ecs.ContainerImage;
  /**
   * How long ProxySQL's logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to ProxySQL's log group (and the query log's) when the proxy leaves the stack.
   *
   * @default RemovalPolicy.RETAIN (logs outlive the service for investigations)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Let operators open a shell in the tasks with ECS Exec.
   *
   * @default true
   */
  readonly enableExecuteCommand?: boolean;
  /**
   * Publish ProxySQL's own statistics (servers per hostgroup, backend pool, queries routed, writer
   * available, monitor failures, client connections) as CloudWatch metrics. A small non-essential
   * container of the same image reads them through the admin interface and prints Embedded Metric
   * Format lines into the task's log stream; CloudWatch Logs turns them into metrics in the
   * `ProxySQL` namespace, so nothing else runs and no IAM permission is added. Read them with
   * `metricServersOnline()` and the other helpers, `addDashboard()` and `addRecommendedAlarms()`.
   * See docs/observability.md for the metrics and their cost.
   *
   * @default true
   */
  readonly metrics?: boolean;
  /**
   * How often the metrics sidecar samples ProxySQL: whole seconds from 10 to 300, not a token (the
   * helpers' periods are computed from it). Counters are published as the increase over this
   * interval.
   *
   * @default Duration.minutes(1)
   */
  readonly metricsInterval?: Duration;
  /**
   * Value of the `ProxyName` dimension of every metric: tells proxies apart in one account and
   * Region. 1–255 characters without control characters. It may be a token, but not one of this
   * proxy's own resources (the task definition would then depend on its own service).
   *
   * @default - the construct's path, e.g. `MyStack/Proxy`
   */
  readonly metricsProxyName?: string;
  /**
   * Log every statement the proxy receives to CloudWatch Logs (`queryLogGroup`), as ProxySQL's
   * JSON events log: client, user, schema, hostgroup and server, duration, rows, and the
   * statement's full text. Statements carry their literals: values, and secrets an application
   * may send (e.g. `SET PASSWORD`, `CREATE USER ... IDENTIFIED BY`), land in the log. Every
   * statement is a log event of some 400 bytes plus its text, billed as log ingestion: turn it on
   * to investigate, not as a standing audit log of a busy proxy.
   *
   * @default false
   */
  readonly queryLog?: boolean;
  /**
   * How long the query log is kept.
   *
   * @default logs.RetentionDays.ONE_WEEK
   */
  readonly queryLogRetention?: logs.RetentionDays;
}

/** How `ProxySqlFargate` rotates its generated monitor secret (`monitorRotation`). */
export interface MonitorRotationOptions {
  /**
   * Time between two rotations: from 4 hours to 1000 days.
   *
   * @default Duration.days(30)
   */
  readonly automaticallyAfter?: Duration;
  /**
   * Where Secrets Manager's rotation function runs. It calls the Secrets Manager API and signs in
   * to the writer, so its subnets need a route to both (NAT, or a Secrets Manager interface endpoint).
   *
   * @default - the tasks' subnets (`vpcSubnets` of the proxy)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
}
