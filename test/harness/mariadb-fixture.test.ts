import * as mysql from 'mysql2/promise';
import { mariadbAdmin, mariadbState, startReplicatedPair, uniqueName } from '../fixtures/mariadb';

describe('MariaDB fixture', () => {
  test('listens on 127.0.0.1 only, on its own port', () => {
    const state = mariadbState();
    expect(state.host).toBe('127.0.0.1');
    expect(state.port).toBeGreaterThan(1024);
    expect(() => process.kill(state.pid, 0)).not.toThrow();
  });

  test('a row written is read back over TCP', async () => {
    const db = uniqueName('harness');
    const conn = await mysql.createConnection({ ...mariadbAdmin() });
    try {
      await conn.query(`CREATE DATABASE \`${db}\``);
      await conn.query(`CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, note VARCHAR(64))`);
      await conn.execute(`INSERT INTO \`${db}\`.t VALUES (?, ?)`, [7, 'quote \' and backslash \\']);
      const [rows] = await conn.query(`SELECT id, note FROM \`${db}\`.t`);
      expect(rows).toEqual([{ id: 7, note: 'quote \' and backslash \\' }]);
      const [bind] = await conn.query('SELECT @@bind_address AS b');
      expect((bind as Array<{ b: string }>)[0].b).toBe('127.0.0.1');
    } finally {
      await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await conn.end();
    }
  });

  test('a wrong password is refused', async () => {
    await expect(mysql.createConnection({ ...mariadbAdmin(), password: 'not-the-password' }))
      .rejects.toThrow(/Access denied/);
  });
});

describe('replicated pair (primary + read-only replica, GTID)', () => {
  test('a write on the primary reaches the replica; the replica refuses a plain user\'s write; a swap promotes it', async () => {
    const pair = await startReplicatedPair();
    try {
      const user = { user: 'plain_user', password: 'Plain-Pw-1' };
      const primary = await mysql.createConnection({ host: pair.primary.host, port: pair.primary.port, ...pair.admin });
      await primary.query('CREATE DATABASE d');
      await primary.query('CREATE TABLE d.t (id INT PRIMARY KEY, sid INT)');
      await primary.query('INSERT INTO d.t VALUES (1, @@server_id)');
      await primary.query(`CREATE USER ${user.user}@'%' IDENTIFIED BY '${user.password}'`);
      await primary.query(`GRANT ALL ON d.* TO ${user.user}@'%'`);
      await primary.end();
      await pair.sync();

      const onReplica = await mysql.createConnection({ host: pair.replica.host, port: pair.replica.port, ...user });
      const [rows] = await onReplica.query('SELECT id, sid, @@server_id AS here, @@read_only AS ro FROM d.t');
      expect(rows).toEqual([{ id: 1, sid: 1, here: 2, ro: 1 }]);
      await expect(onReplica.query('INSERT INTO d.t VALUES (2, @@server_id)')).rejects.toThrow(/read-only/);
      await onReplica.end();

      await pair.swapRoles();
      expect(pair.writer()).toBe(pair.replica);
      const promoted = await mysql.createConnection({ host: pair.replica.host, port: pair.replica.port, ...user });
      await promoted.query('INSERT INTO d.t VALUES (2, @@server_id)');
      await promoted.end();
      await pair.sync();
      const demoted = await mysql.createConnection({ host: pair.primary.host, port: pair.primary.port, ...user });
      const [after] = await demoted.query('SELECT id, sid, @@read_only AS ro FROM d.t ORDER BY id');
      expect(after).toEqual([{ id: 1, sid: 1, ro: 1 }, { id: 2, sid: 2, ro: 1 }]);
      await demoted.end();
    } finally {
      await pair.destroy();
    }
  });
});
