/**
 * Compares the templates that the Python, Java and Go consumer apps synthesized (through the packaged
 * wheel, jar and Go module) with the TypeScript app's, resource by resource on what a user depends on, then
 * whole. Prints one line per check, `ok NAME` or `FAIL NAME: why`, and exits 1 if any check failed.
 *
 * Usage: ts-node test/consumers/compare.ts ts=DIR python=DIR [java=DIR go=DIR ...]
 *
 * The first directory is the reference. Asset hashes are normalized: a wheel, jar or Go module carries its own
 * copy of the bundled handlers, and aws-cdk-lib's own assets are staged from different paths.
 */
import * as fs from 'fs';
import * as path from 'path';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, Json> }> } & Record<string, Json>;

const STACKS = ['ConsumerReference', 'ConsumerImported'];
// The custom rule as ProxySQL reads it: libconfig doubles the regex backslash.
const CUSTOM_RULE = 'match_digest="^SELECT .* FROM reports\\\\.", re_modifiers="CASELESS", destination_hostgroup=20, cache_ttl=30000';

let failures = 0;
function report(name: string, problem: string | undefined): void {
  if (problem === undefined) {
    console.log(`ok ${name}`);
  } else {
    failures++;
    console.log(`FAIL ${name}: ${problem}`);
  }
}

/** Asset hashes (64 hex digits) become `<hash>`; everything else is kept as written. */
function normalize(value: Json): Json {
  if (typeof value === 'string') return value.replace(/[0-9a-f]{64}/g, '<hash>');
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

function load(dir: string, stack: string): Template {
  const file = path.join(dir, `${stack}.template.json`);
  if (!fs.existsSync(file)) throw new Error(`missing ${file}`);
  return normalize(JSON.parse(fs.readFileSync(file, 'utf8'))) as Template;
}

/** The first path where two JSON values differ, with both sides, or undefined when equal. */
function firstDifference(a: Json | undefined, b: Json | undefined, at = '$'): string | undefined {
  if (a === b) return undefined;
  if (typeof a === 'string' && typeof b === 'string') {
    let i = 0;
    while (a[i] === b[i]) i++;
    const from = Math.max(0, i - 40);
    return `${at}: strings differ at character ${i}: expected ...${JSON.stringify(a.slice(from, i + 60))}, got ...${JSON.stringify(b.slice(from, i + 60))}`;
  }
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return `${at}: expected ${clip(a)}, got ${clip(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${at}: expected ${a.length} items, got ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, Json>;
  const bo = b as Record<string, Json>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    const d = firstDifference(ao[k], bo[k], `${at}.${k}`);
    if (d) return d;
  }
  return undefined;
}

function clip(v: Json | undefined): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 160)}...` : s;
}

function ofType(t: Template, type: string): Array<{ id: string; props: Record<string, Json> }> {
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, props: r.Properties ?? {} }))
    .sort((x, y) => x.id.localeCompare(y.id));
}

function pick(props: Record<string, Json>, keys: string[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const k of keys) if (k in props) out[k] = props[k];
  return out;
}

function container(t: Template): Record<string, Json> {
  const [td] = ofType(t, 'AWS::ECS::TaskDefinition');
  const defs = (td?.props.ContainerDefinitions ?? []) as Array<Record<string, Json>>;
  return defs.find((c) => c.Name === 'proxysql') ?? defs[0] ?? {};
}

function configTemplate(t: Template): Json | undefined {
  const env = (container(t).Environment ?? []) as Array<Record<string, Json>>;
  return env.find((e) => e.Name === 'PROXYSQL_CONFIG_TEMPLATE')?.Value;
}

/** The config template as text; CloudFormation tokens (endpoints, ports) become `<token>`. */
function flatten(v: Json | undefined): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && !Array.isArray(v) && Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, Json[]];
    return parts.map((p) => (typeof p === 'string' ? p : '<token>')).join(sep);
  }
  return '';
}

/** What a user relies on, one extractor per check. Each must find something in the reference. */
const EXTRACTORS: Record<string, (t: Template) => Json> = {
  'ecs-service': (t) => ofType(t, 'AWS::ECS::Service').map((s) => pick(s.props, [
    'DesiredCount', 'LaunchType', 'DeploymentConfiguration', 'EnableExecuteCommand', 'LoadBalancers', 'NetworkConfiguration',
  ])),
  'task-definition': (t) => ofType(t, 'AWS::ECS::TaskDefinition').map((d) => pick(d.props, [
    'Cpu', 'Memory', 'RuntimePlatform', 'RequiresCompatibilities', 'NetworkMode',
  ])),
  'container-command-image': (t) => pick(container(t), ['Command', 'Image', 'PortMappings', 'StopTimeout']),
  'container-secrets': (t) => container(t).Secrets ?? null,
  'container-environment': (t) => container(t).Environment ?? null,
  'nlb': (t) => ofType(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').map((l) => pick(l.props, ['Scheme', 'Type', 'Subnets'])),
  'nlb-listener': (t) => ofType(t, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => pick(l.props, ['Port', 'Protocol', 'DefaultActions'])),
  'secrets': (t) => ofType(t, 'AWS::SecretsManager::Secret').map((s) => ({ id: s.id, generate: s.props.GenerateSecretString ?? null })),
  'hosted-zone-records': (t) => [
    ...ofType(t, 'AWS::Route53::HostedZone').map((z) => ({ zone: z.props.Name })),
    ...ofType(t, 'AWS::Route53::RecordSet').map((r) => pick(r.props, ['Name', 'Type', 'ResourceRecords', 'AliasTarget'])),
  ],
  'bootstrap-custom-resource': (t) => ofType(t, 'Custom::ProxySqlDatabaseBootstrap').map((c) => c.props),
};

/** Checks on the reference itself, so a comparison of two empty extractions cannot pass. */
function checkReference(lang: string, stack: string, t: Template): void {
  for (const [name, extract] of Object.entries(EXTRACTORS)) {
    if (stack === 'ConsumerImported' && (name === 'hosted-zone-records')) continue;
    const v = extract(t);
    report(`${lang}/${stack}/${name}-present`, v === null || (Array.isArray(v) && v.length === 0) ? 'nothing found' : undefined);
  }
  const cfg = flatten(configTemplate(t));
  if (stack === 'ConsumerReference') {
    report(`${lang}/${stack}/custom-query-rule-rendered`,
      cfg.includes(`rule_id=100, active=1, ${CUSTOM_RULE}`) && cfg.indexOf('rule_id=100,') < cfg.indexOf('rule_id=1000,')
        ? undefined : `the reports rule (${CUSTOM_RULE}) is not rule 100, ahead of the built-in rules, in PROXYSQL_CONFIG_TEMPLATE`);
  } else {
    report(`${lang}/${stack}/imported-cluster-used`,
      cfg.includes('legacy-aurora-1') && cfg.includes('c1a2b3c4d5e6') ? undefined : 'the imported cluster instances are not in PROXYSQL_CONFIG_TEMPLATE');
    const secrets = JSON.stringify(container(t).Secrets ?? []);
    report(`${lang}/${stack}/imported-secret-referenced`,
      secrets.includes('legacy-aurora/app-GhIjKl:password::') ? undefined : 'the imported app user secret is not an ECS secret of the container');
    report(`${lang}/${stack}/brought-certificate-referenced`,
      secrets.includes('proxysql/tls-MnOpQr:privateKey::') ? undefined : 'the brought certificate\'s private key is not an ECS secret of the container');
    const alarms = ofType(t, 'AWS::CloudWatch::Alarm').map((a) => a.props.MetricName ?? 'expression');
    report(`${lang}/${stack}/dashboard-and-alarms`,
      ofType(t, 'AWS::CloudWatch::Dashboard').length === 1 && alarms.includes('WriterAvailable') && alarms.includes('QueriesRouted')
        ? undefined : `expected one dashboard and alarms on WriterAvailable and QueriesRouted (got ${JSON.stringify(alarms)})`);
  }
  report(`${lang}/${stack}/no-secret-value-in-environment`,
    /"(password|secret)"\s*:\s*"[^%]/i.test(JSON.stringify(container(t).Environment ?? [])) ? 'a literal password-like value is in the environment' : undefined);
}

function main(): void {
  const dirs = process.argv.slice(2).map((a) => {
    const eq = a.indexOf('=');
    if (eq < 1) throw new Error(`arguments are LANG=DIR (got ${a})`);
    return { lang: a.slice(0, eq), dir: a.slice(eq + 1) };
  });
  if (dirs.length < 2) throw new Error('usage: compare.ts ts=DIR python=DIR [java=DIR ...]');
  const [ref, ...others] = dirs;
  for (const stack of STACKS) {
    const expected = load(ref.dir, stack);
    checkReference(ref.lang, stack, expected);
    for (const other of others) {
      let actual: Template;
      try {
        actual = load(other.dir, stack);
      } catch (e) {
        report(`${other.lang}/${stack}/synthesized`, (e as Error).message);
        continue;
      }
      report(`${other.lang}/${stack}/synthesized`, undefined);
      for (const [name, extract] of Object.entries(EXTRACTORS)) {
        report(`${other.lang}/${stack}/${name}`, firstDifference(extract(expected), extract(actual)));
      }
      report(`${other.lang}/${stack}/config-template`, firstDifference(configTemplate(expected) ?? null, configTemplate(actual) ?? null));
      report(`${other.lang}/${stack}/whole-template`, firstDifference(expected as unknown as Json, actual as unknown as Json));
    }
  }
  console.log(`compare: ${failures === 0 ? 'all checks passed' : `${failures} check(s) failed`}`);
  process.exit(failures === 0 ? 0 : 1);
}

main();
