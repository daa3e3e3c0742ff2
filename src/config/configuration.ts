/**
 * The ProxySQL configuration: the model (model.ts) validated and rendered to libconfig, one
 * ProxySQL table at a time, each by its own module under tables/.
 */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { BACKEND_CA_ENV, SecretReference, TEMPLATE_ENV, TLS_CERTIFICATE_ENV, TLS_CHAIN_ENV, TLS_PRIVATE_KEY_ENV } from './environment';
import { ConfigModel, ProxySqlConfigurationProps, resolveModel } from './model';
import { renderAdminVariables, validateAdminVariables } from './tables/admin-variables';
import { Checks, HOSTGROUP_TOKEN } from './tables/checks';
import { HostgroupFacts, hostgroupFacts, renderHostgroups, validateHostgroups } from './tables/hostgroups';
import { Template } from './tables/libconfig';
import { renderMysqlQueryRules, validateMysqlQueryRules } from './tables/mysql-query-rules';
import { renderMysqlServers, validateMysqlServers, writerRowBudget } from './tables/mysql-servers';
import { renderMysqlUsers, validateMysqlUsers } from './tables/mysql-users';
import { maxClientConnections, renderMysqlVariables, validateMysqlVariables } from './tables/mysql-variables';
import { ProxySqlUserOptions } from './users';

// The names the construct and the tests import from here.
export {
  ADMIN_PASSWORD_ENV, ADMIN_USERNAME_ENV, BACKEND_CA_ENV, BACKEND_CA_FILE_PLACEHOLDER, TEMPLATE_ENV,
  TLS_CERTIFICATE_ENV, TLS_CHAIN_ENV, TLS_PRIVATE_KEY_ENV, SecretQuoting, placeholder,
} from './environment';
export type { SecretReference } from './environment';
export { DEFAULTS } from './model';
export type { ProxySqlConfigurationProps } from './model';
export type { HostgroupFacts } from './tables/hostgroups';

/** What the container needs. */
export interface RenderedConfig {
  /** libconfig text with placeholders instead of secret values. */
  readonly template: string;
  /** Env var → secret field; map each with `ecs.Secret.fromSecretsManager(secret, field)`. */
  readonly secretEnvironment: { [envVar: string]: SecretReference };
  /** Plain env vars the start script and health check read (includes the template). */
  readonly environment: { [envVar: string]: string };
  readonly trafficPort: number;
  readonly adminPort: number;
  readonly restApiPort?: number;
}

/**
 * The ProxySQL configuration: validated on construction, rendered to libconfig by `render()`.
 */
export class ProxySqlConfiguration {
  private readonly model: ConfigModel;

  constructor(props: ProxySqlConfigurationProps) {
    this.model = resolveModel(props);
    this.validate(new Checks(props.context ?? 'ProxySqlFargate'));
  }

  /** `mysql-max_connections`: client connections one task accepts (a token when given as one). */
  public get maxClientConnections(): number {
    return maxClientConnections(this.model);
  }

  /** Backend connections of the writer hostgroup out of a server budget of `full` (fallback reads keep a quarter). */
  public writerShareOf(full: number): number {
    return writerRowBudget(this.model, full);
  }

  /** What the metrics, dashboard and alarms need to know of the hostgroups (see `HostgroupFacts`). */
  public get hostgroups(): HostgroupFacts {
    return hostgroupFacts(this.model);
  }

  /** The secrets of the users ProxySQL is configured with (for the database bootstrap). */
  public get userSecrets(): secretsmanager.ISecret[] {
    return this.model.users.map(u => u.secret);
  }

  /**
   * The users ProxySQL is configured with and the prop that named each: `users[i]`, or
   * `defaultUsers[i]` for a backend's application users.
   */
  public get userEntries(): ReadonlyArray<{ readonly secret: secretsmanager.ISecret; readonly path: string; readonly options: ProxySqlUserOptions }> {
    return this.model.users;
  }

  /** Render the libconfig template and the env vars the container needs. */
  public render(): RenderedConfig {
    const m = this.model;
    const out = new Template();
    out.push('# ProxySQL configuration rendered by cdk-proxysql. Secrets are placeholders filled in at start-up.');
    // Read by the start script so the stop handler and the health check need no extra env var.
    out.push(`# cdk-proxysql admin_port=${m.adminPort}`);
    const certificate = m.options.tlsCertificate;
    if (certificate) {
      out.mapSecret(TLS_CERTIFICATE_ENV, certificate.secret, certificate.certificateField);
      out.mapSecret(TLS_PRIVATE_KEY_ENV, certificate.secret, certificate.privateKeyField);
      out.mapSecret(TLS_CHAIN_ENV, certificate.secret, certificate.certificateChainField);
    }
    renderAdminVariables(m, out);
    renderMysqlVariables(m, out);
    renderMysqlServers(m, out);
    renderHostgroups(m, out);
    renderMysqlUsers(m, out);
    renderMysqlQueryRules(m, out);

    const template = out.text();
    return {
      template,
      secretEnvironment: out.secretEnvironment,
      environment: {
        [TEMPLATE_ENV]: template,
        ...(m.props.backendCa !== undefined ? { [BACKEND_CA_ENV]: m.props.backendCa } : {}),
      },
      trafficPort: m.trafficPort,
      adminPort: m.adminPort,
      restApiPort: m.restApiPort,
    };
  }

  /** What every table relies on (distinct hostgroups and ports), then each table in the order of the file. */
  private validate(c: Checks): void {
    const m = this.model;
    const o = m.options;
    c.concrete('writerHostgroup', o.writerHostgroup, HOSTGROUP_TOKEN);
    c.concrete('readerHostgroup', o.readerHostgroup, HOSTGROUP_TOKEN);
    c.int('writerHostgroup', o.writerHostgroup, 0, 2147483647);
    c.int('readerHostgroup', o.readerHostgroup, 0, 2147483647);
    if (m.writerHg === m.readerHg) c.fail('readerHostgroup', 'must differ from writerHostgroup', m.readerHg);
    c.int('trafficPort', o.trafficPort, 1, 65535);
    c.int('adminPort', o.adminPort, 1, 65535);
    c.int('restApiPort', o.restApiPort, 1, 65535);
    if (m.adminPort === m.trafficPort) c.fail('adminPort', 'must differ from trafficPort', m.adminPort);
    if (m.restApiPort !== undefined && (m.restApiPort === m.trafficPort || m.restApiPort === m.adminPort)) {
      c.fail('restApiPort', 'must differ from trafficPort and adminPort', m.restApiPort);
    }
    validateAdminVariables(m, c);
    validateMysqlVariables(m, c);
    validateMysqlServers(m, c);
    validateHostgroups(m, c);
    validateMysqlUsers(m, c);
    validateMysqlQueryRules(m, c);
  }
}
