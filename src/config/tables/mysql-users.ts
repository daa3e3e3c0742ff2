/** `mysql_users`: the users clients log in with, which ProxySQL also uses towards the backend. */
import { Token } from 'aws-cdk-lib';
import { Checks, HOSTGROUP_TOKEN } from './checks';
import { kv, row, Template } from './libconfig';
import { DATABASE_PRIVILEGES, normalizePrivilege } from '../../bootstrap/privileges';
import { SecretQuoting } from '../environment';
import { ConfigModel } from '../model';
import { DatabasePrivilege } from '../users';

export function validateMysqlUsers(m: ConfigModel, c: Checks): void {
  if (m.users.length === 0) {
    c.fail('users', 'must name at least one user (or the backend must provide its application user)', '[]');
  }
  const seen = new Map<string, string>();
  for (const u of m.users) {
    const key = u.secret.secretArn;
    const earlier = seen.get(key);
    if (earlier) c.fail(u.path, `uses the same secret as ${earlier}: usernames must be unique`, key);
    seen.set(key, u.path);
    c.int(`${u.path}.maxConnections`, u.options.maxConnections, 1, 10_000_000);
    const hg = u.options.defaultHostgroup;
    c.concrete(`${u.path}.defaultHostgroup`, hg, HOSTGROUP_TOKEN);
    if (hg !== undefined && !Token.isUnresolved(hg) && hg !== m.writerHg && hg !== m.readerHg) {
      c.fail(`${u.path}.defaultHostgroup`, `must be the writer (${m.writerHg}) or reader (${m.readerHg}) hostgroup`, hg);
    }
    c.sqlSafe(`${u.path}.defaultSchema`, u.options.defaultSchema, '\'');
    validatePrivileges(c, `${u.path}.privileges`, u.options.privileges);
  }
  if (seen.has(m.props.adminSecret.secretArn) || seen.has(m.props.monitorSecret.secretArn)) {
    c.fail('users', 'must not include the admin or monitor secret', 'a shared secret');
  }
}

/** The bootstrap's grant list: database-level privileges only, so nothing global is ever granted. */
function validatePrivileges(c: Checks, path: string, privileges: DatabasePrivilege[] | undefined): void {
  if (privileges === undefined) return;
  if (privileges.length === 0) c.fail(path, 'must list at least one privilege (leave it unset for DatabasePrivilege.ALL)', '[]');
  privileges.forEach((p, j) => {
    if (Token.isUnresolved(p.name)) return;
    if (!DATABASE_PRIVILEGES.includes(normalizePrivilege(p.name))) {
      c.fail(`${path}[${j}]`, `must be a database-level privilege: one of ${DATABASE_PRIVILEGES.join(', ')}`, p.name);
    }
  });
}

export function renderMysqlUsers(m: ConfigModel, out: Template): void {
  out.list('mysql_users', m.users.map((u, i) => {
    const uo = u.options;
    return row([
      `username="${out.secret(`PROXYSQL_SECRET_USER_${i}_USERNAME`, u.secret, 'username', SecretQuoting.SINGLE)}"`,
      `password="${out.secret(`PROXYSQL_SECRET_USER_${i}_PASSWORD`, u.secret, 'password', SecretQuoting.SINGLE)}"`,
      ...kv([
        ['active', 1],
        ['default_hostgroup', uo.defaultHostgroup ?? m.writerHg],
        ['transaction_persistent', uo.transactionPersistent === false ? 0 : 1],
        ['fast_forward', uo.fastForward ? 1 : 0],
        ['use_ssl', (uo.useSsl ?? m.options.requireTls) ? 1 : 0],
        ['max_connections', uo.maxConnections ?? 10000],
        ['default_schema', uo.defaultSchema],
        // The live credentials (credentials.awk) find the entry's rows by it.
        ['comment', `cdk-proxysql:user${i}`],
      ], ''),
    ]);
  }));
}
