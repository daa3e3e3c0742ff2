/**
 * How many backend connections each ProxySQL task may open to each database server, so that all
 * tasks together stay inside the database's own `max_connections` — the reason a proxy sits in
 * front of a database that Lambda scale-out would otherwise overwhelm.
 *
 * Measured on a real ProxySQL (see docs/protecting-the-database.md): when the servers' own
 * limit is reached first, a burst turns into client errors ("Max connect timeout reached while
 * reaching hostgroup") and the proxy stays slow afterwards; when ProxySQL's per-server cap is
 * reached first, clients queue for a pooled connection and every one is served.
 */

/** Connections kept free on each server for the bootstrap function and operators. */
export const RESERVED_CONNECTIONS = 3;
/** Connections one task's monitor may hold to one server (connect, ping and read_only checks). */
export const MONITOR_CONNECTIONS_PER_TASK = 3;
/** The task's fleet counter (`fleet-share.sh`): one short connection to the writer every 2 s. */
export const COUNTER_CONNECTIONS_PER_TASK = 1;

export interface ConnectionBudgetInput {
  /** The database server's own `max_connections`. */
  readonly databaseMaxConnections: number;
  /** Share of it the proxy fleet may use (1–100). */
  readonly maxConnectionsPercent: number;
  /** Most tasks that can run at once (autoscaling maximum, times a deployment's extra tasks). */
  readonly maxTasks: number;
  /**
   * Hostgroups one server can sit in at once (2 when the writer is also a reader: after a
   * failover any server can be the writer).
   */
  readonly rowsPerServer: number;
}

export interface ConnectionBudget {
  /** What the fleet may use on one server: max_connections × percent. */
  readonly fleetShare: number;
  /** Held back for the monitors of every task, the bootstrap and operators. */
  readonly reserved: number;
  /** What one task may open to one server, over all its hostgroups. */
  readonly perTask: number;
  /** ProxySQL `mysql_servers.max_connections` of each row: the static share, safe for `maxTasks` tasks. */
  readonly perRow: number;
  /**
   * The share of each row when only n tasks run, for n = 1 … maxTasks (`fleetShares[n - 1]`; the
   * last is `perRow`): what `fleet-share.sh` gives its task once it has counted the running tasks.
   */
  readonly fleetShares: number[];
}

/**
 * The budget, or an error message that says which input to change. Whole connections only:
 * rounding always goes down.
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget | string {
  const fleetShare = Math.floor((input.databaseMaxConnections * input.maxConnectionsPercent) / 100);
  const shareOf = (tasks: number) => {
    const reserved = reservedFor(tasks);
    const perTask = Math.floor((fleetShare - reserved) / tasks);
    return { reserved, perTask, perRow: Math.floor(perTask / input.rowsPerServer) };
  };
  const { reserved, perTask, perRow } = shareOf(input.maxTasks);
  if (perRow < 1) {
    return `leaves no backend connection per task: ${input.databaseMaxConnections} × ${input.maxConnectionsPercent} % = ${fleetShare} `
      + `for up to ${input.maxTasks} tasks, of which ${reserved} are reserved for the monitors, the bootstrap and operators`;
  }
  const fleetShares = Array.from({ length: input.maxTasks }, (_, i) => shareOf(i + 1).perRow);
  return { fleetShare, reserved, perTask, perRow, fleetShares };
}

/** What n running tasks leave unused on each server: their monitors and counters, the bootstrap and operators. */
function reservedFor(tasks: number): number {
  return RESERVED_CONNECTIONS + (MONITOR_CONNECTIONS_PER_TASK + COUNTER_CONNECTIONS_PER_TASK) * tasks;
}

/**
 * Aurora MySQL's default `max_connections` per DB instance class (AWS's published table; it follows
 * the instance's memory). `undefined` for a class the table does not list.
 */
export function auroraMysqlMaxConnections(instanceClass: string): number | undefined {
  const m = /^(?:db\.)?([a-z]+)(\d+)([a-z]*)\.([0-9]*[a-z]+)$/.exec(instanceClass);
  if (!m) return undefined;
  const [, family, , , size] = m;
  if (family === 't') return ({ small: 45, medium: 90, large: 135 } as Record<string, number>)[size];
  if (family === 'r') {
    return ({
      'large': 1000,
      'xlarge': 2000,
      '2xlarge': 3000,
      '4xlarge': 4000,
      '8xlarge': 5000,
      '12xlarge': 6000,
      '16xlarge': 6000,
      '24xlarge': 7000,
    } as Record<string, number>)[size];
  }
  return undefined;
}

/**
 * Aurora Serverless v2 fixes `max_connections` from the maximum capacity: the value of the
 * provisioned class with the same memory (2 GiB per ACU), rounded down to a class that has it.
 */
export function auroraServerlessV2MaxConnections(maxCapacityAcu: number): number {
  const memoryGiB = maxCapacityAcu * 2;
  const steps: Array<[number, number]> = [
    [512, 6000], [256, 5000], [128, 4000], [64, 3000], [32, 2000], [16, 1000], [8, 135], [4, 90],
  ];
  for (const [gib, connections] of steps) if (memoryGiB >= gib) return connections;
  return 45;
}
