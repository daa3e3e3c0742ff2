/**
 * Nothing tracked may depend on the machine it was written on: a test that reads a file by an
 * absolute path, or an integ snapshot that carries stack traces, works on one checkout only.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const SCANNED = ['src', 'test', 'integ', '.ci', '.projenrc.ts'];

// Absolute paths under a build machine's work directory or a home directory. The directory names
// are joined at run time so that this file never matches itself.
const MACHINE_DIRS = ['work', 'root', 'home'];
const MACHINE_PATH = new RegExp(`(?<![\\w.:/~-])/(?:${MACHINE_DIRS.join('|')})/[\\w.-]`);

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...SCANNED], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter((f) => f.length > 0);
}

describe('repository hygiene', () => {
  test('the pattern finds a machine path and ignores URLs and relative paths', () => {
    const absolute = ['', MACHINE_DIRS[0], 'checkout', 'integ', 'topology.ts'].join('/');
    expect(MACHINE_PATH.test(`at referenceTopology (${absolute}:60:3)`)).toBe(true);
    expect(MACHINE_PATH.test(`"${['', MACHINE_DIRS[2], 'dev', '.aws'].join('/')}"`)).toBe(true);
    expect(MACHINE_PATH.test(`https://example.com/${MACHINE_DIRS[1]}/x`)).toBe(false);
    expect(MACHINE_PATH.test(`test/${MACHINE_DIRS[2]}/x`)).toBe(false);
  });

  test('no tracked file under src, test, integ, .ci or .projenrc.ts holds an absolute path of a machine', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const file of files) {
      const full = path.join(ROOT, file);
      if (!fs.existsSync(full)) continue; // deleted in the work tree, not yet committed
      const buffer = fs.readFileSync(full);
      if (buffer.includes(0)) continue; // binary
      buffer.toString('utf8').split('\n').forEach((line, i) => {
        if (MACHINE_PATH.test(line)) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 160)}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
