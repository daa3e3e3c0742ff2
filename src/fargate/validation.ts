/**
 * The checks of `ProxySqlFargate`'s props that need no resource: Fargate's sizes, counts and
 * ports, the numbers computed at synth that cannot be tokens, the metrics settings, the subnets,
 * and the secrets the proxy must not be given. Every error names the prop, the rule and the value.
 */
import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ProxySqlBackendConfig } from '../backend';
import { ProxySqlConfiguration } from '../config/configuration';
import { describeSecret, sameSecret } from '../private/secrets';
import { defaultPrivateSubnets } from '../private/subnets';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';

/** Fargate's CPU → memory (MiB) offer: [min, max, step]. */
const FARGATE_MEMORY: Record<number, [number, number, number]> = {
  256: [512, 2048, 512],
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

export function fail(prop: string, rule: string, value: unknown): never {
  throw new Error(`ProxySqlFargate: ${prop} ${rule} (got ${typeof value === 'string' ? value : JSON.stringify(value)})`);
}

function known(value: number | undefined): value is number {
  return value !== undefined && !Token.isUnresolved(value);
}

/** The task's size, counts, port and timings: the props with their defaults, checked. */
export interface Sizing {
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  /** Unset stays unset: the template then carries no DesiredCount (see the prop's JSDoc). */
  readonly desiredCount?: number;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly listenerPort: number;
  readonly drainTime: Duration;
  readonly targetCpu: number;
}

export function sizing(props: ProxySqlFargateProps): Sizing {
  const desiredCount = props.desiredCount;
  const minCapacity = props.minCapacity ?? desiredCount ?? 2;
  // 0.5 vCPU / 1 GiB: the smallest size measured to serve the 5 000-client burst over two tasks at
  // the throughput of a 1 vCPU task on the bench's machine (docs/benchmark.md#task-sizes).
  const cpu = props.cpu ?? 512;
  const s: Sizing = {
    cpu,
    // Twice the vCPUs in GiB (Fargate's smallest memory from 0.5 vCPU up), at least 1 GiB: the
    // client connections per task follow from memory, and 512 MiB (1 024) did not carry the burst.
    memoryLimitMiB: props.memoryLimitMiB ?? (Token.isUnresolved(cpu) ? 1024 : Math.max(1024, 2 * cpu)),
    desiredCount,
    minCapacity,
    maxCapacity: props.maxCapacity ?? Math.max(6, 3 * minCapacity),
    listenerPort: props.listenerPort ?? 3306,
    drainTime: props.drainTime ?? Duration.seconds(20),
    targetCpu: props.targetCpuUtilizationPercent ?? 60,
  };
  validateSizing(s);
  refuseDerivingFromTokens(props, s.minCapacity, s.drainTime);
  return s;
}

function validateSizing(p: Sizing): void {
  if (known(p.cpu)) {
    const offer = FARGATE_MEMORY[p.cpu];
    if (!offer) fail('cpu', `must be one of Fargate's CPU sizes ${Object.keys(FARGATE_MEMORY).join(', ')}`, p.cpu);
    if (known(p.memoryLimitMiB)) {
      const [min, max, step] = offer;
      if (p.memoryLimitMiB < min || p.memoryLimitMiB > max || (p.memoryLimitMiB - min) % step !== 0) {
        fail('memoryLimitMiB', `must be ${min}–${max} MiB in steps of ${step} with cpu ${p.cpu} (Fargate's offer)`, p.memoryLimitMiB);
      }
    }
  }
  for (const [prop, value] of [['desiredCount', p.desiredCount], ['minCapacity', p.minCapacity]] as const) {
    if (known(value) && (!Number.isInteger(value) || value < 1)) {
      fail(prop, 'must be a whole number of at least 1', value);
    }
  }
  if (known(p.maxCapacity) && (!Number.isInteger(p.maxCapacity) || p.maxCapacity < 1)) {
    fail('maxCapacity', 'must be a whole number of at least 1', p.maxCapacity);
  }
  if (known(p.minCapacity) && known(p.maxCapacity) && p.minCapacity > p.maxCapacity) {
    fail('minCapacity', `must not exceed maxCapacity (${p.maxCapacity})`, p.minCapacity);
  }
  if (known(p.desiredCount) && known(p.minCapacity) && known(p.maxCapacity)
    && (p.desiredCount < p.minCapacity || p.desiredCount > p.maxCapacity)) {
    fail('desiredCount', `must lie between minCapacity (${p.minCapacity}) and maxCapacity (${p.maxCapacity})`, p.desiredCount);
  }
  if (known(p.listenerPort) && (!Number.isInteger(p.listenerPort) || p.listenerPort < 1 || p.listenerPort > 65535)) {
    fail('listenerPort', 'must be a whole number from 1 to 65535', p.listenerPort);
  }
  if (!p.drainTime.isUnresolved() && (p.drainTime.toSeconds() < 0 || p.drainTime.toSeconds() > 110)) {
    fail('drainTime', 'must be from 0 to 110 seconds (Fargate stops a container at most 120 s after SIGTERM)', `${p.drainTime.toSeconds()} s`);
  }
  if (known(p.targetCpu) && (p.targetCpu < 10 || p.targetCpu > 90)) {
    fail('targetCpuUtilizationPercent', 'must be from 10 to 90', p.targetCpu);
  }
}

/**
 * Numbers the construct computes with at synth time cannot wait for CloudFormation: a token there
 * would turn into a wrong value without a word (Math.max(6, token) is 6), so it is refused by name.
 * The configuration refuses `cpu` and `memoryLimitMiB` tokens the same way.
 */
function refuseDerivingFromTokens(props: ProxySqlFargateProps, minCapacity: number, drainTime: Duration): void {
  const token = (prop: string, rule: string) => {
    throw new Error(`ProxySqlFargate: ${prop} ${rule} (got a token)`);
  };
  if (props.maxCapacity === undefined && Token.isUnresolved(minCapacity)) {
    token(props.minCapacity !== undefined ? 'minCapacity' : 'desiredCount',
      'may be a token only when maxCapacity is given: the default maxCapacity (3 × minCapacity, at least 6) is computed from it at synth time');
  }
  if (drainTime.isUnresolved()) {
    token('drainTime', 'must be a concrete duration, not a token: the container\'s stop timeout (drainTime + 10 s, at most 120 s) and the 110 s limit are computed at synth time');
  }
}

/**
 * A duration prop as whole seconds from `min` to `max`; a token is refused by name, with `why` the
 * value is needed at synth time.
 */
function wholeSeconds(prop: string, interval: Duration, min: number, max: number, why: string): number {
  if (interval.isUnresolved()) {
    throw new Error(`ProxySqlFargate: ${prop} must be a concrete duration, not a token: ${why} (got a token)`);
  }
  const seconds = interval.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    fail(prop, `must be whole seconds from ${min} to ${max}`, `${seconds} s`);
  }
  return seconds;
}

/** Seconds between metric samples: whole seconds, 10–300, not a token. */
export function metricsInterval(props: ProxySqlFargateProps): number {
  return wholeSeconds('metricsInterval', props.metricsInterval ?? Duration.minutes(1), 10, 300,
    'the metric helpers\' periods are computed from it at synth time');
}

/** The credentials sidecar's poll interval when `credentialsRefreshInterval` is not set. */
export const DEFAULT_CREDENTIALS_REFRESH_SECONDS = 20;

/** Seconds between the credentials sidecar's polls: whole seconds, 5–3600, not a token; undefined when live credentials are off. */
export function credentialsInterval(props: ProxySqlFargateProps): number | undefined {
  if (props.liveCredentials === false) {
    if (props.credentialsRefreshInterval !== undefined) {
      fail('credentialsRefreshInterval', 'has no effect with liveCredentials: false (remove one of them)', props.credentialsRefreshInterval.toString());
    }
    return undefined;
  }
  return wholeSeconds('credentialsRefreshInterval', props.credentialsRefreshInterval ?? Duration.seconds(DEFAULT_CREDENTIALS_REFRESH_SECONDS), 5, 3600,
    'it is written into the sidecar\'s environment as whole seconds at synth time');
}

/** The `ProxyName` dimension's value: the prop, or the construct's path. */
export function metricsProxyName(props: ProxySqlFargateProps, path: string): string {
  const name = props.metricsProxyName ?? path;
  if (Token.isUnresolved(name)) return name;
  if (name.length < 1 || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name) || name.trim() === '') {
    fail('metricsProxyName', 'must be 1–255 characters, not only spaces, without control characters (a CloudWatch dimension value)', name);
  }
  return name;
}

/** Where the tasks (and the bootstrap function) and the load balancer go. */
export interface ProxySubnets {
  readonly tasks: ec2.SubnetSelection;
  readonly selectedTasks: ec2.SelectedSubnets;
  readonly loadBalancer: ec2.SubnetSelection;
}

export function proxySubnets(props: ProxySqlFargateProps): ProxySubnets {
  const tasks = props.vpcSubnets
    ?? defaultPrivateSubnets(props.vpc, 'ProxySqlFargate', 'vpcSubnets', 'its tasks and the database bootstrap function');
  const loadBalancer = props.loadBalancerSubnets
    ?? defaultPrivateSubnets(props.vpc, 'ProxySqlFargate', 'loadBalancerSubnets', 'its internal load balancer');
  const selectedTasks = props.vpc.selectSubnets(tasks);
  if (selectedTasks.hasPublic) {
    fail('vpcSubnets', 'must select private subnets (with egress, or isolated with VPC endpoints): the tasks get no public IP address, '
      + 'and the database bootstrap function (a Lambda function) cannot run in public subnets', 'a selection with public subnets');
  }
  return { tasks, selectedTasks, loadBalancer };
}

/** The bootstrap signs in with the backend's admin secret, so it needs one. */
export function requireBootstrapAdmin(backend: ProxySqlBackendConfig, bootstrapOn: boolean): void {
  if (bootstrapOn && !backend.adminSecret) {
    fail('backend', 'must carry an adminSecret while bootstrap is on (pass adminSecret to the backend factory, or set bootstrap: false and create the monitor and application users yourself)', 'a backend without adminSecret');
  }
}

/**
 * The backend's admin (master) secret may not serve as an application or monitor user, bootstrap
 * or not: the container would hold the master credentials (which it never sees otherwise), and the
 * bootstrap would manage the password and privileges of the user it signs in as.
 */
export function refuseDatabaseAdmin(backend: ProxySqlBackendConfig, monitorSecret: secretsmanager.ISecret, config: ProxySqlConfiguration): void {
  const admin = backend.adminSecret;
  if (!admin) return;
  const why = 'the database admin credentials never reach the ProxySQL container, and the bootstrap must not manage the password and privileges of the user it signs in as';
  if (sameSecret(monitorSecret, admin)) {
    fail('monitorSecret', `must not be the backend's adminSecret (${why}); leave it unset to get a generated monitor user`, describeSecret(monitorSecret));
  }
  config.userEntries.forEach((u) => {
    if (!sameSecret(u.secret, admin)) return;
    const prop = u.path.startsWith('defaultUsers') ? `the backend's appUserSecrets${u.path.slice('defaultUsers'.length)}` : u.path;
    fail(prop, `must not be the backend's adminSecret (${why}); serve an application user with its own secret, e.g. ProxySqlUser.fromSecret(db.appUserSecret)`,
      describeSecret(u.secret));
  });
}

/** Without the bootstrap nobody grants what a user's `privileges` ask for. */
export function refuseGrantsWithoutBootstrap(config: ProxySqlConfiguration, bootstrapOn: boolean): void {
  if (bootstrapOn) return;
  for (const u of config.userEntries) {
    if (u.options.privileges !== undefined) {
      fail(`${u.path}.privileges`, 'is granted by the bootstrap, which is off (bootstrap: false): grant the privileges yourself and leave this unset',
        u.options.privileges.map((p) => p.name).join(', '));
    }
  }
}
