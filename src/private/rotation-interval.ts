import { Duration } from 'aws-cdk-lib';

/** Secrets Manager's range for a rotation schedule (aws-cdk-lib checks it too, without naming our prop). */
const MIN_ROTATION_INTERVAL = Duration.hours(4);
const MAX_ROTATION_INTERVAL = Duration.days(1000);

/**
 * What is wrong with a rotation's `automaticallyAfter`, as the rule and the value received, or
 * undefined when it is fine. Callers say which prop it came from.
 */
export function rotationIntervalProblem(interval: Duration): { rule: string; got: string } | undefined {
  if (interval.isUnresolved()) {
    return { rule: 'must be a concrete duration, not a token: the rotation schedule is written at synth time', got: 'a token' };
  }
  const ms = interval.toMilliseconds();
  if (ms < MIN_ROTATION_INTERVAL.toMilliseconds() || ms > MAX_ROTATION_INTERVAL.toMilliseconds()) {
    return { rule: 'must be from 4 hours to 1000 days (the range of a Secrets Manager rotation schedule)', got: interval.toHumanString() };
  }
  return undefined;
}
