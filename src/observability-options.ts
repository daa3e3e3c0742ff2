import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Options of `ProxySqlFargate.addDashboard()`. */
export interface ProxySqlDashboardOptions {
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
