import { App, Fn, Stack, Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ProxySqlConfiguration, ProxySqlConfigurationProps } from '../../src/config/configuration';
import { ProxySqlConfigOptions } from '../../src/config/options';
import { QueryRuleOptions, QueryRules, RuleDestination } from '../../src/config/query-rules';
import { BackendTopology, ReplicationCheck } from '../../src/config/topology';
import { ProxySqlUser } from '../../src/config/users';
import { CONNECTOR_J_MARIADB, CONNECTOR_J_MYSQL8, OTHERS, SQLALCHEMY } from '../fixtures/connect-statements';
import { LibconfigValue, parseLibconfig } from '../fixtures/libconfig';

type Row = { [k: string]: LibconfigValue };

function setup() {
  const stack = new Stack(new App(), 'S');
  return {
    stack,
    admin: new secretsmanager.Secret(stack, 'Admin'),
    monitor: new secretsmanager.Secret(stack, 'Monitor'),
    app: new secretsmanager.Secret(stack, 'App'),
  };
}

const PLAIN: BackendTopology = { writer: { host: 'db.example.internal', port: 3307 } };

function make(options: ProxySqlConfigOptions = {}, topology: BackendTopology = PLAIN, extra: Partial<ProxySqlConfigurationProps> = {}) {
  const s = setup();
  return new ProxySqlConfiguration({
    options, topology, adminSecret: s.admin, monitorSecret: s.monitor, defaultUsers: [s.app], vcpus: 2, memoryMiB: 4096, ...extra,
  });
}

function parsed(config: ProxySqlConfiguration) {
  return parseLibconfig(config.render().template);
}

describe('rendering per backend kind', () => {
  test('Aurora discovery: aurora table, writer only in the writer hostgroup, readers seeded in the reader hostgroup', () => {
    const s = setup();
    const config = new ProxySqlConfiguration({
      options: { readsFallBackToWriter: false },
      topology: {
        writer: { host: 'db-1.cluster-x.eu-west-1.rds.amazonaws.com', useSsl: true },
        readers: [{ host: 'db-2.cluster-x.eu-west-1.rds.amazonaws.com', weight: 2, maxConnections: 300 }],
        auroraDiscovery: { domainName: '.cluster-x.eu-west-1.rds.amazonaws.com', maxLagMs: 2000, lagNumChecks: 3 },
        serverVersion: '8.0.36',
      },
      adminSecret: s.admin,
      monitorSecret: s.monitor,
      defaultUsers: [s.app],
      vcpus: 0.5,
      memoryMiB: 1024,
    });
    const cfg = parseLibconfig(config.render().template);
    expect(cfg.mysql_servers).toEqual([
      { hostgroup_id: 10, hostname: 'db-1.cluster-x.eu-west-1.rds.amazonaws.com', port: 3306, weight: 1, max_connections: 1000, max_replication_lag: 0, use_ssl: 1 },
      { hostgroup_id: 20, hostname: 'db-2.cluster-x.eu-west-1.rds.amazonaws.com', port: 3306, weight: 2, max_connections: 300, max_replication_lag: 0, use_ssl: 0 },
    ]);
    expect(cfg.mysql_aws_aurora_hostgroups).toEqual([{
      writer_hostgroup: 10,
      reader_hostgroup: 20,
      active: 1,
      aurora_port: 3306,
      domain_name: '.cluster-x.eu-west-1.rds.amazonaws.com',
      max_lag_ms: 2000,
      check_interval_ms: 1000,
      check_timeout_ms: 800,
      writer_is_also_reader: 0,
      new_reader_weight: 1,
      add_lag_ms: 30,
      min_lag_ms: 30,
      lag_num_checks: 3,
      comment: 'cdk-proxysql aurora discovery',
    }]);
    expect(cfg.mysql_replication_hostgroups).toBeUndefined();
    const mv = cfg.mysql_variables as Row;
    expect(mv).toMatchObject({ threads: 1, max_connections: 3072, server_version: '8.0.36', have_ssl: true, interfaces: '0.0.0.0:6033' });
    expect((cfg.mysql_query_rules as Row[]).map(r => r.destination_hostgroup)).toContain(20);
  });

  test('replication check with readers: replication table, writer not also reader, users and admin', () => {
    const s = setup();
    const config = new ProxySqlConfiguration({
      options: {
        readsFallBackToWriter: false,
        users: [ProxySqlUser.fromSecret(s.app, { maxConnections: 500, defaultSchema: 'demo' }),
          ProxySqlUser.fromSecret(new secretsmanager.Secret(s.stack, 'Etl'), { transactionPersistent: false, fastForward: true, useSsl: true, defaultHostgroup: 20 })],
        restApi: true,
        rawMysqlVariables: { default_query_timeout: '60000', ping_interval_server_msec: '5000' },
        rawAdminVariables: { stats_credentials: 'stats:not-default' },
      },
      topology: { writer: { host: 'primary.example' }, readers: [{ host: 'replica-1.example' }, { host: 'replica-2.example' }], replicationCheck: ReplicationCheck.READ_ONLY_OR_INNODB_READ_ONLY },
      adminSecret: s.admin,
      monitorSecret: s.monitor,
      vcpus: 4,
      memoryMiB: 8192,
    });
    const r = config.render();
    const cfg = parseLibconfig(r.template);
    expect(cfg.mysql_replication_hostgroups).toEqual([{ writer_hostgroup: 10, reader_hostgroup: 20, check_type: 'read_only|innodb_read_only', comment: 'cdk-proxysql read_only check' }]);
    expect((cfg.mysql_servers as Row[]).map(x => [x.hostgroup_id, x.hostname])).toEqual([[10, 'primary.example'], [20, 'replica-1.example'], [20, 'replica-2.example']]);
    // Replicas take no reads while more than maxReplicationLag (30 s) behind; the writer carries the
    // limit too, so it applies to whichever server a failover makes a replica.
    expect((cfg.mysql_servers as Row[]).map(x => x.max_replication_lag)).toEqual([30, 30, 30]);
    expect(cfg.mysql_users).toEqual([
      {
        username: '%{PROXYSQL_SECRET_USER_0_USERNAME:sq}',
        password: '%{PROXYSQL_SECRET_USER_0_PASSWORD:sq}',
        active: 1,
        default_hostgroup: 10,
        transaction_persistent: 1,
        fast_forward: 0,
        use_ssl: 0,
        max_connections: 500,
        default_schema: 'demo',
        comment: 'cdk-proxysql:user0',
      },
      {
        username: '%{PROXYSQL_SECRET_USER_1_USERNAME:sq}',
        password: '%{PROXYSQL_SECRET_USER_1_PASSWORD:sq}',
        active: 1,
        default_hostgroup: 20,
        transaction_persistent: 0,
        fast_forward: 1,
        use_ssl: 1,
        max_connections: 10000,
        comment: 'cdk-proxysql:user1',
      },
    ]);
    expect(cfg.admin_variables).toEqual({
      admin_credentials: '%{PROXYSQL_SECRET_ADMIN_USERNAME:adm}:%{PROXYSQL_SECRET_ADMIN_PASSWORD:adm}',
      mysql_ifaces: '127.0.0.1:6032',
      restapi_enabled: true,
      restapi_port: 6070,
      web_enabled: false,
      stats_credentials: 'stats:not-default',
    });
    expect(cfg.mysql_variables).toEqual({
      monitor_username: '%{PROXYSQL_SECRET_MONITOR_USERNAME:dq}',
      monitor_password: '%{PROXYSQL_SECRET_MONITOR_PASSWORD:dq}',
      threads: 4,
      max_connections: 31744,
      interfaces: '0.0.0.0:6033',
      server_version: '8.0.39',
      have_ssl: true,
      connection_max_age_ms: 300000,
      wait_timeout: 1800000,
      connect_timeout_server_max: 30000,
      monitor_enabled: true,
      monitor_connect_interval: 60000,
      monitor_ping_interval: 10000,
      monitor_read_only_interval: 1000,
      monitor_read_only_timeout: 800,
      monitor_writer_is_also_reader: false,
      monitor_replication_lag_interval: 1000,
      monitor_slave_lag_when_null: 0,
      set_query_lock_on_hostgroup: 0,
      auto_increment_delay_multiplex: 0,
      keep_multiplexing_variables: expect.stringMatching(/^tx_isolation,transaction_isolation,version,/),
      shun_recovery_time_sec: 2,
      log_unhealthy_connections: false,
      query_processor_regex: 2,
      show_processlist_extended: 1,
      default_query_timeout: '60000',
      ping_interval_server_msec: '5000',
    });
    expect(r.restApiPort).toBe(6070);
    expect(Object.entries(r.secretEnvironment).map(([k, v]) => [k, v.field])).toEqual([
      ['PROXYSQL_SECRET_ADMIN_USERNAME', 'username'], ['PROXYSQL_SECRET_ADMIN_PASSWORD', 'password'],
      ['PROXYSQL_SECRET_MONITOR_USERNAME', 'username'], ['PROXYSQL_SECRET_MONITOR_PASSWORD', 'password'],
      ['PROXYSQL_SECRET_USER_0_USERNAME', 'username'], ['PROXYSQL_SECRET_USER_0_PASSWORD', 'password'],
      ['PROXYSQL_SECRET_USER_1_USERNAME', 'username'], ['PROXYSQL_SECRET_USER_1_PASSWORD', 'password'],
    ]);
    expect(r.secretEnvironment.PROXYSQL_SECRET_ADMIN_PASSWORD.secret).toBe(s.admin);
    expect(config.userSecrets).toHaveLength(2);
  });

  test('plain writer only: no discovery table, read rules dropped so reads stay on the writer', () => {
    const cfg = parsed(make({
      writerHostgroup: 1,
      readerHostgroup: 2,
      trafficPort: 3306,
      adminPort: 6100,
      frontendTls: false,
      workerThreads: 8,
      maxClientConnections: 1000,
      connectionMaxAgeMs: 0,
    }));
    expect(cfg.mysql_servers).toEqual([{ hostgroup_id: 1, hostname: 'db.example.internal', port: 3307, weight: 1, max_connections: 1000, max_replication_lag: 0, use_ssl: 0 }]);
    expect(cfg.mysql_aws_aurora_hostgroups).toBeUndefined();
    expect(cfg.mysql_replication_hostgroups).toBeUndefined();
    const rules = cfg.mysql_query_rules as Row[];
    expect(rules.every(r => r.destination_hostgroup === 1)).toBe(true);
    expect(rules.map(r => r.comment)).not.toContain('rw-split: plain read');
    expect(cfg.mysql_variables).toMatchObject({ threads: 8, max_connections: 1000, interfaces: '0.0.0.0:3306', have_ssl: false, connection_max_age_ms: 0 });
    expect((cfg.admin_variables as Row).mysql_ifaces).toBe('127.0.0.1:6100');
    expect((cfg.mysql_users as Row[])[0].default_hostgroup).toBe(1);
  });

  test('tokens are embedded untouched and not validated', () => {
    const host = Fn.getAtt('Db', 'Endpoint.Address').toString();
    const domain = Fn.join('', ['.', Fn.getAtt('Db', 'Suffix').toString()]);
    const r = make({}, { writer: { host }, auroraDiscovery: { domainName: domain } }).render();
    expect(Token.isUnresolved(host)).toBe(true);
    expect(r.template).toContain(`hostname="${host}"`);
    expect(r.template).toContain(`domain_name="${domain}"`);
    const resolved = Stack.of(setup().stack).resolve(r.template);
    expect(JSON.stringify(resolved)).toContain('Fn::Join');
  });

  test('no default stats:stats user; raw variables replace defaults without duplicating a setting', () => {
    const plain = parsed(make());
    expect((plain.admin_variables as Row).stats_credentials)
      .toBe('%{PROXYSQL_SECRET_ADMIN_USERNAME:adm}_stats:%{PROXYSQL_SECRET_ADMIN_PASSWORD:adm}');
    const raw = parsed(make({ rawAdminVariables: { web_enabled: 'true' }, rawMysqlVariables: { monitor_enabled: 'false' } }));
    expect((raw.admin_variables as Row).web_enabled).toBe('true');
    expect((raw.mysql_variables as Row).monitor_enabled).toBe('false');
  });

  test('NLB TCP probes stay out of the log: log_unhealthy_connections is off, and a raw variable can turn it back on', () => {
    expect((parsed(make()).mysql_variables as Row).log_unhealthy_connections).toBe(false);
    const raw = parsed(make({ rawMysqlVariables: { log_unhealthy_connections: 'true' } })).mysql_variables as Row;
    expect(raw.log_unhealthy_connections).toBe('true');
  });

  test('after an INSERT the writer connection goes back to the pool at once (auto_increment_delay_multiplex 0); a raw variable restores ProxySQL\'s hold', () => {
    expect((parsed(make()).mysql_variables as Row).auto_increment_delay_multiplex).toBe(0);
    const raw = parsed(make({ rawMysqlVariables: { auto_increment_delay_multiplex: '5' } })).mysql_variables as Row;
    expect(raw.auto_increment_delay_multiplex).toBe('5');
  });

  /**
   * Whether ProxySQL 2.7 keeps multiplexing after `select` (lib/mysql_connection.cpp,
   * IsKeepMultiplexEnabledVariables, re-stated): a SELECT whose every item, after `@@session.`,
   * `@@local.` and `@@` are dropped and cut at the first space, starts with a listed name.
   */
  function keepsMultiplexing(list: string, select: string): boolean {
    const digest = select.replace(/,\s+/g, ',');
    if (!/^SELECT /i.test(digest)) return false;
    const items = digest.slice(7).replace(/@@session\./gi, '').replace(/@@local\./gi, '').replace(/@@/g, '').split(',');
    const names = list.split(/[ ,]+/).filter((n) => n);
    return items.every((item) => names.some((n) => item.trimStart().split(' ')[0].toLowerCase().startsWith(n.toLowerCase())));
  }

  test('no statement a popular driver sends on every connection pins a backend connection (keep_multiplexing_variables)', () => {
    const list = String((parsed(make()).mysql_variables as Row).keep_multiplexing_variables);
    // ProxySQL's own default stays in.
    expect(list.split(',').slice(0, 3)).toEqual(['tx_isolation', 'transaction_isolation', 'version']);
    const reads = [CONNECTOR_J_MYSQL8, ...CONNECTOR_J_MARIADB, ...SQLALCHEMY, ...OTHERS].filter((q) => /@@/.test(q));
    expect(reads.length).toBeGreaterThanOrEqual(10);
    for (const q of reads) expect([q, keepsMultiplexing(list, q)]).toEqual([q, true]);
    // ProxySQL's own list alone pins Connector/J's connect query; a variable not listed still pins.
    expect(keepsMultiplexing('tx_isolation,transaction_isolation,version', CONNECTOR_J_MYSQL8)).toBe(false);
    expect(keepsMultiplexing(list, 'SELECT @@sql_safe_updates')).toBe(false);
    const raw = parsed(make({ rawMysqlVariables: { keep_multiplexing_variables: 'version' } })).mysql_variables as Row;
    expect(raw.keep_multiplexing_variables).toBe('version');
  });

  test('sizing defaults follow task size, with bounds', () => {
    const at = (vcpus: number, memoryMiB: number) => parsed(make({}, PLAIN, { vcpus, memoryMiB })).mysql_variables as Row;
    expect(at(0.25, 512)).toMatchObject({ threads: 1, max_connections: 1024 });
    expect(at(16, 122880)).toMatchObject({ threads: 16, max_connections: 100000 });
    expect(at(1, 300)).toMatchObject({ max_connections: 256 });
  });

  test('the template holds no secret values and names no secret ARN', () => {
    const r = make().render();
    expect(r.template).not.toMatch(/arn:|SecretString|resolve:secretsmanager/);
    expect(r.environment.PROXYSQL_CONFIG_TEMPLATE).toBe(r.template);
  });
});

describe('validation', () => {
  const s = () => setup();
  const rule = (r: Partial<QueryRuleOptions>) => ({ queryRules: QueryRules.readWriteSplit({ before: [{ match: '^SELECT', ...r }] }) });
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['reader == writer hostgroup', () => make({ writerHostgroup: 5, readerHostgroup: 5 }), /ProxySqlFargate: readerHostgroup must differ from writerHostgroup \(got 5\)/],
    ['negative hostgroup', () => make({ writerHostgroup: -1 }), /writerHostgroup must be an integer from 0 to 2147483647 \(got -1\)/],
    ['traffic port range', () => make({ trafficPort: 70000 }), /trafficPort must be an integer from 1 to 65535 \(got 70000\)/],
    ['admin port == traffic port', () => make({ adminPort: 6033 }), /adminPort must differ from trafficPort \(got 6033\)/],
    ['rest api port clash', () => make({ restApi: true, restApiPort: 6032 }), /restApiPort must differ from trafficPort and adminPort \(got 6032\)/],
    ['worker threads', () => make({ workerThreads: 0 }), /workerThreads must be an integer from 1 to 256 \(got 0\)/],
    ['client connections', () => make({ maxClientConnections: 1.5 }), /maxClientConnections must be an integer/],
    ['connection max age', () => make({ connectionMaxAgeMs: -5 }), /connectionMaxAgeMs must be an integer from 0/],
    ['monitor interval', () => make({ monitorPingIntervalMs: 10 }), /monitorPingIntervalMs must be an integer from 100/],
    ['monitor connect interval', () => make({ monitorConnectIntervalMs: 10 }), /monitorConnectIntervalMs must be/],
    ['read_only interval', () => make({ monitorReadOnlyIntervalMs: 10 }), /monitorReadOnlyIntervalMs must be/],
    ['read_only timeout', () => make({ monitorReadOnlyTimeoutMs: 10 }), /monitorReadOnlyTimeoutMs must be/],
    ['cpu', () => make({}, PLAIN, { vcpus: 0 }), /cpu must be positive \(got 0\)/],
    ['memory', () => make({}, PLAIN, { memoryMiB: -1 }), /memoryLimitMiB must be positive/],
    ['empty writer host', () => make({}, { writer: { host: ' ' } }), /topology.writer.host must not be empty/],
    ['quote in host', () => make({}, { writer: { host: 'a"b' } }), /topology.writer.host must not contain "/],
    ['bracketed IPv6 host with a port', () => make({}, { writer: { host: '[2001:db8::10]:3306' } }),
      /topology.writer.host must be a bare host name or IP address \(no brackets, port, scheme or spaces; the port goes in port\) \(got "\[2001:db8::10\]:3306"\)/],
    ['host with a port', () => make({}, { writer: { host: 'w' }, readers: [{ host: 'replica:3306' }] }), /topology.readers\[0\].host must be a bare host name or IP address/],
    ['reader port', () => make({}, { writer: { host: 'w' }, readers: [{ host: 'r', port: 0 }] }), /topology.readers\[0\].port must be an integer from 1 to 65535 \(got 0\)/],
    ['server weight', () => make({}, { writer: { host: 'w', weight: -1 } }), /topology.writer.weight must be/],
    ['server max connections', () => make({}, { writer: { host: 'w', maxConnections: 20000 } }), /topology.writer.maxConnections must be an integer from 0 to 10000/],
    ['server version', () => make({}, { writer: { host: 'w' }, serverVersion: 'latest' }), /topology.serverVersion must start with a version/],
    ['server version quote', () => make({}, { writer: { host: 'w' }, serverVersion: '8.0.1"' }), /topology.serverVersion must not contain "/],
    ['default charset quote', () => make({}, { writer: { host: 'w' }, defaultCharset: 'utf8mb4"' }), /topology.defaultCharset must not contain "/],
    ['default collation quote', () => make({}, { writer: { host: 'w' }, defaultCollation: 'utf8mb4_general_ci"' }), /topology.defaultCollation must not contain "/],
    ['aurora domain dot', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: 'cluster-x.rds.amazonaws.com' } }), /auroraDiscovery.domainName must start with "."/],
    ['aurora lag', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', maxLagMs: 5 } }), /auroraDiscovery.maxLagMs must be an integer from 10 to 600000 \(got 5\)/],
    ['aurora interval', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', checkIntervalMs: 50 } }), /checkIntervalMs must be an integer from 100/],
    ['aurora timeout', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', checkTimeoutMs: 5000 } }), /checkTimeoutMs must be an integer from 80 to 3000/],
    ['aurora timeout >= interval', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', checkTimeoutMs: 900, checkIntervalMs: 500 } }), /checkTimeoutMs must be less than checkIntervalMs/],
    ['aurora lag checks', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', lagNumChecks: 17 } }), /lagNumChecks must be an integer from 1 to 16/],
    ['aurora port', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', port: 0 } }), /auroraDiscovery.port must be/],
    ['aurora reader weight', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', newReaderWeight: -1 } }), /newReaderWeight must be/],
    ['aurora add lag', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', addLagMs: -1 } }), /addLagMs must be/],
    ['aurora min lag', () => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', minLagMs: -1 } }), /minLagMs must be/],
    ['no users', () => make({}, PLAIN, { defaultUsers: [] }), /users must name at least one user/],
    ['duplicate users', () => { const x = s(); return make({ users: [ProxySqlUser.fromSecret(x.app), ProxySqlUser.fromSecret(x.app)] }); }, /users\[1\] uses the same secret as users\[0\]: usernames must be unique/],
    ['admin secret as user', () => { const x = s(); return make({ users: [ProxySqlUser.fromSecret(x.admin)] }, PLAIN, { adminSecret: x.admin }); }, /users must not include the admin or monitor secret/],
    ['user max connections', () => make({ users: [ProxySqlUser.fromSecret(s().app, { maxConnections: 0 })] }), /users\[0\].maxConnections must be an integer from 1/],
    ['user default hostgroup', () => make({ users: [ProxySqlUser.fromSecret(s().app, { defaultHostgroup: 99 })] }), /users\[0\].defaultHostgroup must be the writer \(10\) or reader \(20\) hostgroup \(got 99\)/],
    ['user schema quote', () => make({ users: [ProxySqlUser.fromSecret(s().app, { defaultSchema: "o'neil" })] }), /users\[0\].defaultSchema must not contain '/],
    ['lookbehind', () => make(rule({ match: '(?<!@)@\\w+', comment: 'user vars' })), /queryRules.before\[0\] \("user vars"\).match uses a negative lookbehind \(\?<!...\), which ProxySQL's regex engine \(RE2\) does not support \(got "\(\?<!@\)@\\\\w\+"\)/],
    ['backreference', () => make(rule({ match: '(a)\\1' })), /queryRules.before\[0\].match uses a backreference/],
    ['empty match', () => make(rule({ match: '' })), /queryRules.before\[0\].match must not be empty/],
    ['double quote in match', () => make(rule({ match: 'a"b' })), /queryRules.before\[0\].match must not contain "/],
    ['double quote in comment', () => make(rule({ comment: 'say "hi"' })), /comment must not contain "/],
    ['placeholder in comment', () => make(rule({ comment: '%{PROXYSQL_SECRET_X:sq}' })), /must not contain "%\{PROXYSQL_SECRET_"/],
    ['control char', () => make(rule({ comment: 'a\nb' })), /comment must not contain control characters/],
    ['unknown hostgroup', () => make(rule({ destination: RuleDestination.hostgroup(30) })), /queryRules.before\[0\].destination must be a known hostgroup: writer 10 or readers 20 \(got 30\)/],
    ['unknown mirror', () => make(rule({ mirror: RuleDestination.hostgroup(31) })), /queryRules.before\[0\].mirror must be a known hostgroup/],
    ['readers without readers', () => make(rule({ destination: RuleDestination.READERS })), /queryRules.before\[0\].destination sends queries to the readers, but the backend has no readers/],
    ['cache ttl', () => make(rule({ cacheTtlMs: -1 })), /cacheTtlMs must be an integer from 0/],
    ['timeout', () => make(rule({ timeoutMs: 0.5 })), /timeoutMs must be an integer/],
    ['raw typed variable', () => make({ rawMysqlVariables: { threads: '4' } }), /rawMysqlVariables.threads is set by workerThreads; use that instead \(got "4"\)/],
    ['raw monitor password', () => make({ rawMysqlVariables: { monitor_password: 'x' } }), /rawMysqlVariables.monitor_password is set by the monitor secret/],
    ['raw regex engine', () => make({ rawMysqlVariables: { query_processor_regex: '1' } }),
      /rawMysqlVariables.query_processor_regex cannot be overridden: query rules are checked at synth against RE2, the engine this value \(2\) selects \(got "1"\)/],
    ['raw processlist extended', () => make({ rawMysqlVariables: { show_processlist_extended: '0' } }), /rawMysqlVariables.show_processlist_extended cannot be overridden: the stop handler reads open transactions from the processlist's extended_info \(got "0"\)/],
    ['raw prefixed name', () => make({ rawMysqlVariables: { 'mysql-threads': '4' } }), /rawMysqlVariables.mysql-threads must be a variable name without its prefix/],
    ['raw quote', () => make({ rawMysqlVariables: { init_connect: 'SET NAMES "utf8mb4"' } }), /rawMysqlVariables.init_connect must not contain "/],
    ['raw admin credentials', () => make({ rawAdminVariables: { admin_credentials: 'admin:admin' } }), /rawAdminVariables.admin_credentials is set by the admin secret/],
    ['admin listen address', () => make({}, PLAIN, { adminListenAddress: '0.0.0.0"' }), /adminListenAddress must not contain "/],
  ];
  test.each(cases)('%s', (_name, fn, message) => {
    expect(fn).toThrow(message);
  });

  test('bare IPv6 hosts are accepted', () => {
    expect(() => make({}, { writer: { host: '2001:db8::10' }, readers: [{ host: '::1' }] })).not.toThrow();
  });

  test('context prefixes every message', () => {
    expect(() => make({ workerThreads: 0 }, PLAIN, { context: 'MyProxy' })).toThrow(/^MyProxy: workerThreads/);
  });

  test('hostgroup ids given as tokens are refused by name: they are compared at synth time', () => {
    const hg = Token.asNumber(Fn.ref('Hostgroup'));
    const app = () => s().app;
    expect(() => make({ users: [ProxySqlUser.fromSecret(app(), { defaultHostgroup: hg })] }))
      .toThrow(/^ProxySqlFargate: users\[0\].defaultHostgroup must be a concrete number, not a token: hostgroup ids are compared at synth time .* \(got a token\)$/);
    expect(() => make(rule({ destination: RuleDestination.hostgroup(hg) })))
      .toThrow(/^ProxySqlFargate: queryRules.before\[0\].destination \(RuleDestination.hostgroup\) must be a concrete number, not a token/);
    expect(() => make(rule({ mirror: RuleDestination.hostgroup(hg) })))
      .toThrow(/^ProxySqlFargate: queryRules.before\[0\].mirror \(RuleDestination.hostgroup\) must be a concrete number, not a token/);
    expect(() => make({ writerHostgroup: hg })).toThrow(/^ProxySqlFargate: writerHostgroup must be a concrete number, not a token/);
    expect(() => make({ readerHostgroup: hg })).toThrow(/^ProxySqlFargate: readerHostgroup must be a concrete number, not a token/);
  });

  test('task sizes given as tokens are refused unless the values derived from them are given', () => {
    const cpu = Token.asNumber(Fn.ref('Cpu'));
    const memory = Token.asNumber(Fn.ref('Memory'));
    expect(() => make({}, PLAIN, { vcpus: cpu })).toThrow(/^ProxySqlFargate: cpu may be a token only when workerThreads is given/);
    expect(() => make({}, PLAIN, { memoryMiB: memory })).toThrow(/^ProxySqlFargate: memoryLimitMiB may be a token only when maxClientConnections is given/);
    const cfg = parsed(make({ workerThreads: 3, maxClientConnections: 500 }, PLAIN, { vcpus: cpu, memoryMiB: memory }));
    expect(cfg.mysql_variables).toMatchObject({ threads: 3, max_connections: 500 });
  });

  test('an Aurora check interval given as a token is not compared with a concrete timeout', () => {
    const interval = Token.asNumber(Fn.ref('Interval'));
    expect(() => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', checkIntervalMs: interval, checkTimeoutMs: 800 } })).not.toThrow();
    expect(() => make({}, { writer: { host: 'w' }, auroraDiscovery: { domainName: '.x', checkIntervalMs: 1000, checkTimeoutMs: interval } })).not.toThrow();
  });

  test('unresolved numbers and strings are not validated', () => {
    const st = setup().stack;
    const port = Token.asNumber(Fn.ref('Port'));
    expect(() => make({ trafficPort: port }, { writer: { host: Fn.ref('Host') }, auroraDiscovery: { domainName: Fn.ref('Domain') } })).not.toThrow();
    expect(st).toBeDefined();
  });
});

/** The configuration rendered with a connection budget per row (and the shares for 1, 2, … tasks), parsed. */
function renderWithBudget(topology: BackendTopology, options: ProxySqlConfigOptions, serverMaxConnections: number, fleetShares?: number[]) {
  const s = setup();
  const template = new ProxySqlConfiguration({
    options,
    topology,
    adminSecret: s.admin,
    monitorSecret: s.monitor,
    defaultUsers: [s.app],
    vcpus: 1,
    memoryMiB: 2048,
    serverMaxConnections,
    fleetShares,
  }).render().template;
  return { template, cfg: parseLibconfig(template) };
}

describe('reads fall back to the writer (readsFallBackToWriter, the default)', () => {
  const render = (topology: BackendTopology, options: ProxySqlConfigOptions = {}, serverMaxConnections = 40) =>
    renderWithBudget(topology, options, serverMaxConnections);
  const replication: BackendTopology = {
    writer: { host: 'primary.example' }, readers: [{ host: 'replica-1.example' }, { host: 'replica-2.example' }], replicationCheck: ReplicationCheck.READ_ONLY,
  };

  test('read replicas: the writer is also a reader with weight 1 and a quarter of its budget; readers weigh 1000 and keep the whole budget', () => {
    const { template, cfg } = render(replication);
    expect((cfg.mysql_servers as Row[]).map((r) => [r.hostgroup_id, r.hostname, r.weight, r.max_connections])).toEqual([
      [10, 'primary.example', 1, 30],
      [20, 'primary.example', 1, 10],
      [20, 'replica-1.example', 1000, 40],
      [20, 'replica-2.example', 1000, 40],
    ]);
    // ProxySQL keeps the writer in the reader hostgroup; the start script moves the weights after a failover.
    expect((cfg.mysql_variables as Row).monitor_writer_is_also_reader).toBe(true);
    expect(template).toContain('# cdk-proxysql server_shares=10,20,1000,40:10\n');
  });

  test('Aurora discovery: the discovered writer is also a reader; discovered readers get weight 1000 after start', () => {
    const { template, cfg } = render({
      writer: { host: 'db-1.x.example', useSsl: true }, readers: [{ host: 'db-2.x.example', useSsl: true }], auroraDiscovery: { domainName: '.x.example' },
    });
    expect(cfg.mysql_aws_aurora_hostgroups).toEqual([expect.objectContaining({ writer_is_also_reader: 1, new_reader_weight: 1000 })]);
    expect((cfg.mysql_variables as Row).monitor_writer_is_also_reader).toBe(false);
    expect(template).toContain('VALUES (10, \'{"max_connections":40,"use_ssl":1}\'), (20, \'{"weight":1000,"max_connections":40,"use_ssl":1}\')');
    expect(template).toContain('# cdk-proxysql server_shares=10,20,1000,40:10\n');
  });

  test.each([
    ['turned off', replication, { readsFallBackToWriter: false }],
    ['the writer already takes reads (writerIsAlsoReader)', replication, { writerIsAlsoReader: true }],
    ['no readers', { writer: { host: 'primary.example' }, replicationCheck: ReplicationCheck.READ_ONLY }, {}],
  ] as Array<[string, BackendTopology, ProxySqlConfigOptions]>)('none when %s', (_label, topology, options) => {
    const { template, cfg } = render(topology, options);
    expect(template).not.toContain('server_shares');
    expect((cfg.mysql_servers as Row[]).filter((r) => r.hostname === 'primary.example').map((r) => r.hostgroup_id)).toEqual([10]);
  });

  test('a budget of one connection per server cannot be split: refused, naming the ways out', () => {
    expect(() => render(replication, {}, 1)).toThrow(/readsFallBackToWriter needs a connection budget of at least 2 per server .*or set readsFallBackToWriter: false \(got 1\)/);
  });
});

describe('the budget for the tasks that run (fleetShares)', () => {
  const render = (topology: BackendTopology, options: ProxySqlConfigOptions, serverMaxConnections: number, fleetShares?: number[]) =>
    renderWithBudget(topology, options, serverMaxConnections, fleetShares).template;
  const replication: BackendTopology = {
    writer: { host: 'primary.example' }, readers: [{ host: 'replica-1.example' }], replicationCheck: ReplicationCheck.READ_ONLY,
  };

  test('each share, for 1, 2, … tasks, is rendered for fleet-share.sh with the writer\'s quarter for fallback reads; the file keeps the static one', () => {
    const template = render(replication, {}, 17, [83, 39, 25, 17]);
    expect(template).toContain('# cdk-proxysql server_shares=10,20,1000,83:20,39:9,25:6,17:4\n');
    expect((parseLibconfig(template).mysql_servers as Row[]).map((r) => r.max_connections)).toEqual([13, 4, 17]);
  });

  test('without fallback reads every row takes the share (weight 0 marks it)', () => {
    expect(render(replication, { readsFallBackToWriter: false }, 17, [83, 39, 25, 17])).toContain('# cdk-proxysql server_shares=10,20,0,83:0,39:0,25:0,17:0\n');
  });

  test('a server with its own maxConnections keeps the static budget: no shares to move between', () => {
    const own: BackendTopology = { ...replication, readers: [{ host: 'replica-1.example', maxConnections: 5 }] };
    expect(render(own, {}, 17, [83, 39, 25, 17])).toContain('# cdk-proxysql server_shares=10,20,1000,17:4\n');
    expect(render(own, { readsFallBackToWriter: false }, 17, [83, 39, 25, 17])).not.toContain('server_shares');
  });

  test.each([
    [[], 'an empty list'],
    [[83, 39, 25, 16], 'a last share that is not serverMaxConnections'],
    [[20, 39, 17], 'a share that grows with more tasks'],
    [[83, 0, 17], 'a share below 1'],
    [[83, 39.5, 17], 'a fraction'],
  ])('%j is refused (%s), naming fleetShares and the rule', (shares) => {
    expect(() => render(replication, {}, 17, shares)).toThrow(new RegExp(`fleetShares must be whole numbers of at least 1, never growing, ending with serverMaxConnections \\(17\\) \\(got ${shares.length === 0 ? '"none"' : shares.join(',').replace('.', '\\.')}\\)`));
  });
});
