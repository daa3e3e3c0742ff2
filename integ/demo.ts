/**
 * `npx projen demo`: synthesize the reference topology into cdk.out and say what would be deployed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { referenceTopology } from './topology';

const outdir = path.resolve(__dirname, '..', 'cdk.out');
const app = new App({ outdir });
const stack = new Stack(app, 'ProxySqlReference', {
  description: 'cdk-proxysql reference topology: Lambda -> NLB -> ProxySQL on Fargate -> Aurora MySQL',
});
referenceTopology(stack);
const assembly = app.synth();

const artifact = assembly.getStackByName(stack.stackName);
const template = JSON.parse(fs.readFileSync(path.join(outdir, artifact.templateFile), 'utf8'));
const resources: Record<string, { Type: string }> = template.Resources ?? {};
const counts = new Map<string, number>();
for (const r of Object.values(resources)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
const count = (type: string) => counts.get(type) ?? 0;

const lines = [
  `Synthesized ${stack.stackName} into ${path.relative(process.cwd(), outdir)}/${artifact.templateFile}`,
  `  ${Object.keys(resources).length} resources of ${counts.size} types`,
  '',
  'Path of a query:',
  '  HTTP API -> Lambda (in the VPC) -> nlb.proxysql.local:3306 -> internal NLB',
  '    -> ProxySQL tasks on Fargate (:6033) -> Aurora writer (writes, locking reads, transactions)',
  '                                         -> Aurora reader (plain reads)',
  '',
  'What would be deployed:',
  `  VPC: ${count('AWS::EC2::VPC')} (subnets: ${count('AWS::EC2::Subnet')}, NAT gateways: ${count('AWS::EC2::NatGateway')}, flow logs: ${count('AWS::EC2::FlowLog')})`,
  `  Aurora: ${count('AWS::RDS::DBCluster')} cluster, ${count('AWS::RDS::DBInstance')} instances`,
  `  ProxySQL: ${count('AWS::ECS::Service')} Fargate service, ${count('AWS::ElasticLoadBalancingV2::LoadBalancer')} internal NLB, ${count('AWS::ElasticLoadBalancingV2::Listener')} listener`,
  `  Secrets: ${count('AWS::SecretsManager::Secret')} (master, app user, ProxySQL admin, monitor)`,
  `  DNS: ${count('AWS::Route53::HostedZone')} private zone, ${count('AWS::Route53::RecordSet')} records`,
  `  Lambda functions: ${count('AWS::Lambda::Function')} (demo API, database bootstrap, custom resource framework)`,
  `  HTTP API: ${count('AWS::ApiGatewayV2::Api')}`,
  '',
  'Outputs:',
  ...Object.entries(template.Outputs ?? {}).map(([name, o]) => `  ${name}: ${(o as { Description?: string }).Description ?? ''}`),
  '',
  'Deploy it with: npx cdk deploy --app "npx ts-node --prefer-ts-exts integ/demo.ts"',
];
console.log(lines.join('\n'));
