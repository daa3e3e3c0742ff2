/** `admin_variables`: the admin interface (credentials, where it listens) and the REST API. */
import { Checks } from './checks';
import { kv, Template } from './libconfig';
import { checkRawVariables, withRaw } from './raw-variables';
import { ADMIN_PASSWORD_ENV, ADMIN_USERNAME_ENV, placeholder, SecretQuoting } from '../environment';
import { ConfigModel } from '../model';

/** Typed admin variables that the raw escape hatch may not override, with the prop to use instead. */
const TYPED_ADMIN_VARIABLES: { [name: string]: string } = {
  admin_credentials: 'the admin secret',
  mysql_ifaces: 'adminPort',
  restapi_enabled: 'restApi',
  restapi_port: 'restApiPort',
};

export function validateAdminVariables(m: ConfigModel, c: Checks): void {
  checkRawVariables(c, 'rawAdminVariables', m.options.rawAdminVariables, TYPED_ADMIN_VARIABLES, {});
  if (m.props.adminListenAddress !== undefined) c.sqlSafe('adminListenAddress', m.props.adminListenAddress, '"');
}

export function renderAdminVariables(m: ConfigModel, out: Template): void {
  const raw = m.options.rawAdminVariables;
  const admin = m.props.adminSecret;
  const adminCreds = `${out.secret(ADMIN_USERNAME_ENV, admin, 'username', SecretQuoting.ADMIN)}:${out.secret(ADMIN_PASSWORD_ENV, admin, 'password', SecretQuoting.ADMIN)}`;
  out.group('admin_variables', [
    `  admin_credentials="${adminCreds}"`,
    // ProxySQL's default stats user is stats:stats; replace it with <admin user>_stats and the
    // admin password so no well-known credential exists when the admin port is opened.
    ...((raw ?? {}).stats_credentials ? [] : [
      `  stats_credentials="${placeholder(ADMIN_USERNAME_ENV, SecretQuoting.ADMIN)}_stats:${placeholder(ADMIN_PASSWORD_ENV, SecretQuoting.ADMIN)}"`,
    ]),
    ...kv(withRaw([
      ['mysql_ifaces', `${m.props.adminListenAddress ?? '127.0.0.1'}:${m.adminPort}`],
      ['restapi_enabled', m.restApiPort !== undefined],
      ['restapi_port', m.restApiPort],
      ['web_enabled', false],
    ], raw), '  '),
  ]);
}
