import * as rds from 'aws-cdk-lib/aws-rds';
import { auroraClusterBackend } from './backends/aurora-cluster';
import { endpointsBackend } from './backends/endpoints';
import { rdsInstancesBackend } from './backends/rds-instances';
import {
  AuroraClusterBackendOptions, EndpointsBackendOptions, IProxySqlBackend, RdsInstancesBackendOptions,
} from './backends/types';

// The backend contract and the factories' options live in backends/types.ts, each kind of backend
// (its checks and its bind) in backends/<kind>.ts; this file is the public face of them.
export * from './backends/types';
export { auroraDomainFromClusterEndpoint } from './backends/aurora-cluster';
export { ProxySqlEngine } from './backends/engine';

/**
 * Factories for the databases ProxySQL can front.
 */
export abstract class ProxySqlBackend {
  /**
   * An Aurora MySQL cluster, made in this app or imported with
   * `rds.DatabaseCluster.fromDatabaseClusterAttributes`.
   */
  public static fromAuroraCluster(cluster: rds.IDatabaseCluster, options: AuroraClusterBackendOptions = {}): IProxySqlBackend {
    return auroraClusterBackend(cluster, options);
  }

  /** RDS for MySQL: a writer instance and its read replicas, told apart by `read_only` checks. */
  public static fromRdsInstances(writer: rds.IDatabaseInstance, options: RdsInstancesBackendOptions = {}): IProxySqlBackend {
    return rdsInstancesBackend(writer, options);
  }

  /** Any MySQL reachable by host and port (self-managed, another account, on premises). */
  public static fromEndpoints(options: EndpointsBackendOptions): IProxySqlBackend {
    return endpointsBackend(options);
  }
}
