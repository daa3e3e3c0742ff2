import * as net from 'net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as mysql from 'mysql2/promise';
import { BootstrapProperties, makeHandler } from '../../src/bootstrap/bootstrap.lambda';
import { DatabaseCredentials, SecretError, secretName, secretsManagerFetcher } from '../../src/bootstrap/secrets';
import { mariadbAdmin, uniqueName } from '../fixtures/mariadb';

const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:111111111111:secret:${name}-Ab12Cd`;

/** Secrets as a map; the real adapter is tested in secrets.test.ts. */
function fetcher(secrets: Record<string, DatabaseCredentials>) {
  return async (secretArn: string) => {
    const s = secrets[secretArn];
    if (!s) throw new SecretError(`Could not read secret ${secretName(secretArn)}: ResourceNotFoundException: not found`);
    return s;
  };
}

function event(type: 'Create' | 'Update' | 'Delete', props: BootstrapProperties, physicalId?: string, oldProps?: BootstrapProperties): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:111111111111:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/s/1',
    RequestId: 'req-1',
    LogicalResourceId: 'DbBootstrap',
    ResourceType: 'Custom::ProxySqlDatabaseBootstrap',
    ResourceProperties: { ServiceToken: 'x', ...props } as never,
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' };
  if (type === 'Update') {
    return { ...base, RequestType: 'Update', PhysicalResourceId: physicalId!, OldResourceProperties: { ServiceToken: 'x', ...oldProps } as never };
  }
  return { ...base, RequestType: 'Delete', PhysicalResourceId: physicalId! };
}

function setup() {
  const a = mariadbAdmin();
  const names = { monitor: uniqueName('hmon'), app: uniqueName('happ'), db: uniqueName('hdb') };
  const secrets: Record<string, DatabaseCredentials> = {
    [arn('admin')]: { username: a.user, password: a.password },
    [arn('monitor')]: { username: names.monitor, password: 'monitor-Pw-1' },
    [arn('app')]: { username: names.app, password: 'app-Pw-1', dbname: names.db },
  };
  const props: BootstrapProperties = {
    WriterHost: a.host,
    Port: String(a.port),
    AdminSecretArn: arn('admin'),
    MonitorSecretArn: arn('monitor'),
    MonitorPrivileges: 'replication',
    Users: [{ SecretArn: arn('app') }],
    DropUsersOnDelete: 'false',
    ConfigHash: 'abc',
  };
  const lines: string[] = [];
  const handler = makeHandler({ fetchCredentials: fetcher(secrets), log: (l) => lines.push(l), remainingMs: () => 60_000 });
  return { a, names, secrets, props, lines, handler };
}

async function accounts(names: string[]): Promise<string[]> {
  const c = await mysql.createConnection(mariadbAdmin());
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT User FROM mysql.user WHERE User IN (?) ORDER BY User', [names]);
    return rows.map((r) => String(r.User));
  } finally {
    await c.end();
  }
}

/** SHOW GRANTS without the password hash, sorted: every privilege the account holds, at every level. */
async function grantsOf(user: string): Promise<string[]> {
  const c = await mysql.createConnection(mariadbAdmin());
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${mysql.escape(user)}@'%'`);
    return rows.map((r) => String(Object.values(r)[0]).replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '')).sort();
  } finally {
    await c.end();
  }
}

async function asAdmin(...statements: string[]): Promise<void> {
  const c = await mysql.createConnection(mariadbAdmin());
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

async function dropAll(names: { monitor: string; app: string; db: string }) {
  const c = await mysql.createConnection(mariadbAdmin());
  try {
    await c.query(`DROP USER IF EXISTS ${mysql.escape(names.monitor)}@'%', ${mysql.escape(names.app)}@'%'`);
    await c.query(`DROP DATABASE IF EXISTS \`${names.db}\``);
  } finally {
    await c.end();
  }
}

describe('bootstrap handler: event → result, with the SQL layer on MariaDB', () => {
  test('Create makes the users, Update applies a new password, Delete leaves users by default', async () => {
    const { names, secrets, props, lines, handler } = setup();
    try {
      const created = await handler(event('Create', props));
      expect(created).toEqual({
        PhysicalResourceId: 'proxysql-bootstrap:DbBootstrap',
        Data: {
          Flavour: 'mariadb',
          ServerVersion: expect.stringMatching(/MariaDB/),
          MonitorUsername: names.monitor,
          Usernames: names.app,
          Changes: `${names.monitor}: created, privileges changed; ${names.app}: created, privileges changed`,
        },
      });
      expect(await accounts([names.monitor, names.app])).toEqual([names.app, names.monitor].sort());
      // The database came from the secret's dbname.
      const app = await mysql.createConnection({ ...mariadbAdmin(), user: names.app, password: 'app-Pw-1', database: names.db });
      await app.end();

      secrets[arn('app')] = { ...secrets[arn('app')], password: 'app-Pw-2' };
      const updated = await handler(event('Update', { ...props, ConfigHash: 'def' }, created.PhysicalResourceId));
      expect(updated.PhysicalResourceId).toBe('proxysql-bootstrap:DbBootstrap');
      expect(updated.Data!.Changes).toBe(`${names.monitor}: unchanged; ${names.app}: password updated`);

      const deleted = await handler(event('Delete', props, created.PhysicalResourceId));
      expect(deleted).toEqual({ PhysicalResourceId: 'proxysql-bootstrap:DbBootstrap' });
      expect(await accounts([names.monitor, names.app])).toHaveLength(2);

      const log = lines.join('\n');
      expect(log).toContain(`monitor ${names.monitor} (replication)`);
      for (const pw of ['monitor-Pw-1', 'app-Pw-1', 'app-Pw-2', mariadbAdmin().password]) expect(log).not.toContain(pw);
    } finally {
      await dropAll(names);
    }
  });

  test('Delete with DropUsersOnDelete drops the users, skipping a secret that is already gone', async () => {
    const { names, secrets, props, lines, handler } = setup();
    const withDrop = { ...props, DropUsersOnDelete: 'true', Users: [...props.Users!, { SecretArn: arn('deleted-already') }] };
    try {
      delete secrets[arn('deleted-already')];
      await handler(event('Create', { ...withDrop, Users: props.Users }));
      const deleted = await handler(event('Delete', withDrop, 'proxysql-bootstrap:DbBootstrap'));
      expect(deleted.Data).toEqual({ DroppedUsers: `${names.monitor},${names.app}` });
      expect(await accounts([names.monitor, names.app])).toEqual([]);
      expect(lines).toContain('skipping the user of deleted-already: Could not read secret deleted-already: ResourceNotFoundException: not found');
    } finally {
      await dropAll(names);
    }
  });

  test('explicit Database and Grants are honoured', async () => {
    const { names, props, handler } = setup();
    const db = uniqueName('hdb_explicit');
    try {
      await handler(event('Create', { ...props, Users: [{ SecretArn: arn('app'), Database: db, Grants: ['SELECT'] }] }));
      const c = await mysql.createConnection(mariadbAdmin());
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        'SELECT TABLE_SCHEMA AS s, PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?', [`'${names.app}'@'%'`]);
      await c.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await c.end();
      expect(rows).toEqual([{ s: db, p: 'SELECT' }]);
    } finally {
      await dropAll(names);
    }
  });

  test('a missing secret field fails the Create with the secret name and the field', async () => {
    const { a, props } = setup();
    // The real adapter over a stand-in client: the handler surfaces the adapter's message as is.
    const bodies: Record<string, string> = {
      [arn('admin')]: JSON.stringify({ username: a.user, password: a.password }),
      [arn('monitor')]: '{"username":"m"}',
    };
    const handler = makeHandler({
      fetchCredentials: secretsManagerFetcher({ send: async (c) => ({ SecretString: bodies[c.input.SecretId!] }) }),
      log: () => undefined,
    });
    await expect(handler(event('Create', props))).rejects.toThrow(/^Secret monitor has no "password" field$/);
  });

  test('an unreachable writer fails the Create with host, port and the network error', async () => {
    const { props } = setup();
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const quick = makeHandler({
      fetchCredentials: fetcher({
        [arn('admin')]: { username: 'admin', password: 'x' },
        [arn('monitor')]: { username: 'm', password: 'x' },
        [arn('app')]: { username: 'a', password: 'x' },
      }),
      log: () => undefined,
      remainingMs: () => 32_000,
    }); // 30 s safety margin leaves a 2 s deadline
    await expect(quick(event('Create', { ...props, Port: String(port) })))
      .rejects.toThrow(new RegExp(`database 127\\.0\\.0\\.1:${port} not reachable \\(ECONNREFUSED`));
  });

  test('a bad Port property is named', async () => {
    const { props, handler } = setup();
    await expect(handler(event('Create', { ...props, Port: 'abc' }))).rejects.toThrow(/^Port must be an integer from 1 to 65535 \(got "abc"\)$/);
  });
});

describe('bootstrap handler on an existing database: only what it added is ever revoked', () => {
  test('an existing application user keeps its global privilege and its privileges on another schema, after Create and after an Update that moves its database', async () => {
    const { names, props, handler } = setup();
    const other = uniqueName('hother');
    const moved = uniqueName('hmoved');
    const app = `\`${names.app}\`@\`%\``;
    try {
      // GIVEN an application user that exists before the proxy, with PROCESS and rights on another schema
      await asAdmin(
        `CREATE USER ${mysql.escape(names.app)}@'%' IDENTIFIED BY 'app-Pw-1'`,
        `GRANT PROCESS ON *.* TO ${mysql.escape(names.app)}@'%'`,
        `CREATE DATABASE \`${other}\``,
        `GRANT SELECT, INSERT ON \`${other}\`.* TO ${mysql.escape(names.app)}@'%'`,
      );
      const theirs = [`GRANT PROCESS ON *.* TO ${app}`, `GRANT SELECT, INSERT ON \`${other}\`.* TO ${app}`];

      // WHEN the bootstrap creates its resource THEN it adds the user's own database and keeps the rest
      const created = await handler(event('Create', props));
      expect(created.Data!.Changes).toContain(`${names.app}: privileges changed`);
      expect(await grantsOf(names.app)).toEqual([...theirs, `GRANT ALL PRIVILEGES ON \`${names.db}\`.* TO ${app}`].sort());

      // WHEN an update moves the user to another database THEN only what the Create added is revoked
      const movedProps = { ...props, Users: [{ SecretArn: arn('app'), Database: moved }], ConfigHash: 'moved' };
      await handler(event('Update', movedProps, created.PhysicalResourceId, props));
      expect(await grantsOf(names.app)).toEqual([...theirs, `GRANT ALL PRIVILEGES ON \`${moved}\`.* TO ${app}`].sort());

      // AND a repeat of the same update (a retry) changes nothing
      const again = await handler(event('Update', movedProps, created.PhysicalResourceId, props));
      expect(again.Data!.Changes).toBe(`${names.monitor}: unchanged; ${names.app}: unchanged`);
      expect(await grantsOf(names.app)).toEqual([...theirs, `GRANT ALL PRIVILEGES ON \`${moved}\`.* TO ${app}`].sort());
    } finally {
      await dropAll(names);
      await asAdmin(`DROP DATABASE IF EXISTS \`${other}\``, `DROP DATABASE IF EXISTS \`${moved}\``);
    }
  });

  test('privileges the bootstrap added and no longer wants are revoked on Update', async () => {
    const { names, props, handler } = setup();
    const app = `\`${names.app}\`@\`%\``;
    try {
      const created = await handler(event('Create', { ...props, Users: [{ SecretArn: arn('app'), Grants: ['SELECT', 'INSERT', 'UPDATE'] }] }));
      expect(await grantsOf(names.app)).toEqual([
        `GRANT SELECT, INSERT, UPDATE ON \`${names.db}\`.* TO ${app}`,
        `GRANT USAGE ON *.* TO ${app}`,
      ]);
      const updated = await handler(event('Update', { ...props, Users: [{ SecretArn: arn('app'), Grants: ['SELECT'] }] }, created.PhysicalResourceId));
      expect(updated.Data!.Changes).toBe(`${names.monitor}: unchanged; ${names.app}: privileges changed`);
      expect(await grantsOf(names.app)).toEqual([`GRANT SELECT ON \`${names.db}\`.* TO ${app}`, `GRANT USAGE ON *.* TO ${app}`]);
    } finally {
      await dropAll(names);
    }
  });

  test('a privilege the user held before the first run, which the bootstrap also wanted, survives a shorter list', async () => {
    const { names, props, handler } = setup();
    const app = `\`${names.app}\`@\`%\``;
    try {
      await asAdmin(
        `CREATE USER ${mysql.escape(names.app)}@'%' IDENTIFIED BY 'app-Pw-1'`,
        `CREATE DATABASE \`${names.db}\``,
        `GRANT SELECT ON \`${names.db}\`.* TO ${mysql.escape(names.app)}@'%'`,
      );
      // ALL PRIVILEGES (the default) includes SELECT: granted only what was missing
      const created = await handler(event('Create', props));
      expect(await grantsOf(names.app)).toEqual([`GRANT ALL PRIVILEGES ON \`${names.db}\`.* TO ${app}`, `GRANT USAGE ON *.* TO ${app}`]);
      // The list shrinks to INSERT: everything the Create added but INSERT goes; SELECT was theirs
      await handler(event('Update', { ...props, Users: [{ SecretArn: arn('app'), Grants: ['INSERT'] }] }, created.PhysicalResourceId));
      expect(await grantsOf(names.app)).toEqual([`GRANT SELECT, INSERT ON \`${names.db}\`.* TO ${app}`, `GRANT USAGE ON *.* TO ${app}`]);
    } finally {
      await dropAll(names);
    }
  });

  test('an application user that is the admin user is refused before anything changes, and Delete never drops the admin', async () => {
    const { a, names, secrets, props, lines, handler } = setup();
    // The master secret passed as an application user: same user name (and here the same password).
    secrets[arn('app')] = { username: a.user, password: a.password };
    const adminGrants = await grantsOf(a.user);
    try {
      await expect(handler(event('Create', props))).rejects.toThrow(
        /^users\[0\]: username must not be the admin user the bootstrap signs in as \(AdminSecretArn\): give this user its own secret .* \(got "fixture_admin"\)$/);
      expect(await accounts([names.monitor])).toEqual([]); // refused before connecting
      expect(await grantsOf(a.user)).toEqual(adminGrants);

      await handler(event('Delete', { ...props, DropUsersOnDelete: 'true' }, 'proxysql-bootstrap:DbBootstrap'));
      expect(await accounts([a.user])).toEqual([a.user]);
      expect(lines).toContain(`not dropping ${a.user}: it is the admin user the bootstrap signs in as`);
      expect(lines.join('\n')).not.toContain(a.password);
    } finally {
      await dropAll(names);
    }
  });
});
