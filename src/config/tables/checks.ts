import { Duration, Token } from 'aws-cdk-lib';
import { PLACEHOLDER_MARKER } from '../environment';

/** Why a hostgroup id cannot be a token. */
export const HOSTGROUP_TOKEN = 'must be a concrete number, not a token: hostgroup ids are compared at synth time (writer and readers must differ; users and rules must name one of them)';

/** The checks the tables validate with: every error names the prop, the rule and the value. */
export class Checks {
  /** Prefix of every message, e.g. the construct name. */
  private readonly ctx: string;

  constructor(ctx: string) {
    this.ctx = ctx;
  }

  public fail(path: string, rule: string, value: unknown): never {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new Error(`${this.ctx}: ${path} ${rule} (got ${shown})`);
  }

  /**
   * A number the configuration compares or computes with at synth time cannot wait for
   * CloudFormation: refuse a token by name rather than render a wrong value.
   */
  public concrete(path: string, value: number | undefined, rule: string): void {
    if (value !== undefined && Token.isUnresolved(value)) {
      throw new Error(`${this.ctx}: ${path} ${rule} (got a token)`);
    }
  }

  public int(path: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `must be an integer from ${min} to ${max}`, value);
    }
  }

  /**
   * A literal duration of whole seconds from `min` to `max`; `why` is added to the rule that is
   * broken, each in parentheses.
   */
  public wholeSeconds(path: string, value: Duration | undefined, min: number, max: number,
    why: { token?: string; range?: string } = {}): void {
    if (!value) return;
    if (value.isUnresolved()) this.fail(path, `must be a literal duration${why.token ? ` (${why.token})` : ''}`, 'a token');
    const seconds = value.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
      this.fail(path, `must be whole seconds from ${min} to ${max}${why.range ? ` (${why.range})` : ''}`, seconds);
    }
  }

  /** A string ProxySQL pastes into SQL inside `quote`: that quote would silently drop the row. */
  public sqlSafe(path: string, value: string | undefined, quote: '"' | '\''): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (value.includes(quote)) {
      this.fail(path, `must not contain ${quote} (ProxySQL pastes it into SQL unescaped and would drop the entry)`, value);
    }
    if (value.includes(PLACEHOLDER_MARKER)) this.fail(path, `must not contain "${PLACEHOLDER_MARKER}"`, value);
    if (/[\u0000-\u001f]/.test(value)) this.fail(path, 'must not contain control characters', value);
  }
}
