import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * A database-level MySQL privilege that the proxy's bootstrap grants an application user on its own
 * database (`GRANT <privilege> ON <database>.*`). Global privileges and privileges on other
 * databases are not offered: the bootstrap never grants them.
 */
export class DatabasePrivilege {
  /** Every database-level privilege the server knows (`ALL PRIVILEGES`; GRANT OPTION is not included). */
  public static readonly ALL = new DatabasePrivilege('ALL PRIVILEGES');
  /** Read rows. */
  public static readonly SELECT = new DatabasePrivilege('SELECT');
  /** Insert rows. */
  public static readonly INSERT = new DatabasePrivilege('INSERT');
  /** Change rows. */
  public static readonly UPDATE = new DatabasePrivilege('UPDATE');
  /** Delete rows. */
  public static readonly DELETE = new DatabasePrivilege('DELETE');
  /** Create tables (and the database itself). */
  public static readonly CREATE = new DatabasePrivilege('CREATE');
  /** Drop tables, views and the database. */
  public static readonly DROP = new DatabasePrivilege('DROP');
  /** Create foreign keys. */
  public static readonly REFERENCES = new DatabasePrivilege('REFERENCES');
  /** Create and drop indexes. */
  public static readonly INDEX = new DatabasePrivilege('INDEX');
  /** Alter tables. */
  public static readonly ALTER = new DatabasePrivilege('ALTER');
  /** Create temporary tables. */
  public static readonly CREATE_TEMPORARY_TABLES = new DatabasePrivilege('CREATE TEMPORARY TABLES');
  /** `LOCK TABLES` on tables the user may SELECT. */
  public static readonly LOCK_TABLES = new DatabasePrivilege('LOCK TABLES');
  /** Call stored routines. */
  public static readonly EXECUTE = new DatabasePrivilege('EXECUTE');
  /** Create views. */
  public static readonly CREATE_VIEW = new DatabasePrivilege('CREATE VIEW');
  /** `SHOW CREATE VIEW`. */
  public static readonly SHOW_VIEW = new DatabasePrivilege('SHOW VIEW');
  /** Create stored routines. */
  public static readonly CREATE_ROUTINE = new DatabasePrivilege('CREATE ROUTINE');
  /** Alter and drop stored routines. */
  public static readonly ALTER_ROUTINE = new DatabasePrivilege('ALTER ROUTINE');
  /** Create, alter and drop scheduled events. */
  public static readonly EVENT = new DatabasePrivilege('EVENT');
  /** Create and drop triggers. */
  public static readonly TRIGGER = new DatabasePrivilege('TRIGGER');
  /** Delete history rows of system-versioned tables (MariaDB only; MySQL refuses the GRANT). */
  public static readonly DELETE_HISTORY = new DatabasePrivilege('DELETE HISTORY');

  /**
   * A privilege by its SQL name, in any letter case (`'select'`, `'create temporary tables'`,
   * `'all'`). The proxy checks it at synth against the database-level privileges of MySQL 8 and
   * MariaDB.
   */
  public static of(name: string): DatabasePrivilege {
    return new DatabasePrivilege(name);
  }

  /** The privilege's name as given. */
  public readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }
}

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
   * Require TLS from clients of this user (`use_ssl`). `requireTls` sets it for every user.
   * @default - the proxy's `requireTls` (false unless set)
   */
  readonly useSsl?: boolean;

  /**
   * Default schema of the user's sessions (`default_schema`).
   * @default - none
   */
  readonly defaultSchema?: string;

  /**
   * Database-level privileges the proxy's bootstrap grants this user on its own database (the
   * secret's `dbname`, else a database named after the user), e.g.
   * `[DatabasePrivilege.SELECT, DatabasePrivilege.INSERT, DatabasePrivilege.UPDATE, DatabasePrivilege.DELETE]`.
   * Only the ones the user lacks are granted. One that the bootstrap granted on an earlier deploy
   * and that is no longer listed is revoked; one the user held before is never revoked. Only
   * meaningful while the proxy's `bootstrap` is on (refused with `bootstrap: false`).
   * @default [DatabasePrivilege.ALL]
   */
  readonly privileges?: DatabasePrivilege[];
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
