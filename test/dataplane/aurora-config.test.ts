/**
 * The reference topology's configuration (Aurora discovery) loads in the real ProxySQL: the
 * `mysql_aws_aurora_hostgroups` row is active at runtime and nothing was dropped on the way
 * (no `SQLITE error`). Discovery itself needs Aurora and cannot run here.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AuroraBackend, ProxySqlFargate } from '../../src';
import { CfnValue } from '../fixtures/cfn-eval';
import { MariaDbServer } from '../fixtures/mariadb';
import { describeDataplane } from '../fixtures/proxysql-binary';
import { disposeAllTasks, startTask, TaskSecrets } from '../fixtures/proxysql-task';

describeDataplane('dataplane: the default Aurora configuration', () => {
  let server: MariaDbServer;

  beforeAll(async () => {
    server = await MariaDbServer.start();
  });

  afterAll(async () => {
    await disposeAllTasks();
    await server?.destroy();
  });

  test('starts with its aurora hostgroups row active and no SQLITE error', async () => {
    const stack = new Stack(new App(), 'Reference');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const db = new AuroraBackend(stack, 'Db', { vpc });
    new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db });
    const template = Template.fromStack(stack).toJSON() as Record<string, CfnValue>;

    // Deploy-time values of the cluster's and instances' endpoints, as CloudFormation would give them.
    const resources = template.Resources as Record<string, { Type: string }>;
    const resolve: Record<string, string> = {};
    const servers: Record<string, { host: string; port: number }> = {};
    const secrets: TaskSecrets = {};
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::RDS::DBCluster') {
        resolve[`${id}.Endpoint.Address`] = `${id.toLowerCase()}.cluster-abcdefghijkl.us-east-1.rds.amazonaws.com`;
        resolve[`${id}.Endpoint.Port`] = '3306';
        resolve[`${id}.ReadEndpoint.Address`] = `${id.toLowerCase()}.cluster-ro-abcdefghijkl.us-east-1.rds.amazonaws.com`;
      }
      if (r.Type === 'AWS::RDS::DBInstance') {
        const host = `${id.toLowerCase()}.abcdefghijkl.us-east-1.rds.amazonaws.com`;
        resolve[`${id}.Endpoint.Address`] = host;
        resolve[`${id}.Endpoint.Port`] = '3306';
        resolve[id] = id.toLowerCase();
        servers[host] = { host: server.host, port: server.port };
      }
      if (r.Type === 'AWS::SecretsManager::Secret') secrets[id] = { username: `u_${id.slice(0, 20)}`, password: `P${id}` };
    }
    expect(Object.keys(servers).length).toBeGreaterThanOrEqual(2);

    const task = await startTask({ template, secrets, servers, resolve });
    const rows = await task.admin<Array<Record<string, string>>>(
      'SELECT writer_hostgroup, reader_hostgroup, active, domain_name, max_lag_ms, check_interval_ms, writer_is_also_reader FROM runtime_mysql_aws_aurora_hostgroups');
    expect(rows).toEqual([expect.objectContaining({
      writer_hostgroup: '10',
      reader_hostgroup: '20',
      active: '1',
      domain_name: '.abcdefghijkl.us-east-1.rds.amazonaws.com',
    })]);
    const serverRows = await task.admin<Array<{ hostgroup_id: string; hostname: string }>>('SELECT hostgroup_id, hostname FROM runtime_mysql_servers ORDER BY hostgroup_id');
    expect(serverRows.length).toBeGreaterThanOrEqual(1);
    const users = await task.admin<Array<{ n: string }>>('SELECT COUNT(DISTINCT username) AS n FROM runtime_mysql_users');
    expect(Number(users[0].n)).toBe(1);
    expect(task.log()).not.toMatch(/SQLITE error/i);
  });
});
