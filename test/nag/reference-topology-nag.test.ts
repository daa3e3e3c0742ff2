import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { referenceTopology } from '../../integ/topology';
import { AppUserRotation } from '../../src';

function findings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const rows: string[] = [];
  for (const v of report.violations) {
    for (const r of v.violatingResources) rows.push(`${v.ruleName} ${r.constructPath ?? r.resourceLogicalId}`);
  }
  return rows.sort();
}

function reference(): Stack {
  const app = new App();
  const stack = new Stack(app, 'Reference');
  referenceTopology(stack);
  return stack;
}

/** Every acknowledgment in the tree: where it sits and what it says. */
function acknowledgments(stack: Stack) {
  return stack.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ construct: c, id, reason, entry: m }))));
}

describe('cdk-nag AwsSolutions on the reference topology', () => {
  test('GIVEN the default topology WHEN checked THEN no unsuppressed finding remains', () => {
    expect(findings(reference())).toEqual([]);
  });

  test('GIVEN the query log on (dashboard and alarms are in the reference) WHEN checked THEN no unsuppressed finding remains', () => {
    const stack = new Stack(new App(), 'QueryLog');
    referenceTopology(stack, { queryLog: true });
    expect(findings(stack)).toEqual([]);
  });

  test('every suppression sits on one CloudFormation resource, names its rule and gives a reason', () => {
    const acks = acknowledgments(reference());
    expect(acks.length).toBeGreaterThanOrEqual(10);
    for (const a of acks) {
      expect(a.construct).toBeInstanceOf(CfnResource); // scoped to a resource, never a subtree
      expect(a.id).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(a.reason.length).toBeGreaterThan(40);
    }
  });

  test('without the suppressions the same checks report those rules (the check above can fail)', () => {
    const stack = reference();
    for (const a of acknowledgments(stack)) {
      for (const key of Object.keys(a.entry.data)) delete (a.entry.data as Record<string, string>)[key];
    }
    const rules = new Set(findings(stack).map((f) => f.split(/[ []/)[0]));
    expect([...rules]).toEqual(expect.arrayContaining([
      'AwsSolutions-ECS2', 'AwsSolutions-ELB2', 'AwsSolutions-IAM4', 'AwsSolutions-IAM5', 'AwsSolutions-RDS10',
      'AwsSolutions-RDS11', 'AwsSolutions-SMG4', 'AwsSolutions-APIG4', 'AwsSolutions-L1',
    ]));
  });
});

describe('cdk-nag AwsSolutions with the application secret rotating', () => {
  test('GIVEN appUserRotation WHEN checked THEN no unsuppressed finding remains, and the rotated secret carries no SMG4 acknowledgment', () => {
    const stack = new Stack(new App(), 'Rotating');
    const { db } = referenceTopology(stack, {}, { appUserRotation: AppUserRotation.alternatingUsers() });
    expect(findings(stack)).toEqual([]);
    const appSecret = db.node.findChild('AppUserSecret').node.defaultChild!;
    expect(acknowledgments(stack).filter((a) => a.construct === appSecret).map((a) => a.id)).toEqual([]);
    // The proxy's generated monitor and admin secrets do not rotate: their acknowledgments stay.
    expect(acknowledgments(stack).filter((a) => a.id === 'AwsSolutions-SMG4').map((a) => a.construct.node.path).sort())
      .toEqual(['Rotating/Db/Cluster/Secret/Resource', 'Rotating/Proxy/AdminSecret/Resource', 'Rotating/Proxy/MonitorSecret/Resource']);
  });
});

describe('cdk-nag AwsSolutions with the monitor secret rotating', () => {
  test('GIVEN monitorRotation and appUserRotation WHEN checked THEN no unsuppressed finding remains, and only the admin and master secrets keep SMG4 acknowledgments', () => {
    const stack = new Stack(new App(), 'Rotating');
    const { proxy } = referenceTopology(stack, { monitorRotation: {} }, { appUserRotation: AppUserRotation.alternatingUsers() });
    expect(findings(stack)).toEqual([]);
    expect(acknowledgments(stack).filter((a) => a.construct === proxy.monitorSecret.node.defaultChild)).toEqual([]);
    expect(acknowledgments(stack).filter((a) => a.id === 'AwsSolutions-SMG4').map((a) => a.construct.node.path).sort())
      .toEqual(['Rotating/Db/Cluster/Secret/Resource', 'Rotating/Proxy/AdminSecret/Resource']);
  });
});
