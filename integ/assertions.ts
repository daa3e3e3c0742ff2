/**
 * Assertions shared by the integ apps (this file is not an integ test itself: integ-runner only
 * picks up files named integ.*.ts).
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { Duration } from 'aws-cdk-lib';
import { LambdaDemoApi, ProxySqlFargate } from '../src';

const WAIT = { totalTimeout: Duration.minutes(10), interval: Duration.seconds(20) };

/** The ECS service reaches its desired count of running tasks. */
export function assertServiceRunsDesiredCount(integ: IntegTest, proxy: ProxySqlFargate, desiredCount: number): void {
  integ.assertions
    .awsApiCall('ECS', 'describeServices', {
      cluster: proxy.cluster.clusterArn,
      services: [proxy.service.serviceArn],
    })
    .assertAtPath('services.0.runningCount', ExpectedResult.exact(desiredCount))
    .waitForAssertions(WAIT);
}

/**
 * `GET /` on the demo API answers 200; the write ran on a writable server, and (when the backend
 * has readers) the plain read ran on a read-only one.
 */
export function assertDemoSplitsReadsAndWrites(integ: IntegTest, demo: LambdaDemoApi, opts: { readerExpected: boolean }): void {
  const body = opts.readerExpected
    ? { write: { server: { innodbReadOnly: false } }, read: { sawWrite: true, server: { innodbReadOnly: true } } }
    : { write: { server: { readOnly: false } }, read: { sawWrite: true } };
  integ.assertions
    .httpApiCall(demo.url)
    .expect(ExpectedResult.objectLike({ status: 200, body: Match.objectLike(body) }))
    .waitForAssertions(WAIT);
}
