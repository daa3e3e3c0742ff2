import { readWriteSplitRules } from './default-rules';
import { QueryRuleOptions } from './query-rule-options';

// One rule's shape lives in its own module, which default-rules.ts also reads: no import circle.
export * from './query-rule-options';

/** Where custom rules go relative to the built-in rules. */
export class RulePosition {
  /** Evaluated before the built-in rules, so they win. */
  public static readonly BEFORE_DEFAULTS = new RulePosition('before');
  /** Evaluated after the built-in rules: only statements the defaults did not apply to. */
  public static readonly AFTER_DEFAULTS = new RulePosition('after');

  /** `before` or `after`. */
  public readonly value: string;
  private constructor(value: string) {
    this.value = value;
  }
}

/** Options of `QueryRules.readWriteSplit()`. */
export interface ReadWriteSplitOptions {
  /**
   * Rules evaluated before the built-in read/write split rules.
   * @default - none
   */
  readonly before?: QueryRuleOptions[];

  /**
   * Rules evaluated after the built-in read/write split rules.
   * @default - none
   */
  readonly after?: QueryRuleOptions[];
}

/** A set of query rules: the built-in read/write split and/or your own. */
export class QueryRules {
  /**
   * The built-in read/write split: plain `SELECT`s and `START TRANSACTION READ ONLY` go to the
   * readers; locking reads, `SELECT ... INTO`, reads of user variables and session functions go to
   * the writer; everything else (writes, `BEGIN`, `SHOW`, `SET`, ...) falls through to the user's
   * default hostgroup, the writer.
   */
  public static readWriteSplit(options: ReadWriteSplitOptions = {}): QueryRules {
    return new QueryRules(true, options.before ?? [], options.after ?? []);
  }

  /** Only the given rules, no read/write split: everything else goes to the writer. */
  public static custom(rules: QueryRuleOptions[]): QueryRules {
    return new QueryRules(false, rules, []);
  }

  /** No rules at all: every statement goes to the user's default hostgroup (the writer). */
  public static none(): QueryRules {
    return new QueryRules(false, [], []);
  }

  /** Whether the built-in read/write split rules are included. */
  public readonly includesReadWriteSplit: boolean;
  private readonly before: QueryRuleOptions[];
  private readonly after: QueryRuleOptions[];

  private constructor(defaults: boolean, before: QueryRuleOptions[], after: QueryRuleOptions[]) {
    this.includesReadWriteSplit = defaults;
    this.before = [...before];
    this.after = [...after];
  }

  /** Add a rule before (default) or after the built-in rules. Returns this set. */
  public addRule(rule: QueryRuleOptions, position: RulePosition = RulePosition.BEFORE_DEFAULTS): QueryRules {
    (position === RulePosition.AFTER_DEFAULTS ? this.after : this.before).push(rule);
    return this;
  }

  /**
   * The rules in evaluation order with their stable ids and the prop path to name in errors:
   * rules before the defaults get ids 100.., the built-in rules 1000.., rules after the defaults
   * 2000.. — so adding a custom rule never renumbers the built-in ones.
   * @internal
   */
  public _resolve(): Array<{ id: number; path: string; rule: QueryRuleOptions; builtIn: boolean }> {
    const out: Array<{ id: number; path: string; rule: QueryRuleOptions; builtIn: boolean }> = [];
    this.before.forEach((rule, i) => out.push({ id: 100 + i, path: `queryRules.before[${i}]`, rule, builtIn: false }));
    if (this.includesReadWriteSplit) {
      readWriteSplitRules().forEach((rule, i) => out.push({ id: 1000 + 10 * i, path: `queryRules.readWriteSplit[${i}]`, rule, builtIn: true }));
    }
    this.after.forEach((rule, i) => out.push({ id: 2000 + i, path: `queryRules.after[${i}]`, rule, builtIn: false }));
    return out;
  }
}
