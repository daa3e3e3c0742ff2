import * as net from 'net';
import * as mysql from 'mysql2/promise';
import { bootstrapDatabase, BootstrapPlan, deleteUsers, validatePlan } from '../../src/bootstrap/sql';
import { mariadbAdmin, uniqueName } from '../fixtures/mariadb';

const admin = () => mariadbAdmin();
const soon = () => Date.now() + 60_000;
/** The grant record's key, as the handler builds it from the event (StackId/LogicalResourceId). */
const OWNER = 'arn:aws:cloudformation:us-east-1:111111111111:stack/sql-test/1/DbBootstrap';

async function asAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection(admin());
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function connectAs(user: string, password: string, database?: string): Promise<mysql.Connection> {
  const { host, port } = admin();
  return mysql.createConnection({ host, port, user, password, database });
}

/** Everything the server stores about an account: the mysql.user row (hash included) and grants. */
async function accountState(user: string): Promise<unknown> {
  return asAdmin(async (c) => {
    const [row] = await c.query("SELECT * FROM mysql.global_priv WHERE User = ? AND Host = '%'", [user]);
    const [grants] = await c.query(`SHOW GRANTS FOR ${mysql.escape(user)}@'%'`);
    return { row, grants };
  });
}

function plan(names: { monitor: string; app: string; db: string }, overrides: Partial<{ monitorPw: string; appPw: string; grants: string[]; mode: 'basic' | 'replication' | 'aurora' }> = {}): BootstrapPlan {
  return {
    owner: OWNER,
    monitor: { username: names.monitor, password: overrides.monitorPw ?? 'Mon-itor pw \' " \\ $x', privileges: overrides.mode ?? 'replication' },
    users: [{ username: names.app, password: overrides.appPw ?? 'App pw with \' quote', database: names.db, grants: overrides.grants }],
  };
}

function freshNames() {
  return { monitor: uniqueName('mon'), app: uniqueName('app'), db: uniqueName('appdb') };
}

async function cleanup(names: { monitor: string; app: string; db: string }) {
  await asAdmin(async (c) => {
    await c.query(`DROP USER IF EXISTS ${mysql.escape(names.monitor)}@'%', ${mysql.escape(names.app)}@'%'`);
    await c.query(`DROP DATABASE IF EXISTS \`${names.db}\``);
  });
}

describe('bootstrapDatabase against MariaDB', () => {
  test('creates the monitor user, the application user and its database; a second run changes nothing', async () => {
    const names = freshNames();
    try {
      const first = await bootstrapDatabase(admin(), plan(names), { deadline: soon() });
      expect(first.flavour).toBe('mariadb');
      expect(first.changes).toEqual([`${names.monitor}: created, privileges changed`, `${names.app}: created, privileges changed`]);

      const before = [await accountState(names.monitor), await accountState(names.app)];
      const second = await bootstrapDatabase(admin(), plan(names), { deadline: soon() });
      const after = [await accountState(names.monitor), await accountState(names.app)];
      expect(second.changes).toEqual([`${names.monitor}: unchanged`, `${names.app}: unchanged`]);
      expect(after).toEqual(before);

      const [dbs] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [names.db]));
      expect(dbs).toHaveLength(1);
    } finally {
      await cleanup(names);
    }
  });

  test('a changed password in the plan is applied: the old one is refused, the new one accepted', async () => {
    const names = freshNames();
    try {
      await bootstrapDatabase(admin(), plan(names, { appPw: 'first-Password-1' }), { deadline: soon() });
      const result = await bootstrapDatabase(admin(), plan(names, { appPw: 'second-Password-2' }), { deadline: soon() });
      expect(result.changes).toContain(`${names.app}: password updated`);
      await expect(connectAs(names.app, 'first-Password-1')).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
      const c = await connectAs(names.app, 'second-Password-2');
      await c.end();
    } finally {
      await cleanup(names);
    }
  });

  test('the monitor user runs the checks ProxySQL runs, and nothing more', async () => {
    const names = freshNames();
    const p = plan(names);
    try {
      await bootstrapDatabase(admin(), p, { deadline: soon() });
      await asAdmin((c) => c.query(`CREATE TABLE \`${names.db}\`.secrets (v INT)`));
      const m = await connectAs(names.monitor, p.monitor.password);
      try {
        await m.ping();
        const [ro] = await m.query<mysql.RowDataPacket[]>('SELECT @@global.read_only AS ro, @@global.innodb_read_only AS iro');
        expect(ro[0]).toEqual({ ro: 0, iro: 0 });
        const [status] = await m.query('SHOW SLAVE STATUS');
        expect(status).toEqual([]); // not a replica, but allowed to ask
        await expect(m.query(`SELECT * FROM \`${names.db}\`.secrets`)).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
        await expect(m.query(`CREATE DATABASE \`${names.db}_monitor\``)).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
        await expect(m.query('SELECT * FROM mysql.user')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
        await expect(m.query('SHOW PROCESSLIST')).resolves.toBeDefined(); // own threads only
        await expect(m.query('SHOW BINARY LOGS')).rejects.toMatchObject({ code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR' });
      } finally {
        await m.end();
      }
      const [grants] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${mysql.escape(names.monitor)}@'%'`));
      expect(grants.map((g) => Object.values(g)[0])).toEqual([expect.stringMatching(/^GRANT (SLAVE|REPLICA) MONITOR ON \*\.\* TO/)]);
    } finally {
      await cleanup(names);
    }
  });

  test('basic mode gives the monitor USAGE only; switching modes revokes what is no longer needed', async () => {
    const names = freshNames();
    const p = plan(names);
    try {
      await bootstrapDatabase(admin(), plan(names, { mode: 'replication' }), { deadline: soon() });
      const result = await bootstrapDatabase(admin(), plan(names, { mode: 'basic' }), { deadline: soon() });
      expect(result.changes[0]).toBe(`${names.monitor}: privileges changed`);
      const [grants] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${mysql.escape(names.monitor)}@'%'`));
      expect(grants.map((g) => Object.values(g)[0])).toEqual([expect.stringMatching(/^GRANT USAGE ON \*\.\* TO/)]);
      const m = await connectAs(names.monitor, p.monitor.password);
      try {
        await expect(m.query('SELECT @@global.read_only')).resolves.toBeDefined();
        await expect(m.query('SHOW SLAVE STATUS')).rejects.toMatchObject({ code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR' });
      } finally {
        await m.end();
      }
    } finally {
      await cleanup(names);
    }
  });

  test('the application user creates, writes and reads in its database and cannot touch another', async () => {
    const names = freshNames();
    const other = uniqueName('otherdb');
    const p = plan(names);
    try {
      await asAdmin((c) => c.query(`CREATE DATABASE \`${other}\``));
      await asAdmin((c) => c.query(`CREATE TABLE \`${other}\`.t (id INT)`));
      await bootstrapDatabase(admin(), p, { deadline: soon() });
      const a = await connectAs(names.app, p.users[0].password, names.db);
      try {
        await a.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))');
        await a.query('INSERT INTO items VALUES (?, ?)', [1, 'one']);
        const [rows] = await a.query('SELECT id, name FROM items');
        expect(rows).toEqual([{ id: 1, name: 'one' }]);
        await expect(a.query(`SELECT * FROM \`${other}\`.t`)).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
        await expect(a.query(`CREATE TABLE \`${other}\`.x (id INT)`)).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
        await expect(a.query(`CREATE DATABASE \`${other}_2\``)).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
      } finally {
        await a.end();
      }
    } finally {
      await cleanup(names);
      await asAdmin((c) => c.query(`DROP DATABASE IF EXISTS \`${other}\``));
    }
  });

  test('explicit grants are made to match: extras revoked, missing ones granted', async () => {
    const names = freshNames();
    const p = plan(names, { grants: ['SELECT', 'insert'] });
    try {
      await bootstrapDatabase(admin(), plan(names), { deadline: soon() }); // starts with ALL
      const result = await bootstrapDatabase(admin(), p, { deadline: soon() });
      expect(result.changes[1]).toBe(`${names.app}: privileges changed`);
      const [privs] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>(
        'SELECT PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? ORDER BY 1', [`'${names.app}'@'%'`]));
      expect(privs.map((r) => r.p)).toEqual(['INSERT', 'SELECT']);
      const again = await bootstrapDatabase(admin(), p, { deadline: soon() });
      expect(again.changes[1]).toBe(`${names.app}: unchanged`);

      const a = await connectAs(names.app, p.users[0].password, names.db);
      try {
        await expect(a.query('CREATE TABLE t (id INT)')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      } finally {
        await a.end();
      }
    } finally {
      await cleanup(names);
    }
  });

  test('moving a user to another database revokes the old one', async () => {
    const names = freshNames();
    const db2 = uniqueName('appdb2');
    try {
      await bootstrapDatabase(admin(), plan(names), { deadline: soon() });
      await bootstrapDatabase(admin(), plan({ ...names, db: db2 }), { deadline: soon() });
      const [schemas] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>(
        'SELECT DISTINCT TABLE_SCHEMA AS s FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?', [`'${names.app}'@'%'`]));
      expect(schemas.map((r) => r.s)).toEqual([db2]);
    } finally {
      await cleanup(names);
      await asAdmin((c) => c.query(`DROP DATABASE IF EXISTS \`${db2}\``));
    }
  });

  test('deleteUsers drops the users and keeps the database; dropping again is a no-op', async () => {
    const names = freshNames();
    try {
      await bootstrapDatabase(admin(), plan(names), { deadline: soon() });
      expect(await deleteUsers(admin(), [names.monitor, names.app], { deadline: soon(), owner: OWNER })).toEqual([names.monitor, names.app]);
      expect(await deleteUsers(admin(), [names.monitor, names.app], { deadline: soon(), owner: OWNER })).toEqual([]);
      const [users] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>('SELECT User FROM mysql.user WHERE User IN (?, ?)', [names.monitor, names.app]));
      expect(users).toEqual([]);
      const [dbs] = await asAdmin((c) => c.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [names.db]));
      expect(dbs).toHaveLength(1);
    } finally {
      await cleanup(names);
    }
  });
});

describe('the grant record: revoke only what this bootstrap added', () => {
  const RECORD = '`cdk_proxysql`.`bootstrap_grants`';
  const schemaPrivileges = async (user: string, schema: string) => asAdmin(async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT PRIVILEGE_TYPE AS p FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ? ORDER BY 1', [`'${user}'@'%'`, schema]);
    return rows.map((r) => String(r.p));
  });
  const recorded = async (owner: string, user: string) => asAdmin(async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      `SELECT on_schema AS s, privilege_type AS p FROM ${RECORD} WHERE owner = ? AND grantee = ? ORDER BY 1, 2`, [owner, user]);
    return rows.map((r) => `${r.s} ${r.p}`);
  });

  test('each run records what it granted, and nothing the user already held', async () => {
    const names = freshNames();
    try {
      await asAdmin(async (c) => {
        await c.query(`CREATE USER ${mysql.escape(names.app)}@'%' IDENTIFIED BY 'x'`);
        await c.query(`GRANT SELECT ON \`${names.db}\`.* TO ${mysql.escape(names.app)}@'%'`);
      });
      await bootstrapDatabase(admin(), plan(names, { grants: ['SELECT', 'INSERT'] }), { deadline: soon() });
      expect(await recorded(OWNER, names.app)).toEqual([`${names.db} INSERT`]);
      expect(await recorded(OWNER, names.monitor)).toEqual(['* SLAVE MONITOR']);
    } finally {
      await cleanup(names);
    }
  });

  test('a run that stopped between recording and granting, or between revoking and forgetting, is completed by the next', async () => {
    const names = freshNames();
    const p = plan(names, { grants: ['SELECT', 'UPDATE'] });
    try {
      await bootstrapDatabase(admin(), plan(names, { grants: ['SELECT', 'DELETE'] }), { deadline: soon() });
      await asAdmin(async (c) => {
        // Recorded, not yet granted (UPDATE); revoked, not yet forgotten (DELETE).
        await c.query(`INSERT INTO ${RECORD} (owner, grantee, on_schema, privilege_type) VALUES (?, ?, ?, 'UPDATE')`, [OWNER, names.app, names.db]);
        await c.query(`REVOKE DELETE ON \`${names.db}\`.* FROM ${mysql.escape(names.app)}@'%'`);
      });
      const result = await bootstrapDatabase(admin(), p, { deadline: soon() });
      expect(result.changes[1]).toBe(`${names.app}: privileges changed`);
      expect(await schemaPrivileges(names.app, names.db)).toEqual(['SELECT', 'UPDATE']);
      expect(await recorded(OWNER, names.app)).toEqual([`${names.db} SELECT`, `${names.db} UPDATE`]);
      // and once complete, the record and the grants agree: shrinking the list revokes UPDATE
      await bootstrapDatabase(admin(), plan(names, { grants: ['SELECT'] }), { deadline: soon() });
      expect(await schemaPrivileges(names.app, names.db)).toEqual(['SELECT']);
      expect(await recorded(OWNER, names.app)).toEqual([`${names.db} SELECT`]);
    } finally {
      await cleanup(names);
    }
  });

  test('another bootstrap resource does not revoke what this one added', async () => {
    const names = freshNames();
    const otherOwner = `${OWNER}-other`;
    try {
      await bootstrapDatabase(admin(), plan(names, { grants: ['SELECT', 'INSERT'] }), { deadline: soon() });
      await bootstrapDatabase(admin(), { ...plan(names, { grants: ['SELECT'] }), owner: otherOwner }, { deadline: soon() });
      expect(await schemaPrivileges(names.app, names.db)).toEqual(['INSERT', 'SELECT']);
      expect(await recorded(otherOwner, names.app)).toEqual([]);
    } finally {
      await cleanup(names);
    }
  });

  test('an existing monitor user keeps what it held across mode changes; only the mode\'s own privilege comes and goes', async () => {
    const names = freshNames();
    const other = uniqueName('monother');
    try {
      await asAdmin(async (c) => {
        await c.query(`CREATE USER ${mysql.escape(names.monitor)}@'%' IDENTIFIED BY 'x'`);
        await c.query(`GRANT PROCESS ON *.* TO ${mysql.escape(names.monitor)}@'%'`);
        await c.query(`CREATE DATABASE \`${other}\``);
        await c.query(`GRANT SELECT ON \`${other}\`.* TO ${mysql.escape(names.monitor)}@'%'`);
      });
      const globals = async () => asAdmin(async (c) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>(
          'SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? ORDER BY 1', [`'${names.monitor}'@'%'`]);
        return rows.map((r) => String(r.p));
      });
      await bootstrapDatabase(admin(), plan(names, { mode: 'replication' }), { deadline: soon() });
      expect(await globals()).toEqual(['PROCESS', 'SLAVE MONITOR']);
      await bootstrapDatabase(admin(), plan(names, { mode: 'basic' }), { deadline: soon() });
      expect(await globals()).toEqual(['PROCESS']);
      expect(await schemaPrivileges(names.monitor, other)).toEqual(['SELECT']);
    } finally {
      await cleanup(names);
      await asAdmin((c) => c.query(`DROP DATABASE IF EXISTS \`${other}\``));
    }
  });

  test('deleteUsers forgets the dropped users\' rows', async () => {
    const names = freshNames();
    try {
      await bootstrapDatabase(admin(), plan(names), { deadline: soon() });
      expect(await recorded(OWNER, names.app)).not.toEqual([]);
      await deleteUsers(admin(), [names.monitor, names.app], { deadline: soon(), owner: OWNER });
      expect(await recorded(OWNER, names.app)).toEqual([]);
      expect(await recorded(OWNER, names.monitor)).toEqual([]);
    } finally {
      await cleanup(names);
    }
  });
});

describe('failures name their cause', () => {
  async function closedPort(): Promise<number> {
    return new Promise((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
  }

  test('an unreachable host is retried until the deadline, then reported with host, port and code', async () => {
    const port = await closedPort();
    const lines: string[] = [];
    const started = Date.now();
    const run = bootstrapDatabase({ ...admin(), port }, plan(freshNames()), { deadline: Date.now() + 2_500, log: (l) => lines.push(l) });
    await expect(run).rejects.toThrow(new RegExp(`^Bootstrap failed after [2-9] attempt\\(s\\) in \\d+s: database 127\\.0\\.0\\.1:${port} not reachable \\(ECONNREFUSED`));
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(lines[0]).toMatch(/^attempt 1 failed \(ECONNREFUSED\); retrying in 1s$/);
  });

  test('a wrong admin password is reported as such, after a bounded grace period, without the password', async () => {
    const wrong = 'definitely-Wrong-pw';
    const run = bootstrapDatabase({ ...admin(), password: wrong }, plan(freshNames()), { deadline: soon(), accessDeniedGraceMs: 0 });
    await expect(run).rejects.toThrow(/^Bootstrap failed after 1 attempt\(s\) in \d+s: the admin user fixture_admin was refused by 127\.0\.0\.1:\d+: check the admin secret \(ER_ACCESS_DENIED_ERROR/);
    await expect(bootstrapDatabase({ ...admin(), password: wrong }, plan(freshNames()), { deadline: soon(), accessDeniedGraceMs: 0 }))
      .rejects.not.toThrow(wrong);
  });

  test.each([
    [{ monitor: 'bad name', app: 'app_ok', db: 'db_ok' }, /^monitor: username must match .* \(got "bad name"\)$/],
    [{ monitor: 'mon_ok', app: "x'; DROP", db: 'db_ok' }, /^users\[0\]: username must match .* \(got "x'; DROP"\)$/],
    [{ monitor: 'same', app: 'same', db: 'db_ok' }, /^users\[0\]: username "same" is used twice/],
    [{ monitor: 'mon_ok', app: 'app_ok', db: 'db`x' }, /^users\[0\] \(app_ok\): database must match .* \(got "db`x"\)$/],
  ])('invalid plan %#', (names, message) => {
    expect(() => validatePlan(plan(names))).toThrow(message);
  });

  test('a managed user that is the admin user, the grant record\'s schema as a database, and a bad owner are refused before connecting', () => {
    const names = { monitor: 'mon_ok', app: 'app_ok', db: 'db_ok' };
    expect(() => validatePlan(plan(names), 'app_ok')).toThrow(
      /^users\[0\]: username must not be the admin user the bootstrap signs in as \(AdminSecretArn\): give this user its own secret with another user name, e\.g\. the backend's application user secret \(got "app_ok"\)$/);
    expect(() => validatePlan(plan(names), 'mon_ok')).toThrow(/^monitor: username must not be the admin user .* \(got "mon_ok"\)$/);
    expect(() => validatePlan(plan(names), 'someone_else')).not.toThrow();
    expect(() => validatePlan(plan({ ...names, db: 'CDK_proxysql' }))).toThrow(
      /^users\[0\] \(app_ok\): database must not be cdk_proxysql, which holds the bootstrap's grant record \(got "CDK_proxysql"\)$/);
    expect(() => validatePlan({ ...plan(names), owner: '' })).toThrow(/^owner must be 1 to 512 printable ASCII characters \(got ""\)$/);
  });

  test('unknown grants and an unknown monitor mode are refused before connecting', () => {
    const names = { monitor: 'mon_ok', app: 'app_ok', db: 'db_ok' };
    expect(() => validatePlan(plan(names, { grants: ['SELECT', 'SUPER'] }))).toThrow(/^users\[0\] \(app_ok\): grants must be database-level privileges .* \(got "SUPER"\)$/);
    expect(() => validatePlan(plan(names, { grants: [] }))).toThrow(/grants must list at least one privilege/);
    expect(() => validatePlan({ ...plan(names), monitor: { username: 'm', password: 'p', privileges: 'root' as never } })).toThrow(/^monitor: privileges must be one of basic, replication, aurora \(got "root"\)$/);
  });
});
