/**
 * The programs that run in the ProxySQL task are real files in `src/task-programs/` (POSIX sh and
 * awk, linted by shellcheck in CI), shipped in the package as `lib/task-programs/` and read here at
 * synth time into the container commands: the official image is used as it is, so a program reaches
 * the task only as the text of its container's `sh -c` command.
 *
 * A program's command is made of:
 * 1. its inputs, one `NAME='value'` assignment a line: what only the construct knows (another
 *    program's text such as an awk renderer, SQL built from the metric catalog). The file reads
 *    each as `"$NAME"`; tests may run the file itself with the inputs in its environment, which
 *    is the same to the program;
 * 2. the file without its comment lines and blank lines: they are for readers and for shellcheck,
 *    and would only grow the task definition (which has a size limit). Only whole lines whose first
 *    non-blank character is `#` are dropped, so the files hold no here-document and no quoted
 *    string that spans lines (a test has bash parse each sh program before and after the drop and
 *    compares the two).
 */
import * as fs from 'fs';
import * as path from 'path';

/** Where the program files are: `src/task-programs` in the repository, `lib/task-programs` in the package. */
export const TASK_PROGRAMS_DIR = path.join(__dirname, '..', 'task-programs');

/** One program of the task, ready to be a container command. */
export interface TaskProgram {
  /** The file, for tests that run it. */
  readonly file: string;
  /** The inputs the command assigns ahead of the file's text (name → value). */
  readonly inputs: { readonly [name: string]: string };
  /** The text to run with `sh -c` (or as the awk program text, for an awk file without inputs). */
  readonly command: string;
}

/** Quote a string for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, '\'\\\'\'')}'`;
}

/** A file's text as it ships: without comment lines and blank lines. */
export function withoutComments(text: string): string {
  const lines = text.split('\n').filter((line) => !/^\s*(#.*)?$/.test(line));
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * Read program `name` (a file of `src/task-programs/`) and assemble its command. An input the
 * file never reads as `"$NAME"` is a mistake in the caller and fails the synth.
 */
export function taskProgram(name: string, inputs: { [name: string]: string } = {}): TaskProgram {
  const file = path.join(TASK_PROGRAMS_DIR, name);
  const text = fs.readFileSync(file, 'utf8');
  for (const input of Object.keys(inputs)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(input)) throw new Error(`task program ${name}: input ${input} must be an upper-case shell variable name`);
    if (!text.includes(`"$${input}"`)) throw new Error(`task program ${name}: input ${input} is never read as "$${input}"`);
  }
  const prelude = Object.entries(inputs).map(([k, v]) => `${k}=${shQuote(v)}\n`).join('');
  return { file, inputs, command: prelude + withoutComments(text) };
}
