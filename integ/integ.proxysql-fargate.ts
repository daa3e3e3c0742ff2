/**
 * Reference topology, deployed whole: VPC, Aurora MySQL (writer + reader), ProxySQL on Fargate,
 * private DNS names and the demo HTTP API. The assertions prove the path end to end: the demo API
 * answers 200 with its write served by the writer and its plain read served by a reader, and the
 * ECS service runs its desired count.
 */
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { assertDemoSplitsReadsAndWrites, assertServiceRunsDesiredCount } from './assertions';
import { referenceTopology } from './topology';

// No stack traces in the snapshot metadata (creation stacks of every resource, stacks of
// annotations): they hold the paths of the machine that synthesized it.
const app = new App({ stackTraces: false, context: { [cxapi.DISABLE_CREATION_STACK_TRACES]: true } });
const stack = new Stack(app, 'ProxySqlFargateReference');
const topology = referenceTopology(stack);

const integ = new IntegTest(app, 'ProxySqlFargateReferenceTest', {
  testCases: [stack],
  cdkCommandOptions: { destroy: { args: { force: true } } },
  regions: ['us-east-1'],
});
assertServiceRunsDesiredCount(integ, topology.proxy, 2);
assertDemoSplitsReadsAndWrites(integ, topology.demo, { readerExpected: true });
