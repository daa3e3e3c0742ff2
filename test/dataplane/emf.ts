/**
 * What the metrics sidecar prints, as the dataplane tests read it: every line parsed and checked as
 * CloudWatch Embedded Metric Format, the task-level and per-role documents, and waiting for samples.
 */
import { waitFor } from './topology';
import { TaskContainer } from '../fixtures/proxysql-task';

/** The sidecar's interval overridden to 1 s, so that a test sees several samples in seconds. */
export const FAST = { PROXYSQL_METRICS_INTERVAL_SECONDS: () => '1' };

const UNITS = new Set(['Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits',
  'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second',
  'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second',
  'Terabits/Second', 'Count/Second', 'None']);

export interface Directive { Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit?: string }> }
export type Emf = Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: Directive[] } };

/**
 * Parse one log line as an EMF document and check it against the specification: a JSON object with
 * `_aws.Timestamp` (epoch ms) and `_aws.CloudWatchMetrics` (directives with a Namespace, dimension
 * sets of at most 30 names, metric definitions with a Name and a valid Unit), and every dimension
 * and metric it names a top-level member: dimensions strings, metrics numbers.
 */
export function parseEmf(line: string): Emf {
  const doc = JSON.parse(line) as Emf;
  const fail = (why: string) => { throw new Error(`not valid EMF (${why}): ${line}`); };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('not an object');
  const aws = doc._aws;
  if (typeof aws !== 'object' || aws === null) fail('no _aws object');
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp) || Math.abs(aws.Timestamp - Date.now()) > 3_600_000) fail('Timestamp');
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0) fail('CloudWatchMetrics');
  for (const d of aws.CloudWatchMetrics) {
    if (typeof d.Namespace !== 'string' || d.Namespace.length === 0 || d.Namespace.startsWith('AWS/')) fail('Namespace');
    if (!Array.isArray(d.Dimensions)) fail('Dimensions');
    for (const set of d.Dimensions) {
      if (!Array.isArray(set) || set.length > 30) fail('dimension set');
      for (const name of set) if (typeof doc[name] !== 'string' || (doc[name] as string).length === 0) fail(`dimension ${name} is not a top-level string`);
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length === 0 || d.Metrics.length > 100) fail('Metrics');
    for (const m of d.Metrics) {
      if (typeof m.Name !== 'string' || m.Name.length === 0) fail('metric Name');
      if (m.Unit !== undefined && !UNITS.has(m.Unit)) fail(`Unit ${m.Unit}`);
      if (typeof doc[m.Name] !== 'number' || !Number.isFinite(doc[m.Name] as number)) fail(`metric ${m.Name} is not a top-level number`);
    }
  }
  return doc;
}

/** Every line the sidecar printed, each checked as EMF. */
export function samples(c: TaskContainer): Emf[] {
  return c.log().split('\n').filter((l) => l !== '').map(parseEmf);
}

export const role = (r: string | undefined) => (doc: Emf) => doc.Role === r;

/** Wait until the sidecar has printed `count` more task-level lines than `after`. */
export function moreSamples(c: TaskContainer, after: number, count = 1): Promise<Emf[]> {
  return waitFor(`${count} more samples`, async () => {
    const task = samples(c).filter(role(undefined));
    return task.length >= after + count ? task : undefined;
  }, 20_000, 200);
}

