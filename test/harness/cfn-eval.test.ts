import { evaluateCfn } from '../fixtures/cfn-eval';

describe('cfn-eval (the task emulator evaluates intrinsics as CloudFormation would)', () => {
  const resolve = (ref: string) => ({ 'Db': 'db-id', 'Db.Endpoint.Address': 'db.cluster-abc.us-east-1.rds.amazonaws.com' } as Record<string, string>)[ref];

  test('Join, Select, Split, Ref, GetAtt and pseudo parameters', () => {
    expect(evaluateCfn({
      'Fn::Join': ['', [
        '.',
        { 'Fn::Select': [1, { 'Fn::Split': ['.cluster-', { 'Fn::GetAtt': ['Db', 'Endpoint.Address'] }] }] },
        ':', { Ref: 'Db' }, '@', { Ref: 'AWS::Region' },
      ]],
    }, resolve)).toBe('.abc.us-east-1.rds.amazonaws.com:db-id@us-east-1');
    expect(evaluateCfn({ 'Fn::Sub': ['${A}-${AWS::Partition}', { A: 'x' }] }, resolve)).toBe('x-aws');
    expect(evaluateCfn({ nested: [{ Ref: 'Db' }, 3, true] }, resolve)).toEqual({ nested: ['db-id', 3, true] });
  });

  test('a reference without a value is an error, not a half-evaluated string', () => {
    expect(() => evaluateCfn({ Ref: 'Missing' }, resolve)).toThrow(/no value for Missing/);
    expect(() => evaluateCfn({ 'Fn::GetAtt': ['Db', 'Port'] }, resolve)).toThrow(/no value for Db.Port/);
    expect(() => evaluateCfn({ 'Fn::ImportValue': 'x' }, resolve)).toThrow(/Fn::ImportValue is not supported/);
  });
});
