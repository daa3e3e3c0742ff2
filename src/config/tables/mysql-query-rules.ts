/** `mysql_query_rules`: where statements go, in the order `QueryRules` resolves them. */
import { Token } from 'aws-cdk-lib';
import { Checks, HOSTGROUP_TOKEN } from './checks';
import { kv, row, Template } from './libconfig';
import { ConfigModel } from '../model';
import { RuleDestination } from '../query-rules';
import { findUnsupportedRe2Construct } from '../re2-check';

export function validateMysqlQueryRules(m: ConfigModel, c: Checks): void {
  if (m.rules.filter(r => r.path.startsWith('queryRules.before')).length > 899) {
    c.fail('queryRules', 'may hold at most 899 rules before the defaults', m.rules.length);
  }
  for (const { path, rule, builtIn } of m.rules) {
    if (builtIn) continue;
    const label = rule.comment ? `${path} (${JSON.stringify(rule.comment)})` : path;
    if (!Token.isUnresolved(rule.match)) {
      if (rule.match.length === 0) c.fail(`${label}.match`, 'must not be empty', rule.match);
      const bad = findUnsupportedRe2Construct(rule.match);
      if (bad) c.fail(`${label}.match`, `uses ${bad}, which ProxySQL's regex engine (RE2) does not support`, rule.match);
    }
    c.sqlSafe(`${label}.match`, rule.match, '"');
    c.sqlSafe(`${label}.comment`, rule.comment, '"');
    c.int(`${label}.cacheTtlMs`, rule.cacheTtlMs, 0, 2147483647);
    c.int(`${label}.timeoutMs`, rule.timeoutMs, 0, 2147483647);
    validateDestination(m, c, `${label}.destination`, rule.destination);
    validateDestination(m, c, `${label}.mirror`, rule.mirror);
  }
}

function validateDestination(m: ConfigModel, c: Checks, path: string, d: RuleDestination | undefined): void {
  if (!d) return;
  if (d.kind === 'hostgroup') {
    const id = d.hostgroupId!;
    c.concrete(`${path} (RuleDestination.hostgroup)`, id, HOSTGROUP_TOKEN);
    if (!Token.isUnresolved(id) && id !== m.writerHg && id !== m.readerHg) {
      c.fail(path, `must be a known hostgroup: writer ${m.writerHg} or readers ${m.readerHg}`, id);
    }
  }
  const id = hostgroupOf(m, d);
  if (id === m.readerHg && !m.hasReaders) {
    c.fail(path, 'sends queries to the readers, but the backend has no readers', d.kind);
  }
}

function hostgroupOf(m: ConfigModel, d: RuleDestination): number {
  if (d.kind === 'writer') return m.writerHg;
  if (d.kind === 'readers') return m.readerHg;
  return d.hostgroupId!;
}

export function renderMysqlQueryRules(m: ConfigModel, out: Template): void {
  // Built-in rules aimed at the readers are left out when there are none, so those statements
  // fall through to the default hostgroup (the writer) instead of an empty hostgroup.
  const rules = m.rules.filter(r => !(r.builtIn && r.rule.destination === RuleDestination.READERS && !m.hasReaders));
  if (rules.length === 0) return;
  out.list('mysql_query_rules', rules.map(({ id, rule }) => row(kv([
    ['rule_id', id],
    ['active', 1],
    ['match_digest', rule.match],
    ['re_modifiers', rule.caseSensitive ? '' : 'CASELESS'],
    ['destination_hostgroup', rule.destination ? hostgroupOf(m, rule.destination) : undefined],
    ['cache_ttl', rule.cacheTtlMs],
    ['multiplex', rule.multiplex === undefined ? undefined : (rule.multiplex ? 1 : 0)],
    ['timeout', rule.timeoutMs],
    ['mirror_hostgroup', rule.mirror ? hostgroupOf(m, rule.mirror) : undefined],
    ['apply', rule.apply === false ? 0 : 1],
    ['comment', rule.comment],
  ], ''))));
}
