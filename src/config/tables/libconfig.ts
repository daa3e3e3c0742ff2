/**
 * Writing the libconfig file ProxySQL reads at start-up: groups of settings (`name={ ... }`),
 * lists of rows (`name=( { ... }, ... )`), and the secret each placeholder in it stands for.
 */
import { Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { placeholder, SecretQuoting, SecretReference } from '../environment';

/** A setting by name; one without a value is left out (ProxySQL's default applies). */
export type Setting = [string, string | number | boolean | undefined];

/** Escape a plain (non-secret) string for a libconfig "..." string. Tokens pass through untouched. */
export function lcString(value: string): string {
  if (Token.isUnresolved(value)) return `"${value}"`;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r')}"`;
}

/** `name=value` for each setting that has a value, strings escaped. */
export function kv(entries: Setting[], indent: string): string[] {
  return entries.filter(([, v]) => v !== undefined).map(([k, v]) => `${indent}${k}=${typeof v === 'string' ? lcString(v) : String(v)}`);
}

/** One row of a list: `  { a=1, b="x" }`. */
export function row(fields: string[]): string {
  return '  { ' + fields.join(', ') + ' }';
}

/** The template being written, and the secrets its placeholders stand for. */
export class Template {
  private readonly lines: string[] = [];
  /** Env var → secret field, in the order the template first names them. */
  public readonly secretEnvironment: { [envVar: string]: SecretReference } = {};

  public push(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** A group of settings, one a line: `name=`, `{`, the lines, `}`. */
  public group(name: string, lines: string[]): void {
    this.push(`${name}=`, '{', ...lines, '}');
  }

  /** A list of rows (see `row`): `name=`, `(`, the rows, `)`. */
  public list(name: string, rows: string[]): void {
    this.push(`${name}=`, '(', rows.join(',\n'), ')');
  }

  /** Hand `field` of `secret` to the container as env var `envVar`. */
  public mapSecret(envVar: string, secret: secretsmanager.ISecret, field: string): void {
    this.secretEnvironment[envVar] = { secret, field };
  }

  /** `mapSecret`, and the placeholder the start script replaces with the value. */
  public secret(envVar: string, secret: secretsmanager.ISecret, field: string, quoting: SecretQuoting): string {
    this.mapSecret(envVar, secret, field);
    return placeholder(envVar, quoting);
  }

  public text(): string {
    return this.lines.join('\n') + '\n';
  }
}
