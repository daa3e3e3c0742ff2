import * as mysql from 'mysql2/promise';
import { mariadbAdmin, mariadbState, uniqueName } from '../fixtures/mariadb';

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
