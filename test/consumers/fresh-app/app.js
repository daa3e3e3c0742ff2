// A user's first app, in plain JavaScript (run with `node`, no compiler): a default AuroraBackend and
// a default ProxySqlFargate in a new VPC, from the installed npm tarball. test/consumers/fresh-app.sh
// installs it; this synthesizes, runs cdk-nag's AwsSolutions checks and prints ok/FAIL lines.
// Usage: node app.js OUTDIR
const fs = require('fs');
const path = require('path');
const { App, Stack } = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const { AwsSolutionsChecks } = require('cdk-nag');
const { AuroraBackend, ProxySqlFargate } = require('cdk-proxysql');

let failures = 0;
function check(name, problems) {
  if (problems.length === 0) console.log(`ok ${name}`);
  else { failures++; console.log(`FAIL ${name}: ${problems.join('; ')}`); }
}

const outdir = process.argv[2];
const app = new App({ outdir });
const stack = new Stack(app, 'FreshApp');
const vpc = new ec2.Vpc(stack, 'Vpc');
// A VPC without flow logs is the app's own finding (AwsSolutions-VPC7), not the library's.
vpc.addFlowLog('FlowLog');
const db = new AuroraBackend(stack, 'Db', { vpc });
new ProxySqlFargate(stack, 'Proxy', { vpc, backend: db });

const assembly = app.synth();
check('synth', []);

// cdk-nag 3 through its validation-plugin entry point (as test/nag/ does): errors fail, warnings are listed.
const report = new AwsSolutionsChecks().validateScope(stack);
const rows = (severity) => report.violations.filter((v) => v.severity === severity)
  .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? r.resourceLogicalId}`));
check('cdk-nag AwsSolutions: no unacknowledged error', rows('error'));
const warnings = rows('warning');
console.log(`cdk-nag AwsSolutions: ${warnings.length} unacknowledged warning(s)`);
for (const w of warnings) console.log(`cdk-nag warning: ${w}`);

// Every module came from this app's node_modules (nothing fell back to a folder above it), and the
// library is the installed tarball.
const appDir = path.resolve(__dirname);
check('every module loaded from the app\'s node_modules',
  Object.keys(require.cache).filter((f) => !f.startsWith(path.join(appDir, 'node_modules') + path.sep) && f !== __filename));
const lib = path.dirname(require.resolve('cdk-proxysql/package.json'));

// The container commands are the installed package's task programs (read at synth from lib/task-programs).
const template = assembly.getStackByName(stack.stackName).template;
const containers = Object.values(template.Resources)
  .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
  .flatMap((r) => r.Properties.ContainerDefinitions);
const program = (file) => fs.readFileSync(path.join(lib, 'lib', 'task-programs', file), 'utf8')
  .split('\n').filter((l) => !/^\s*(#.*)?$/.test(l)).map((l) => `${l}\n`).join('');
// The inputs ahead of the program are NAME='value' lines, quoted for POSIX sh.
const shQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;
const proxysql = containers.find((c) => c.Name === 'proxysql');
const command = proxysql && proxysql.Command;
const startSh = program('start.sh');
check('the proxysql container runs the installed lib/task-programs/start.sh',
  !command ? ['no proxysql container command']
    : command[0] !== 'sh' || command[1] !== '-c' ? [`command is ${JSON.stringify(command.slice(0, 2))}, not sh -c`]
      : typeof command[2] !== 'string' ? ['the program is not a literal string']
        : !command[2].endsWith(startSh) ? ['the command does not end with start.sh without its comments']
          : !command[2].startsWith(`RENDER_AWK=${shQuote(program('render-config.awk'))}\n`) ? ['it does not start with render-config.awk as its RENDER_AWK input']
            : []);

// The bootstrap handler's bundle was staged from the installed package's assets/.
const staged = fs.readdirSync(outdir).filter((d) => d.startsWith('asset.') && fs.existsSync(path.join(outdir, d, 'index.js')));
const bundle = fs.readFileSync(path.join(lib, 'assets', 'bootstrap', 'bootstrap.lambda', 'index.js'));
check('the bootstrap function is the installed assets/bootstrap bundle',
  staged.some((d) => fs.readFileSync(path.join(outdir, d, 'index.js')).equals(bundle)) ? [] : [`none of ${staged.length} staged assets equals it`]);

process.exit(failures === 0 ? 0 : 1);
