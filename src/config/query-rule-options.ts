/** Where a query rule sends the statements it matches. */
export class RuleDestination {
  /** The writer hostgroup (writes, locking reads, session state). */
  public static readonly WRITER = new RuleDestination('writer');
  /** The reader hostgroup (plain reads). Falls back to the writer when the backend has no readers. */
  public static readonly READERS = new RuleDestination('readers');

  /**
   * A hostgroup by id; it must be the writer or the reader hostgroup of the configuration (checked
   * at synth time, so not a token).
   */
  public static hostgroup(id: number): RuleDestination {
    return new RuleDestination('hostgroup', id);
  }

  /** `writer`, `readers` or `hostgroup`. */
  public readonly kind: string;
  /** The hostgroup id when `kind` is `hostgroup`. */
  public readonly hostgroupId?: number;

  private constructor(kind: string, hostgroupId?: number) {
    this.kind = kind;
    this.hostgroupId = hostgroupId;
  }
}

/** One query rule (`mysql_query_rules`). Rules match the digest text with RE2, case-insensitively. */
export interface QueryRuleOptions {
  /**
   * RE2 regular expression run against the statement's digest (`match_digest`): literals are `?`,
   * whitespace is folded, comments are gone. Lookaround, backreferences, possessive quantifiers
   * and atomic groups are rejected (RE2 does not have them). Use `\x22` for a double quote.
   */
  readonly match: string;

  /**
   * Where matching statements go (`destination_hostgroup`).
   * @default - the session's current hostgroup (the rule only sets the other fields)
   */
  readonly destination?: RuleDestination;

  /**
   * Cache result sets of matching statements for this long (`cache_ttl`, milliseconds).
   * @default - no caching
   */
  readonly cacheTtlMs?: number;

  /**
   * Allow (true) or forbid (false) connection multiplexing after a matching statement (`multiplex`).
   * @default - ProxySQL decides (see the multiplexing notes in docs/configuration.md)
   */
  readonly multiplex?: boolean;

  /**
   * Kill a matching statement that runs longer than this (`timeout`, milliseconds).
   * @default - mysql-default_query_timeout
   */
  readonly timeoutMs?: number;

  /**
   * Also send matching statements to this hostgroup and discard its results (`mirror_hostgroup`).
   * @default - no mirroring
   */
  readonly mirror?: RuleDestination;

  /**
   * Stop evaluating later rules when this one matches (`apply`).
   * @default true
   */
  readonly apply?: boolean;

  /**
   * Match case-sensitively (`re_modifiers` empty instead of `CASELESS`).
   * @default false
   */
  readonly caseSensitive?: boolean;

  /**
   * Free text stored with the rule (`comment`).
   * @default - none
   */
  readonly comment?: string;
}
