import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** Per-user settings of a ProxySQL frontend/backend user (`mysql_users`). */
export interface ProxySqlUserOptions {
  /**
   * Most client connections this user may hold open on one ProxySQL task (`max_connections`).
   * @default 10000 (ProxySQL's default)
   */
  readonly maxConnections?: number;

  /**
   * Hostgroup a query goes to when no query rule sends it elsewhere (`default_hostgroup`). Not a
   * token: it is checked against the writer and reader hostgroups at synth time.
   * @default - the writer hostgroup: anything the rules do not recognise as a plain read is safe on the writer
   */
  readonly defaultHostgroup?: number;

  /**
   * Keep every statement of an open transaction on the hostgroup the transaction started on
   * (`transaction_persistent`). Turning it off lets reads inside a transaction go to a reader,
   * where they do not see the transaction's own writes.
   * @default true
   */
  readonly transactionPersistent?: boolean;

  /**
   * Bypass query processing (no rules, no read/write split) for this user (`fast_forward`).
   * @default false
   */
  readonly fastForward?: boolean;

  /**
   * Require TLS from clients of this user (`use_ssl`).
   * @default false - clients may use TLS (frontend TLS is on) but are not forced to
   */
  readonly useSsl?: boolean;

  /**
   * Default schema of the user's sessions (`default_schema`).
   * @default - none
   */
  readonly defaultSchema?: string;
}

/** A MySQL user that clients log in to ProxySQL with, and that ProxySQL uses on the backend. */
export class ProxySqlUser {
  /**
   * A user whose credentials live in a Secrets Manager secret in the RDS JSON shape
   * (`{"username": "...", "password": "..."}`). The values reach the container as ECS secrets at
   * start-up; they never appear in the template.
   */
  public static fromSecret(secret: secretsmanager.ISecret, options: ProxySqlUserOptions = {}): ProxySqlUser {
    return new ProxySqlUser(secret, options);
  }

  /** The secret holding `username` and `password`. */
  public readonly secret: secretsmanager.ISecret;
  /** The settings given to `fromSecret`. */
  public readonly options: ProxySqlUserOptions;

  private constructor(secret: secretsmanager.ISecret, options: ProxySqlUserOptions) {
    this.secret = secret;
    this.options = options;
  }
}
