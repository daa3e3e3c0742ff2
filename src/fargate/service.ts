/**
 * The cluster, the Fargate service (deployments, circuit breaker, ECS Exec) and its CPU
 * autoscaling, with the warnings about where the tasks run.
 */
import { Annotations, CustomResource, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { onlyIsolated } from '../private/subnets';
import { DEFAULT_CREDENTIALS_IMAGE, DEFAULT_PROXYSQL_IMAGE, ProxySqlFargateProps } from '../proxysql-fargate-props';
import { MAX_HEALTHY_PERCENT } from './budget';
import { ProxySubnets, Sizing } from './validation';

export function proxyCluster(scope: Construct, props: ProxySqlFargateProps): ecs.ICluster {
  return props.cluster ?? new ecs.Cluster(scope, 'Cluster', {
    vpc: props.vpc,
    containerInsightsV2: ecs.ContainerInsights.ENABLED,
  });
}

export interface ProxyServiceInput {
  readonly cluster: ecs.ICluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly subnets: ProxySubnets;
  readonly sizing: Sizing;
  /** The database bootstrap the service waits for, if any. */
  readonly bootstrapResource?: CustomResource;
}

export function proxyService(scope: Construct, props: ProxySqlFargateProps, input: ProxyServiceInput): ecs.FargateService {
  const { sizing, subnets } = input;
  warnAboutTaskSubnets(scope, props, subnets.selectedTasks);
  const service = new ecs.FargateService(scope, 'Service', {
    cluster: input.cluster,
    taskDefinition: input.taskDefinition,
    desiredCount: sizing.desiredCount,
    vpcSubnets: subnets.tasks,
    securityGroups: [input.securityGroup],
    assignPublicIp: false,
    circuitBreaker: { enable: true, rollback: true },
    minHealthyPercent: 100,
    maxHealthyPercent: MAX_HEALTHY_PERCENT,
    enableExecuteCommand: props.enableExecuteCommand ?? true,
    availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
    healthCheckGracePeriod: Duration.seconds(60),
  });
  if (input.bootstrapResource) {
    // ProxySQL must not take traffic before its monitor user exists: when the monitor cannot log
    // in, ProxySQL takes every server for read-only and writes fail.
    service.node.addDependency(input.bootstrapResource);
  }

  const scaling = service.autoScaleTaskCount({ minCapacity: sizing.minCapacity, maxCapacity: sizing.maxCapacity });
  scaling.scaleOnCpuUtilization('CpuScaling', {
    targetUtilizationPercent: sizing.targetCpu,
    scaleInCooldown: Duration.minutes(5),
    scaleOutCooldown: Duration.minutes(1),
  });
  return service;
}

function warnAboutTaskSubnets(scope: Construct, props: ProxySqlFargateProps, selected: ec2.SelectedSubnets): void {
  if (!props.image && onlyIsolated(props.vpc, selected)) {
    Annotations.of(scope).addWarningV2('cdk-proxysql:imageUnreachable',
      `The tasks run in isolated subnets (no route out), where they cannot pull the default image ${DEFAULT_PROXYSQL_IMAGE} from Docker Hub: `
      + 'set image to a copy in ECR (ecs.ContainerImage.fromEcrRepository), and give the VPC interface endpoints for ECR, Secrets Manager and CloudWatch Logs');
  }
  if ((props.liveCredentials ?? true) && !props.credentialsImage && onlyIsolated(props.vpc, selected)) {
    // ECS stops a task whose image cannot be pulled, essential container or not.
    Annotations.of(scope).addWarningV2('cdk-proxysql:credentialsImageUnreachable',
      `The tasks run in isolated subnets (no route out), where they cannot pull the credentials sidecar's default image ${DEFAULT_CREDENTIALS_IMAGE} from Amazon ECR Public: `
      + 'set credentialsImage to a copy in ECR (ecs.ContainerImage.fromEcrRepository), or liveCredentials: false');
  }
  const zones = new Set(selected.availabilityZones);
  if (!selected.isPendingLookup && zones.size < 2) {
    Annotations.of(scope).addWarningV2('cdk-proxysql:singleAvailabilityZone',
      `The tasks' subnets (vpcSubnets) span ${zones.size} Availability Zone: an outage of that zone stops the proxy; select subnets in at least two zones`);
  }
}
