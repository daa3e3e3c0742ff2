/**
 * CloudFormation custom resource (through the aws-cdk-lib `custom-resources` Provider framework):
 * makes the database's monitor and application users match their Secrets Manager secrets.
 *
 * Resource properties (CloudFormation passes scalars as strings):
 *   WriterHost, Port            where to connect (Port falls back to the admin secret, then 3306)
 *   AdminSecretArn              master/admin credentials used to create the others
 *   MonitorSecretArn, MonitorPrivileges ('basic' | 'replication' | 'aurora')
 *   Users: [{ SecretArn, Database?, Grants? }]
 *   DropUsersOnDelete ('true' | 'false'), Tls ('true' | 'false': verified against the Amazon RDS CAs)
 *   TlsCaPem                    optional: TLS verified against these CA certificates instead
 *   ConfigHash                  ignored here; its change is what makes CloudFormation re-run us
 *
 * What a run grants is recorded in the database under `<StackId>/<LogicalResourceId>`, and only
 * that is ever revoked (grant-record.ts says why the record is not kept in CloudFormation). An
 * application user that is the admin user itself is refused before anything is changed.
 *
 * Logs name users and steps only. A thrown Error's message becomes the CloudFormation event reason.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { MonitorPrivileges } from './privileges';
import { CredentialsFetcher, DatabaseCredentials, secretName, secretsManagerFetcher } from './secrets';
import { BootstrapError, bootstrapDatabase, ConnectionValues, deleteUsers, UserPlan } from './sql';

export interface BootstrapUserProperty {
  readonly SecretArn: string;
  readonly Database?: string;
  readonly Grants?: string[];
}

export interface BootstrapProperties {
  readonly WriterHost?: string;
  readonly Port?: string | number;
  readonly AdminSecretArn: string;
  readonly MonitorSecretArn: string;
  readonly MonitorPrivileges: string;
  readonly Users?: BootstrapUserProperty[];
  readonly DropUsersOnDelete?: string | boolean;
  readonly Tls?: string | boolean;
  readonly TlsCaPem?: string;
  readonly ConfigHash?: string;
}

export interface BootstrapResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export interface HandlerDeps {
  readonly fetchCredentials: CredentialsFetcher;
  readonly log?: (line: string) => void;
  /** Time left for this invocation, in ms (the Lambda context's getRemainingTimeInMillis). */
  readonly remainingMs?: () => number;
}

/** Leave this much of the function timeout for reporting back to CloudFormation. */
const SAFETY_MARGIN_MS = 30_000;
/** Dropping users on Delete should not hold a stack deletion for long. */
const DELETE_BUDGET_MS = 180_000;

interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

let defaultFetcher: CredentialsFetcher | undefined;

export async function handler(event: CloudFormationCustomResourceEvent, context?: LambdaContextLike): Promise<BootstrapResponse> {
  defaultFetcher ??= secretsManagerFetcher();
  return makeHandler({
    fetchCredentials: defaultFetcher,
    remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined,
  })(event);
}

export function makeHandler(deps: HandlerDeps): (event: CloudFormationCustomResourceEvent) => Promise<BootstrapResponse> {
  // eslint-disable-next-line no-console
  const log = deps.log ?? ((line: string) => console.log(line));
  const remaining = deps.remainingMs ?? (() => 14 * 60_000);

  return async (event): Promise<BootstrapResponse> => {
    const props = event.ResourceProperties as unknown as BootstrapProperties;
    log(`${event.RequestType} ${event.LogicalResourceId}`);
    // The same on every event of this resource, retries included; a new stack gets a new StackId.
    const owner = `${event.StackId}/${event.LogicalResourceId}`;

    if (event.RequestType === 'Delete') {
      const id = event.PhysicalResourceId;
      if (!flag(props.DropUsersOnDelete)) {
        log('leaving users in place (DropUsersOnDelete is not set)');
        return { PhysicalResourceId: id };
      }
      const deadline = Date.now() + Math.min(DELETE_BUDGET_MS, remaining() - SAFETY_MARGIN_MS);
      const admin = await deps.fetchCredentials(props.AdminSecretArn);
      const usernames: string[] = [];
      for (const arn of [props.MonitorSecretArn, ...(props.Users ?? []).map((u) => u.SecretArn)]) {
        try {
          usernames.push((await deps.fetchCredentials(arn)).username);
        } catch (e) {
          // A secret deleted before us leaves nothing to name; the others are still dropped.
          log(`skipping the user of ${secretName(arn)}: ${(e as Error).message}`);
        }
      }
      const dropped = await deleteUsers(connection(props, admin), usernames, { deadline, log, owner });
      return { PhysicalResourceId: id, Data: { DroppedUsers: dropped.join(',') } };
    }

    const deadline = Date.now() + remaining() - SAFETY_MARGIN_MS;
    const privileges = props.MonitorPrivileges as MonitorPrivileges;
    const admin = await deps.fetchCredentials(props.AdminSecretArn);
    const monitor = await deps.fetchCredentials(props.MonitorSecretArn);
    const users: UserPlan[] = [];
    for (const u of props.Users ?? []) {
      const creds = await deps.fetchCredentials(u.SecretArn);
      // No database given: the RDS secret shape's dbname, else one named after the user.
      const database = u.Database || creds.dbname || creds.username;
      users.push({ username: creds.username, password: creds.password, database, grants: u.Grants?.length ? u.Grants : undefined });
    }
    const conn = connection(props, admin);
    log(`bootstrapping ${conn.host}:${conn.port} as ${admin.username}: monitor ${monitor.username} (${privileges}), users ${users.map((u) => `${u.username}→${u.database}`).join(', ') || '(none)'}`);

    const result = await bootstrapDatabase(conn, {
      owner,
      monitor: { username: monitor.username, password: monitor.password, privileges },
      users,
    }, { deadline, log });

    const physicalId = event.RequestType === 'Create'
      ? `proxysql-bootstrap:${event.LogicalResourceId}`
      : event.PhysicalResourceId;
    return {
      PhysicalResourceId: physicalId,
      Data: {
        Flavour: result.flavour,
        ServerVersion: result.serverVersion,
        MonitorUsername: monitor.username,
        Usernames: users.map((u) => u.username).join(','),
        Changes: result.changes.join('; '),
      },
    };
  };
}

function connection(props: BootstrapProperties, admin: DatabaseCredentials): ConnectionValues {
  const host = props.WriterHost || admin.host;
  if (!host) throw new BootstrapError(`WriterHost is not set and the admin secret ${secretName(props.AdminSecretArn)} has no "host"`);
  const rawPort = props.Port ?? admin.port ?? 3306;
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BootstrapError(`Port must be an integer from 1 to 65535 (got ${JSON.stringify(rawPort)})`);
  }
  // A CA of the user's (plain endpoints): the chain is verified as the proxy verifies it; like the
  // proxy (ProxySQL 2.7) and mysql2's 'Amazon RDS' profile, the host name is not checked.
  const ssl = props.TlsCaPem ? { ca: props.TlsCaPem, rejectUnauthorized: true } : flag(props.Tls);
  return { host, port, user: admin.username, password: admin.password, ssl };
}

function flag(value: string | boolean | undefined): boolean {
  return value === true || value === 'true';
}
