/**
 * The docs/*.md half of test/consumers/rosetta.sh. jsii-rosetta only reads examples from an assembly,
 * and the assembly carries README.md but not docs/, so:
 *
 *   prepare DIR         writes DIR/.jsii: the compiled assembly as it is, plus one submodule per
 *                       docs/*.md whose readme is that file (`cdk-proxysql.docs.<name>`). Next to it:
 *                       package.json, lib/ and rosetta/ as links, so that rosetta compiles the examples
 *                       against this package with the same fixtures as the README's.
 *   report DIR LOG RC   reads the tablet that `jsii-rosetta extract --strict DIR/.jsii` wrote and its
 *                       log, and prints `ok NAME` or `FAIL NAME: why` for the README and for each docs
 *                       file (every ```ts block compiled and translated), then for the links between
 *                       them (`docs-links`). Exits 1 if any check failed.
 *
 * Rosetta names a markdown snippet `<module>-README-L<line>` in its diagnostics; that is how an error
 * is traced back to its file.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = path.join(ROOT, 'docs');
const LANGUAGES = ['python', 'java', 'csharp', 'go'];

interface Snippet {
  readonly location?: { readonly api?: { readonly api: string; readonly moduleFqn?: string } };
  readonly didCompile?: boolean;
  readonly translations: Record<string, unknown>;
}

function docsFiles(): string[] {
  return fs.existsSync(DOCS) ? fs.readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort() : [];
}

function assemblyName(): string {
  return JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii'), 'utf8')).name;
}

function moduleOf(file: string): string {
  return `${assemblyName()}.docs.${path.basename(file, '.md').replace(/[^A-Za-z0-9]/g, '_')}`;
}

function prepare(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const assembly = JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii'), 'utf8'));
  if (Object.keys(assembly.submodules ?? {}).length > 0) {
    // The docs become submodules; a real one would be checked as well, but its name could clash.
    throw new Error('the assembly has submodules of its own: give the docs modules names that cannot clash');
  }
  assembly.submodules = {};
  for (const file of docsFiles()) {
    assembly.submodules[moduleOf(file)] = { readme: { markdown: fs.readFileSync(path.join(DOCS, file), 'utf8') } };
  }
  // The fingerprint covers the assembly's content; the copy is never validated against it.
  fs.writeFileSync(path.join(dir, '.jsii'), JSON.stringify(assembly));
  for (const name of ['package.json', 'lib', 'rosetta']) {
    fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
}

/** ```ts and ```typescript blocks, the ones rosetta extracts. */
function typescriptBlocks(markdown: string): number {
  return markdown.split('\n').filter((l) => /^```(ts|typescript)(\s|$)/.test(l)).length;
}

let failures = 0;
function report(name: string, problem: string | undefined, detail: string[] = []): void {
  if (problem === undefined) {
    console.log(`ok ${name}`);
  } else {
    failures++;
    console.log(`FAIL ${name}: ${problem}`);
    for (const line of detail.slice(0, 40)) console.log(`    | ${line}`);
  }
}

function checkExamples(dir: string, logFile: string, rosettaRc: number): void {
  const tabletFile = path.join(dir, '.jsii.tabl.json');
  const snippets: Snippet[] = fs.existsSync(tabletFile)
    ? Object.values(JSON.parse(fs.readFileSync(tabletFile, 'utf8')).snippets ?? {})
    : [];
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => !l.startsWith('!!')) : [];
  const name = assemblyName();
  const units = [
    { label: 'rosetta-readme', module: name, markdown: path.join(ROOT, 'README.md') },
    ...docsFiles().map((f) => ({ label: `rosetta-docs/${f}`, module: moduleOf(f), markdown: path.join(DOCS, f) })),
  ];
  const attributed = new Set<number>();
  let total = 0;
  for (const unit of units) {
    const own = snippets.filter((s) => s.location?.api?.api === 'moduleReadme' && s.location.api.moduleFqn === unit.module);
    const errors: string[] = [];
    log.forEach((line, i) => {
      if (!line.startsWith(`${unit.module}-README-L`)) return;
      attributed.add(i);
      errors.push(...log.slice(i, i + 4).filter((l) => l.trim() !== ''));
    });
    const blocks = typescriptBlocks(fs.readFileSync(unit.markdown, 'utf8'));
    const failedToCompile = own.filter((s) => !s.didCompile).length;
    const untranslated = own.filter((s) => LANGUAGES.some((l) => s.translations[l] === undefined)).length;
    total += own.length;
    if (errors.length > 0 || failedToCompile > 0) {
      report(unit.label, `${failedToCompile || 'some'} of ${own.length} example(s) do not compile or translate`, errors);
    } else if (own.length !== blocks) {
      // A block rosetta did not see (or two identical ones, which it keeps once) would go unchecked.
      report(unit.label, `${blocks} TypeScript block(s) in the file, ${own.length} in the tablet`);
    } else if (untranslated > 0) {
      report(unit.label, `${untranslated} example(s) lack a translation`);
    } else {
      report(unit.label, undefined);
      console.log(own.length === 0
        ? '    no TypeScript example'
        : `    ${own.length} example(s) compiled and translated (${LANGUAGES.join(', ')})`);
    }
  }
  // Examples in API doc comments (none today) are checked in the same run.
  const apiDocs = snippets.filter((s) => s.location?.api?.api !== 'moduleReadme');
  const apiErrors = apiDocs.filter((s) => !s.didCompile).length;
  if (apiDocs.length > 0 || apiErrors > 0) {
    report('rosetta-api-docs', apiErrors > 0 ? `${apiErrors} of ${apiDocs.length} example(s) do not compile` : undefined);
    total += apiDocs.length;
  }
  if (rosettaRc !== 0 && failures === 0) {
    report('rosetta', `jsii-rosetta exited ${rosettaRc}`, log.filter((_line, i) => !attributed.has(i)).slice(-40));
  }
  console.log(`rosetta: ${total} example(s) in all`);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function checkLinks(): void {
  const files = [path.join(ROOT, 'README.md'), ...docsFiles().map((f) => path.join(DOCS, f))];
  const broken: string[] = [];
  let count = 0;
  for (const file of files) {
    let fence = false;
    fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (line.startsWith('```')) fence = !fence;
      if (fence) return;
      for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        count++;
        const [rel, anchor] = target.split('#');
        const resolved = rel === '' ? file : path.resolve(path.dirname(file), rel);
        const where = `${path.relative(ROOT, file)}:${i + 1}: ${target}`;
        if (!fs.existsSync(resolved)) {
          broken.push(`${where} (no such file)`);
        } else if (anchor !== undefined && !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
          broken.push(`${where} (no such heading)`);
        }
      }
    });
  }
  report('docs-links', broken.length > 0 ? `${broken.length} of ${count} link(s) point nowhere` : undefined, broken);
  if (broken.length === 0) console.log(`    ${count} link(s) between README.md and docs/ resolve`);
}

const [command, dir, logFile, rc] = process.argv.slice(2);
if (command === 'prepare' && dir) {
  prepare(path.resolve(dir));
} else if (command === 'report' && dir && logFile) {
  checkExamples(path.resolve(dir), logFile, Number(rc ?? 0));
  checkLinks();
  process.exit(failures > 0 ? 1 : 0);
} else {
  console.error('usage: rosetta-docs.ts prepare DIR | report DIR LOG RC');
  process.exit(2);
}
