/**
 * How many backend connections one task may open to one database server, so that every task
 * together, during a deployment too, stays within `maxConnectionsPercent` of what the database
 * accepts (the arithmetic is `config/connection-budget.ts`; here are the props and the backend).
 */
import { Annotations, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ProxySqlBackendConfig } from '../backend';
import { ConnectionBudget, connectionBudget } from '../config/connection-budget';
import { ProxySqlConfigOptions } from '../config/options';
import { ProxySqlFargateProps } from '../proxysql-fargate-props';
import { fail } from './validation';

/** A deployment starts the new tasks before it stops the old ones (the connection budget counts them). */
export const MAX_HEALTHY_PERCENT = 200;
/** What the budget assumes when nobody says what the database accepts: below MySQL's own default of 151. */
const ASSUMED_DATABASE_MAX_CONNECTIONS = 100;

/**
 * Fewer writer connections per task than this, with the usual fleet running, and pooled clients
 * doing writes queue for them (the issue that brought the fleet share measured 3 writer connections
 * serving a 100-connection pool at 12 × its direct time): the synth warns.
 */
export const SMALL_WRITER_SHARE = 10;

export function backendBudget(scope: Construct, props: ProxySqlFargateProps, backend: ProxySqlBackendConfig, maxCapacity: number): ConnectionBudget {
  const percent = props.maxConnectionsPercent ?? 90;
  if (Token.isUnresolved(percent)) fail('maxConnectionsPercent', 'must be a literal number (the connection budget is divided at synth)', 'a token');
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) fail('maxConnectionsPercent', 'must be a whole number from 1 to 100', percent);
  if (Token.isUnresolved(maxCapacity)) {
    fail('maxCapacity', 'must be a literal number: the connection budget divides the database\'s connections among the tasks at synth', 'a token');
  }
  let databaseMaxConnections = backend.databaseMaxConnections;
  if (databaseMaxConnections === undefined) {
    databaseMaxConnections = ASSUMED_DATABASE_MAX_CONNECTIONS;
    Annotations.of(scope).addWarningV2('cdk-proxysql:databaseMaxConnectionsUnknown',
      `The backend does not say how many connections the database accepts: the connection budget assumes ${ASSUMED_DATABASE_MAX_CONNECTIONS} per server. Pass databaseMaxConnections to the backend factory (the database's max_connections)`);
  }
  const writerIsAlsoReader = backend.topology.auroraDiscovery?.writerIsAlsoReader ?? props.writerIsAlsoReader ?? false;
  const maxTasks = Math.ceil((maxCapacity * MAX_HEALTHY_PERCENT) / 100);
  const budget = connectionBudget({
    databaseMaxConnections,
    maxConnectionsPercent: percent,
    maxTasks,
    rowsPerServer: writerIsAlsoReader ? 2 : 1,
  });
  if (typeof budget === 'string') {
    fail('maxCapacity', `is too large for the database: the connection budget ${budget}; lower maxCapacity, or raise databaseMaxConnections / maxConnectionsPercent`, maxCapacity);
  }
  return budget;
}

/**
 * Warn when the tasks that usually run (`minCapacity`) get so few writer connections each that
 * pooled clients doing writes queue for them: `writerShare` is the writer's row for that count.
 */
export function warnOnSmallShare(scope: Construct, budget: ConnectionBudget, minCapacity: number, writerShare: (full: number) => number): void {
  if (Token.isUnresolved(minCapacity)) return;
  const usual = Math.min(Math.max(1, minCapacity), budget.fleetShares.length);
  const writer = writerShare(budget.fleetShares[usual - 1]);
  if (writer >= SMALL_WRITER_SHARE) return;
  Annotations.of(scope).addWarningV2('cdk-proxysql:backendShareSmall',
    `With ${usual} tasks running (minCapacity) each task may open only ${writer} connections to the writer, and ${budget.perRow} per server when the most tasks run: `
    + 'pooled clients doing writes will wait for them (the dashboard\'s ClientsWaitingForConnection). Raise the backend\'s databaseMaxConnections to what the database really accepts, '
    + `or maxConnectionsPercent, or lower minCapacity and maxCapacity; below ${SMALL_WRITER_SHARE} writer connections per task this warning stays`);
}

/**
 * A budget of one connection per server cannot give the writer a share for fallback reads:
 * unless asked for explicitly (then the configuration refuses it), go without and say so.
 */
export function optionsWithinBudget(
  scope: Construct, props: ProxySqlFargateProps, backend: ProxySqlBackendConfig, budget: ConnectionBudget,
): ProxySqlConfigOptions {
  if (props.readsFallBackToWriter === undefined && budget.perRow < 2 && (backend.topology.readers ?? []).length > 0) {
    Annotations.of(scope).addWarningV2('cdk-proxysql:readsFallBackToWriterOff',
      `Reads will not fall back to the writer when no reader can serve: the connection budget (${budget.perRow} per task and server) cannot be split between writes and reads. Lower maxCapacity, or raise databaseMaxConnections / maxConnectionsPercent; set readsFallBackToWriter: false to accept this`);
    return { ...props, readsFallBackToWriter: false };
  }
  return props;
}
