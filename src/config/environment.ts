/**
 * What the container receives besides the template: the env vars the start script reads, and the
 * placeholders in the template it replaces with secret values before ProxySQL reads the file.
 */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** Env var (not secret) that carries the rendered template to the start script. */
export const TEMPLATE_ENV = 'PROXYSQL_CONFIG_TEMPLATE';
/** Env vars holding the admin credentials; the start script also uses them for `PROXYSQL PAUSE`. */
export const ADMIN_USERNAME_ENV = 'PROXYSQL_SECRET_ADMIN_USERNAME';
export const ADMIN_PASSWORD_ENV = 'PROXYSQL_SECRET_ADMIN_PASSWORD';
/**
 * Env vars (ECS secrets) with the client-facing certificate, its key and the issuing CA's
 * certificate; the start script writes them to `proxysql-{cert,key,ca}.pem` in the datadir.
 */
export const TLS_CERTIFICATE_ENV = 'PROXYSQL_TLS_CERTIFICATE';
export const TLS_PRIVATE_KEY_ENV = 'PROXYSQL_TLS_PRIVATE_KEY';
export const TLS_CHAIN_ENV = 'PROXYSQL_TLS_CERTIFICATE_CHAIN';
/** Env var (not secret: CA certificates are public) with the CAs backend certificates must chain to. */
export const BACKEND_CA_ENV = 'PROXYSQL_BACKEND_CA';
/** Where the start script puts the path of the file it wrote `PROXYSQL_BACKEND_CA` to. */
export const BACKEND_CA_FILE_PLACEHOLDER = '%{PROXYSQL_BACKEND_CA_FILE}';

/**
 * How the start script must escape a secret before it goes into the file. ProxySQL pastes config
 * values into SQL text without escaping (lib/ProxySQL_Config.cpp): `mysql_users` username and
 * password inside '...' (Read_MySQL_Users_from_configfile), global variables inside "..."
 * (Read_Global_Variables_from_configfile). SQLite reads a doubled quote inside a quoted literal
 * as one quote, so the script doubles the quote of the context and the value arrives intact.
 * This depends on ProxySQL NOT escaping (true for 2.7 and 3.0): keep the image pinned, and re-run
 * the start-script tests' SQLite check against the source of any new ProxySQL version.
 */
export enum SecretQuoting {
  /** Pasted inside '...': double `'`. */
  SINGLE = 'sq',
  /** Pasted inside "...": double `"`. */
  DOUBLE = 'dq',
  /**
   * admin_credentials: `:`/`;` are refused because they separate credentials, and `"` because
   * ProxySQL re-pastes runtime admin variables into SQL unescaped when it saves them.
   */
  ADMIN = 'adm',
}

/** The placeholder the start script replaces with the escaped value of env var `name`. */
export function placeholder(envVar: string, quoting: SecretQuoting): string {
  return `%{${envVar}:${quoting}}`;
}
/** How every secret placeholder begins: a plain value that contains it is refused (see `Checks.sqlSafe`). */
export const PLACEHOLDER_MARKER = '%{PROXYSQL_SECRET_';

/** An ECS secret to map to an env var of the container. */
export interface SecretReference {
  readonly secret: secretsmanager.ISecret;
  readonly field: string;
}
