import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DemoFunction } from './demo-function';
import { IProxySqlEndpointProvider } from '../endpoint';
import { suppressNag, suppressVpcLambdaRoleNag } from '../private/nag';
import { defaultPrivateSubnets } from '../private/subnets';

/** Properties of `LambdaDemoApi`. */
export interface LambdaDemoApiProps {
  /** The VPC the function runs in; it must reach the proxy's endpoint and Secrets Manager. */
  readonly vpc: ec2.IVpc;

  /**
   * Where in the VPC the function runs.
   *
   * @default - the VPC's private subnets with egress, or its isolated subnets when it has none (Secrets Manager is then reached through a VPC endpoint)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /** The ProxySQL service the function connects to; the function is allowed in on its default port. */
  readonly proxy: IProxySqlEndpointProvider;

  /**
   * The application user's credentials, a secret in the RDS JSON shape (`username`, `password`,
   * optionally `dbname`). The function gets read access and fetches it at cold start; only its ARN
   * is in the function's environment.
   */
  readonly userSecret: secretsmanager.ISecret;

  /**
   * Database (schema) holding the demo table; created by the function when missing, so the user
   * needs CREATE on it unless it already exists (plus INSERT and SELECT).
   *
   * @default 'demo'
   */
  readonly databaseName?: string;

  /**
   * How long the function's logs and the API's access logs are kept.
   *
   * @default logs.RetentionDays.ONE_WEEK
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log groups when the stack is deleted. A demo's logs are not worth a stack
   * that cannot be torn down cleanly, hence the default.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * Steady-state requests per second the API accepts. The route is public and each request writes a
   * row, so the rate is kept low.
   *
   * @default 10
   */
  readonly throttlingRateLimit?: number;

  /**
   * Burst of requests the API accepts above the steady rate.
   *
   * @default 20
   */
  readonly throttlingBurstLimit?: number;
}

const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;

// Token.asString passes a plain number through unchanged; a number token needs it to stay a token.
function portAsString(port: number): string {
  return Token.isUnresolved(port) ? Token.asString(port) : String(port);
}

/**
 * A public HTTP API (`GET /`) backed by a Node.js Lambda function in the VPC that writes and reads
 * through ProxySQL and answers with the identity of the server that ran each: the write (inside a
 * transaction, so on the writer) and a plain read (sent to a reader by the read/write split).
 *
 * It is meant for trying the reference topology and for integration tests, not for production traffic.
 */
export class LambdaDemoApi extends Construct {
  /** The HTTP API. */
  public readonly api: apigwv2.HttpApi;

  /** The `$default` stage, with access logging and throttling. */
  public readonly stage: apigwv2.HttpStage;

  /** The URL of the API (`GET` it). */
  public readonly url: string;

  /** The function that serves `GET /`. */
  public readonly function: lambda.IFunction;

  /** The function's log group. */
  public readonly functionLogGroup: logs.ILogGroup;

  /** The API's access log group. */
  public readonly accessLogGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: LambdaDemoApiProps) {
    super(scope, id);
    const databaseName = props.databaseName ?? 'demo';
    validate(props, databaseName);

    const retention = props.logRetention ?? logs.RetentionDays.ONE_WEEK;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.DESTROY;

    this.functionLogGroup = new logs.LogGroup(this, 'FunctionLogs', { retention, removalPolicy });
    this.function = demoFunction(this, props, databaseName, this.functionLogGroup);
    this.api = demoApi(this, this.function);

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention, removalPolicy });
    this.stage = demoStage(this, props, this.api, this.accessLogGroup);

    suppressVpcLambdaRoleNag(this, 'Function/ServiceRole');
    suppressNag(this, 'Api/GET--', [{
      id: 'AwsSolutions-APIG4',
      reason: 'A demo endpoint that must answer an unsigned HTTP call (the integ assertion); it returns no data beyond server identity and is throttled',
    }]);
    this.url = this.stage.url;
  }
}

function validate(props: LambdaDemoApiProps, databaseName: string): void {
  if (!Token.isUnresolved(databaseName) && !DATABASE_NAME.test(databaseName)) {
    throw new Error(`LambdaDemoApi: databaseName must be 1-64 characters of letters, digits, '_' or '$' (got ${JSON.stringify(databaseName)})`);
  }
  for (const [name, value] of [['throttlingRateLimit', props.throttlingRateLimit], ['throttlingBurstLimit', props.throttlingBurstLimit]] as const) {
    if (value !== undefined && !Token.isUnresolved(value) && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`LambdaDemoApi: ${name} must be a number >= 0 (got ${value})`);
    }
  }
}

/** The function in the VPC, allowed to read the user's secret and into the proxy. */
function demoFunction(scope: Construct, props: LambdaDemoApiProps, databaseName: string, logGroup: logs.ILogGroup): DemoFunction {
  const fn = new DemoFunction(scope, 'Function', {
    description: 'cdk-proxysql demo: writes and reads through ProxySQL and reports which server served each',
    vpc: props.vpc,
    vpcSubnets: props.vpcSubnets ?? defaultPrivateSubnets(props.vpc, 'LambdaDemoApi', 'vpcSubnets', 'its function'),
    // The bundle is plain JavaScript (mysql2 has no native parts), so Graviton costs less for the same work.
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    // Below API Gateway's 30 s integration limit, above the handler's 5 s connect timeout.
    timeout: Duration.seconds(20),
    logGroup,
    environment: {
      DB_SECRET_ARN: props.userSecret.secretArn,
      DB_HOST: props.proxy.endpoint.hostname,
      DB_PORT: portAsString(props.proxy.endpoint.port),
      DB_NAME: databaseName,
    },
  });

  props.userSecret.grantRead(fn);
  // Opened from the function's side: when the demo lives in a stack of its own, aws-cdk-lib then
  // puts the rules in the demo's stack (remoteRule), which depends on the proxy's anyway (the
  // endpoint); opened from the proxy's side they would land in the proxy's stack: a cycle. Without
  // a default port on the proxy's connections, the endpoint's port is the one to open.
  fn.connections.allowTo(props.proxy,
    props.proxy.connections.defaultPort ?? ec2.Port.tcp(props.proxy.endpoint.port), 'cdk-proxysql demo function');
  return fn;
}

/** The HTTP API with its one route, `GET /`, to the function. */
function demoApi(scope: Construct, fn: lambda.IFunction): apigwv2.HttpApi {
  const api = new apigwv2.HttpApi(scope, 'Api', {
    description: 'cdk-proxysql demo: GET / writes and reads through ProxySQL',
    // The default stage cannot take access log settings; the stage below replaces it.
    createDefaultStage: false,
  });
  api.addRoutes({
    path: '/',
    methods: [apigwv2.HttpMethod.GET],
    integration: new HttpLambdaIntegration('Demo', fn),
  });
  return api;
}

/** The `$default` stage, throttled, with access logs. */
function demoStage(scope: Construct, props: LambdaDemoApiProps, httpApi: apigwv2.HttpApi, accessLogGroup: logs.ILogGroup): apigwv2.HttpStage {
  return new apigwv2.HttpStage(scope, 'Stage', {
    httpApi,
    stageName: '$default',
    autoDeploy: true,
    throttle: {
      rateLimit: props.throttlingRateLimit ?? 10,
      burstLimit: props.throttlingBurstLimit ?? 20,
    },
    accessLogSettings: {
      destination: new apigwv2.LogGroupLogDestination(accessLogGroup),
      // Only variables HTTP APIs define; unknown ones fail the deployment.
      format: AccessLogFormat.custom(JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        requestTime: '$context.requestTime',
        httpMethod: '$context.httpMethod',
        routeKey: '$context.routeKey',
        status: '$context.status',
        protocol: '$context.protocol',
        responseLength: '$context.responseLength',
        responseLatency: '$context.responseLatency',
        integrationStatus: '$context.integration.status',
        integrationLatency: '$context.integration.latency',
        integrationError: '$context.integrationErrorMessage',
      })),
    },
  });
}
