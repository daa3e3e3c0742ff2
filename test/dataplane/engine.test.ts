/**
 * The engine setting (`ProxySqlBackend.fromEndpoints({ engine })`) in front of the fixture's MariaDB
 * 10.11, through the real ProxySQL started from the synthesized task: with `ProxySqlEngine.mariaDb`,
 * Connector/J + HikariCP and mysql2 start and keep 4-byte utf8; with the MySQL 8.0 default they do not
 * (asserted, so docs/backends.md cannot drift).
 */
import * as mysql from 'mysql2/promise';
import { DataplaneStack, endpointsProxyStack, onWriter, pairServers, runBootstrap, secretValues } from './topology';
import { ProxySqlEngine } from '../../src';
import { connectorJMissing, startProbe } from '../fixtures/connectorj';
import { ReplicatedPair, startReplicatedPair } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, ProxySqlTask, startTask, TaskSecrets } from '../fixtures/proxysql-task';

const EMOJI = 'emoji \u{1F600} ok';
const EMOJI_HEX = Buffer.from(EMOJI, 'utf8').toString('hex').toUpperCase();
const cj = connectorJMissing();
// eslint-disable-next-line no-console
if (cj) console.log(`dataplane engine: ${cj}`);
const testCj = cj ? test.skip : test;

describeDataplane('dataplane: engine MariaDB (ProxySqlEngine.mariaDb) against the MySQL 8.0 default', () => {
  let pair: ReplicatedPair;
  let secrets: TaskSecrets;
  let app: Record<string, string>;
  let maria: ProxySqlTask;
  let mysql8: ProxySqlTask;

  beforeAll(async () => {
    pair = await startReplicatedPair();
    const stack = (engine?: ProxySqlEngine): DataplaneStack => endpointsProxyStack({ backend: engine ? { engine } : {} });
    const s = stack(ProxySqlEngine.mariaDb('10.11'));
    const sDefault = stack();
    secrets = secretValues(s, pair);
    app = secrets[s.ids.app];
    await runBootstrap(s, pair, secrets);
    // Both stacks name their secrets alike: the default one runs on the same users.
    [maria, mysql8] = await Promise.all([s, sDefault].map((x) => startTask({ template: x.template, secrets, servers: pairServers(pair) })));
    await onWriter(pair, app.dbname, ['CREATE TABLE utf8_probe (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)']);
  });

  afterAll(async () => {
    await disposeAllTasks();
    await pair?.destroy();
  });

  /** A mysql2 session (asking for `charset` in the handshake): its collation and charset, and an emoji's round trip. */
  async function mysql2Session(task: ProxySqlTask, charset?: string) {
    const c = await task.client(app.username, app.password, { database: app.dbname, ...(charset ? { charset } : {}) });
    try {
      const [[v]] = await c.query<mysql.RowDataPacket[]>('SELECT @@collation_connection AS coll, @@character_set_connection AS cs');
      let roundtrip: string;
      try {
        const [ok] = await c.query<mysql.ResultSetHeader>('INSERT INTO utf8_probe (s) VALUES (?)', [EMOJI]);
        const [[r]] = await c.query<mysql.RowDataPacket[]>('SELECT HEX(s) AS h FROM utf8_probe WHERE id = ? FOR UPDATE', [ok.insertId]);
        roundtrip = r.h;
      } catch (e) {
        roundtrip = `error: ${(e as Error).message}`;
      }
      return [v.coll, v.cs, roundtrip];
    } finally {
      await c.end();
    }
  }

  test('mysql2: its default (utf8mb4_unicode_ci) and a MySQL 8 client\'s utf8mb4_0900_ai_ci both keep 4-byte utf8', async () => {
    expect(await mysql2Session(maria)).toEqual(['utf8mb4_unicode_ci', 'utf8mb4', EMOJI_HEX]);
    // MariaDB has no utf8mb4_0900_ai_ci: ProxySQL gives the session the engine's default collation.
    expect(await mysql2Session(maria, 'UTF8MB4_0900_AI_CI')).toEqual(['utf8mb4_general_ci', 'utf8mb4', EMOJI_HEX]);
  });

  test('with the MySQL 8.0 default, utf8mb4_0900_ai_ci is lost (3-byte utf8 or latin1) and the emoji is refused or mangled (documented)', async () => {
    const [coll, cs, roundtrip] = await mysql2Session(mysql8, 'UTF8MB4_0900_AI_CI');
    // Which one depends on the pooled connection the session gets (both seen); never utf8mb4.
    expect([['utf8mb3_general_ci', 'utf8mb3'], ['latin1_swedish_ci', 'latin1']]).toContainEqual([coll, cs]);
    // utf8mb3 refuses the 4 bytes (Incorrect string value); latin1 stores them double-encoded.
    expect(roundtrip).not.toBe(EMOJI_HEX);
    expect(roundtrip).toMatch(cs === 'utf8mb3' ? /^error: Incorrect string value: '\\xF0\\x9F\\x98\\x80/ : /^656D6F6A6920C3B0C5B8/);
  });

  testCj('Connector/J + HikariCP: the pool starts, the session is utf8mb4, an emoji round-trips', async () => {
    const probe = await startProbe({ port: maria.trafficPort, user: app.username, password: app.password, database: app.dbname, poolSize: 10 });
    try {
      expect(probe.lines).toEqual(['pool 10', 'collation utf8mb4_general_ci utf8mb4', `roundtrip true ${EMOJI_HEX}`, 'READY']);
    } finally {
      expect(await probe.close()).toBe(0);
    }
  });

  testCj('with the MySQL 8.0 default, Connector/J fails its pool start (documented)', async () => {
    const probe = startProbe({
      port: mysql8.trafficPort, user: app.username, password: app.password, database: app.dbname, poolSize: 2, initFailTimeoutMs: 1,
    });
    await expect(probe)
      .rejects.toThrow(/Unknown system variable 'transaction_isolation'/);
  });
});
