import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';

/** Options of `ProxySqlFargate.addDashboard()`. */
export interface ProxySqlDashboardOptions {
  /**
   * Where to create the dashboard, e.g. a monitoring stack of the same app (which then refers to the
   * proxy's stack, never the other way round). Outside the proxy their ids start with the proxy's
   * id, so that several proxies can share one scope.
   *
   * @default - the proxy itself
   */
  readonly scope?: Construct;
  /**
   * Name of the dashboard.
   *
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
  /**
   * Time range the dashboard opens with, as CloudWatch writes it (e.g. `-PT3H`).
   *
   * @default '-PT3H' (the last three hours)
   */
  readonly start?: string;
}

/** Options of `ProxySqlFargate.addRecommendedAlarms()`. */
export interface ProxySqlAlarmOptions {
  /**
   * Where to create the alarms, e.g. a monitoring stack of the same app (which then refers to the
   * proxy's stack, never the other way round). Outside the proxy their ids start with the proxy's
   * id, so that several proxies can share one scope.
   *
   * @default - the proxy itself
   */
  readonly scope?: Construct;
  /**
   * Actions of every alarm when it goes into ALARM, e.g.
   * `new cloudwatch_actions.SnsAction(topic)`.
   *
   * @default - no action: the alarms only change state
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /**
   * Also run `alarmActions` when an alarm returns to OK.
   *
   * @default false
   */
  readonly notifyOnOk?: boolean;
  /**
   * Share of a task's `mysql-max_connections` (client connections) at which the "client
   * connections near the limit" alarm fires, in percent (1–100).
   *
   * @default 80
   */
  readonly clientConnectionsPercent?: number;
  /**
   * Share of a hostgroup's backend connection budget (per task) at which the "backend pool
   * saturated" alarm fires, in percent (1–100).
   *
   * @default 90
   */
  readonly backendPoolPercent?: number;
}
