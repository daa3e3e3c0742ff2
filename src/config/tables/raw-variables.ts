/**
 * The raw escape hatch (`rawMysqlVariables`, `rawAdminVariables`): any global variable ProxySQL
 * knows, except those a typed prop sets and those the task itself depends on.
 */
import { Checks } from './checks';
import { Setting } from './libconfig';

/** Raw variables by name, without the `mysql-` or `admin-` prefix. */
export type RawVariables = { [name: string]: string } | undefined;

/**
 * @param typed variables a prop sets, with the prop to use instead
 * @param fixed variables no prop changes, with the reason
 */
export function checkRawVariables(c: Checks, path: string, vars: RawVariables,
  typed: { [name: string]: string }, fixed: { [name: string]: string }): void {
  for (const [name, value] of Object.entries(vars ?? {})) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      c.fail(`${path}.${name}`, 'must be a variable name without its prefix (lower case letters, digits, _)', name);
    }
    if (typed[name]) c.fail(`${path}.${name}`, `is set by ${typed[name]}; use that instead`, value);
    if (fixed[name]) c.fail(`${path}.${name}`, `cannot be overridden: ${fixed[name]}`, value);
    if (typeof value !== 'string') c.fail(`${path}.${name}`, 'must be a string', value);
    c.sqlSafe(`${path}.${name}`, value, '"');
  }
}

/**
 * The settings with the raw variables added: a raw variable replaces a default of the same name
 * (the typed ones are refused by `checkRawVariables`), as libconfig rejects a group that names a
 * setting twice.
 */
export function withRaw(entries: Setting[], raw: RawVariables): Setting[] {
  const rawEntries = Object.entries(raw ?? {});
  return [...entries.filter(([k]) => !rawEntries.some(([r]) => r === k)), ...rawEntries];
}
