import { Token } from 'aws-cdk-lib';
import { DEFAULTS } from '../config/model';

/**
 * The database engine behind `ProxySqlBackend.fromEndpoints`: what ProxySQL tells clients in the
 * handshake (`mysql-server_version`, and the collation it advertises and gives a session that asks for
 * none: `mysql-default_charset`, `mysql-default_collation_connection`). Drivers choose their connect-time
 * statements from the version: Connector/J reads `@@transaction_isolation` from a MySQL 8 server, a
 * variable MariaDB 10.x does not have, and falls back to 3-byte `utf8` when the collation it asks for
 * is unknown to the server.
 */
export class ProxySqlEngine {
  /**
   * MySQL 8.0 (Aurora MySQL 3, RDS for MySQL 8.0, self-managed 8.0): version 8.0.39 and ProxySQL's
   * own charset defaults, as the proxy announced before the engine was a prop.
   */
  public static readonly MYSQL_8_0 = new ProxySqlEngine(DEFAULTS.serverVersion);

  /**
   * MariaDB (10.x, 11.x). The proxy announces `5.5.5-<version>-MariaDB`, as MariaDB itself does, so
   * MySQL drivers (Connector/J) use the statements MariaDB has, and utf8mb4 (4-byte utf8,
   * `utf8mb4_general_ci`, a collation every MariaDB version knows) as the default.
   *
   * @param version the servers' MariaDB version, `10.11` or `10.11.9`
   */
  public static mariaDb(version: string): ProxySqlEngine {
    if (Token.isUnresolved(version)) {
      throw new Error('ProxySqlEngine.mariaDb: version must be a literal like 10.11 (the announced version is built at synth) (got a token)');
    }
    if (typeof version !== 'string' || !/^[1-9]\d+\.\d+(\.\d+)?$/.test(version)) {
      throw new Error(`ProxySqlEngine.mariaDb: version must be a MariaDB version from 10.0 on, like 10.11 or 10.11.9 (got ${JSON.stringify(version)})`);
    }
    return new ProxySqlEngine(`5.5.5-${version}-MariaDB`, 'utf8mb4', 'utf8mb4_general_ci');
  }

  private constructor(
    /** The version ProxySQL announces to clients (`mysql-server_version`). */
    public readonly serverVersion: string,
    /**
     * The character set of a session whose client names none (`mysql-default_charset`).
     * @default - ProxySQL's default (utf8)
     */
    public readonly defaultCharset?: string,
    /**
     * The collation ProxySQL advertises in the handshake and gives a session whose client names
     * none (`mysql-default_collation_connection`).
     * @default - ProxySQL's default (utf8_general_ci)
     */
    public readonly defaultCollation?: string,
  ) {}
}
