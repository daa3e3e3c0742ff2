import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
// re2js is a port of RE2, the engine ProxySQL runs match_digest with; JavaScript's RegExp differs.
import { RE2JS } from 're2js';
import { ProxySqlConfiguration } from '../../src/config/configuration';
import { readWriteSplitRules } from '../../src/config/default-rules';
import { QueryRules, RuleDestination, RulePosition } from '../../src/config/query-rules';
import { findUnsupportedRe2Construct } from '../../src/config/re2-check';
import { parseLibconfig } from '../fixtures/libconfig';

interface Sample { sql: string; digest_text: string; expected: 'reader' | 'writer'; why: string }
// Recorded by a real ProxySQL 2.7.1; the fixture's "source" field says where it comes from.
const SAMPLES: Sample[] = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'proxysql-digests.json'), 'utf8')).samples;

type Rule = { [k: string]: string | number };

function renderRules(queryRules?: QueryRules) {
  const stack = new Stack(new App(), 'S');
  const config = new ProxySqlConfiguration({
    options: { queryRules },
    topology: { writer: { host: 'writer.example' }, readers: [{ host: 'reader.example' }] },
    adminSecret: new secretsmanager.Secret(stack, 'A'),
    monitorSecret: new secretsmanager.Secret(stack, 'M'),
    defaultUsers: [new secretsmanager.Secret(stack, 'U')],
    vcpus: 1,
    memoryMiB: 2048,
  });
  return (parseLibconfig(config.render().template).mysql_query_rules ?? []) as Rule[];
}

/** Route a digest the way ProxySQL does: rules by rule_id, first match with apply=1 wins, else the default hostgroup. */
function route(rules: Rule[], digest: string, defaultHostgroup = 10): number {
  let destination = defaultHostgroup;
  for (const rule of [...rules].sort((a, b) => Number(a.rule_id) - Number(b.rule_id))) {
    const flags = rule.re_modifiers === 'CASELESS' ? RE2JS.CASE_INSENSITIVE : 0;
    if (!RE2JS.compile(String(rule.match_digest), flags).matcher(digest).find()) continue;
    if (rule.destination_hostgroup !== undefined) destination = Number(rule.destination_hostgroup);
    if (Number(rule.apply) === 1) break;
  }
  return destination;
}

describe('read/write split on real ProxySQL digests', () => {
  const rules = renderRules();

  test.each(SAMPLES.map(s => [s.digest_text, s.expected, s.why]))('%s -> %s (%s)', (digest, expected) => {
    expect(route(rules, digest)).toBe(expected === 'writer' ? 10 : 20);
  });

  test.each([
    ['SELECT a FROM t WHERE b = @x', 10],
    ['SELECT @@session.autocommit,@y', 10],
    ['SELECT @@global.read_only', 20],
    ['SELECT a INTO @v FROM t', 10],
    ['SELECT FOUND_ROWS()', 10],
    ['SELECT SQL_CALC_FOUND_ROWS a FROM t LIMIT ?', 10],
    ['SELECT GET_LOCK(?,?)', 10],
    ['select id from t where id = ? for update nowait', 10],
    ['(SELECT a FROM t) UNION (SELECT b FROM u)', 20],
    ['START TRANSACTION', 10],
    ['START TRANSACTION READ WRITE', 10],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT,READ ONLY', 20],
    ['SET autocommit = ?', 10],
    ['REPLACE INTO t VALUES (?)', 10],
    ['SELECT forupdate FROM t', 20],
    ['WITH c AS (SELECT a FROM t) SELECT COUNT(*) FROM c', 20],
    ['WITH RECURSIVE r (n) AS (SELECT ? UNION ALL SELECT n+? FROM r WHERE n < ?) SELECT n FROM r', 20],
    ['WITH c AS (SELECT last_update FROM t) SELECT * FROM c', 20],
    ['WITH c AS (SELECT a FROM t) SELECT a FROM c FOR UPDATE', 10],
    ['WITH c AS (SELECT a FROM t) SELECT a FROM c LOCK IN SHARE MODE', 10],
    ['WITH c AS (SELECT a FROM t) SELECT a INTO @v FROM c', 10],
    ['WITH c AS (SELECT a FROM t WHERE b = @x) SELECT a FROM c', 10],
    ['WITH c AS (SELECT a FROM t) SELECT LAST_INSERT_ID(),a FROM c', 10],
    ['WITH c AS (SELECT a FROM t) UPDATE u JOIN c ON u.a = c.a SET u.b = ?', 10],
    ['WITH c AS (SELECT a FROM t) DELETE FROM u WHERE a IN (SELECT a FROM c)', 10],
    ['WITH c AS (SELECT a FROM t) INSERT INTO u SELECT a FROM c', 10],
  ])('%s -> hostgroup %d', (digest, hostgroup) => {
    expect(route(rules, digest as string)).toBe(hostgroup);
  });

  test('built-in rules set active and apply and have stable ids', () => {
    expect(rules.map(r => r.rule_id)).toEqual([1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070]);
    for (const r of rules) {
      expect(r).toMatchObject({ active: 1, apply: 1, re_modifiers: 'CASELESS' });
    }
  });

  test('every built-in pattern compiles in RE2', () => {
    for (const r of readWriteSplitRules()) {
      expect(() => RE2JS.compile(r.match)).not.toThrow();
      expect(findUnsupportedRe2Construct(r.match)).toBeUndefined();
    }
  });
});

describe('custom rules', () => {
  test('rules before the defaults win, rules after only see what the defaults left', () => {
    const rules = renderRules(QueryRules.readWriteSplit({
      before: [{ match: '^SELECT .* FROM reports\\.', destination: RuleDestination.WRITER, comment: 'reports on writer', cacheTtlMs: 5000 }],
      after: [{ match: '^SHOW ', destination: RuleDestination.READERS, timeoutMs: 1000, multiplex: false, mirror: RuleDestination.WRITER }],
    }));
    expect(rules[0]).toEqual({
      rule_id: 100,
      active: 1,
      match_digest: '^SELECT .* FROM reports\\.',
      re_modifiers: 'CASELESS',
      destination_hostgroup: 10,
      cache_ttl: 5000,
      apply: 1,
      comment: 'reports on writer',
    });
    expect(rules[rules.length - 1]).toEqual({
      rule_id: 2000,
      active: 1,
      match_digest: '^SHOW ',
      re_modifiers: 'CASELESS',
      destination_hostgroup: 20,
      multiplex: 0,
      timeout: 1000,
      mirror_hostgroup: 10,
      apply: 1,
    });
    expect(route(rules, 'SELECT a FROM reports.daily WHERE d = ?')).toBe(10);
    expect(route(rules, 'SHOW TABLES FROM demo')).toBe(20);
  });

  test('addRule, custom() and none()', () => {
    const added = renderRules(QueryRules.readWriteSplit()
      .addRule({ match: '^SELECT 1$', destination: RuleDestination.hostgroup(20), caseSensitive: true, apply: false })
      .addRule({ match: '^DO ', destination: RuleDestination.WRITER }, RulePosition.AFTER_DEFAULTS));
    expect(added[0]).toMatchObject({ rule_id: 100, re_modifiers: '', apply: 0, destination_hostgroup: 20 });
    expect(added[added.length - 1]).toMatchObject({ rule_id: 2000, match_digest: '^DO ' });
    expect(renderRules(QueryRules.custom([{ match: '^SELECT', destination: RuleDestination.READERS }])).map(r => r.rule_id)).toEqual([100]);
    expect(renderRules(QueryRules.none())).toEqual([]);
  });
});

describe('RE2 construct check agrees with RE2', () => {
  test.each([
    ['(?=x)a', 'lookahead'],
    ['(?!x)a', 'negative lookahead'],
    ['(?<=x)a', 'lookbehind'],
    ['(?<!x)a', 'negative lookbehind'],
    ['(a)\\1', 'backreference'],
    ['(?<n>a)\\k<n>', 'backreference'],
    ['a++', 'possessive'],
    ['a*+', 'possessive'],
    ['a?+', 'possessive'],
    ['a{2}+', 'possessive'],
    ['(?>a)', 'atomic group'],
    ['(?(1)a|b)', 'conditional'],
    ['(?R)', 'recursive'],
    ['a\\Z', '\\Z'],
    ['[abc', 'unterminated'],
  ])('%s is rejected (%s)', (pattern, name) => {
    expect(() => RE2JS.compile(pattern)).toThrow();
    expect(findUnsupportedRe2Construct(pattern)).toContain(name);
  });

  test.each([
    '^SELECT\\b.*\\bFOR\\s+UPDATE', 'a+?b', '[*+?]+', '[]a]', '(?i)select', '(?:a|b)*', '\\(\\+\\)', 'a{2,3}?', '(?P<name>a)', '\\x22',
  ])('%s is accepted', (pattern) => {
    expect(() => RE2JS.compile(pattern)).not.toThrow();
    expect(findUnsupportedRe2Construct(pattern)).toBeUndefined();
  });
});
