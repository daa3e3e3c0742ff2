import { QueryRuleOptions, RuleDestination } from './query-rule-options';

/** A built-in rule with its explanation in docs/configuration.md. */
export interface DefaultRule extends QueryRuleOptions {
  /** The statements it catches, for the table in docs/configuration.md. */
  readonly statement: string;
  /** Why they go where they go. */
  readonly why: string;
}

/**
 * The built-in read/write split. Order matters: the first matching rule with `apply` wins, and a
 * statement no rule applies to goes to the user's default hostgroup (the writer).
 * Patterns run on ProxySQL's digest text, so a literal such as `'FOR UPDATE'` is already `?`.
 */
export function readWriteSplitRules(): DefaultRule[] {
  // A read starts with SELECT (maybe after a parenthesis) or with a common table expression. RE2
  // has no lookahead, so a CTE in front of a write is caught by its own rule, ordered before the
  // reads; every rule that pins a SELECT to the writer applies after WITH too.
  const read = '^(\\(?\\s*SELECT|WITH)\\b';
  return [
    {
      statement: 'SELECT ... FOR UPDATE / FOR SHARE (incl. NOWAIT, SKIP LOCKED)',
      match: `${read}.*\\bFOR\\s+(UPDATE|SHARE)\\b`,
      destination: RuleDestination.WRITER,
      why: 'locking read: the lock must be taken where the rows are written',
      comment: 'rw-split: locking read',
    },
    {
      statement: 'SELECT ... LOCK IN SHARE MODE',
      match: `${read}.*\\bLOCK\\s+IN\\s+SHARE\\s+MODE\\b`,
      destination: RuleDestination.WRITER,
      why: 'locking read (pre-8.0 syntax)',
      comment: 'rw-split: locking read',
    },
    {
      statement: 'SELECT ... INTO @var / OUTFILE / DUMPFILE',
      match: `${read}.*\\bINTO\\b`,
      destination: RuleDestination.WRITER,
      why: 'sets session state or writes a file',
      comment: 'rw-split: select into',
    },
    {
      statement: 'SELECT reading a user variable (@x, not @@system_var)',
      match: `${read}.*([^@]|^)@([^@]|$)`,
      destination: RuleDestination.WRITER,
      why: 'user variables live on the connection that set them (the writer)',
      comment: 'rw-split: user variable',
    },
    {
      statement: 'SELECT LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(), GET_LOCK() and other session functions; SQL_CALC_FOUND_ROWS',
      match: `${read}.*(\\b(LAST_INSERT_ID|FOUND_ROWS|ROW_COUNT|GET_LOCK|RELEASE_LOCK|RELEASE_ALL_LOCKS|IS_FREE_LOCK|IS_USED_LOCK|CONNECTION_ID)\\s*\\(|\\bSQL_CALC_FOUND_ROWS\\b)`,
      destination: RuleDestination.WRITER,
      why: 'answers depend on the session that ran the previous statements',
      comment: 'rw-split: session function',
    },
    {
      statement: 'WITH ... UPDATE / DELETE / INSERT / REPLACE (a CTE in front of a write)',
      match: '^WITH\\b.*\\b(UPDATE|DELETE|INSERT|REPLACE)\\b',
      destination: RuleDestination.WRITER,
      why: 'a write, whatever precedes it',
      comment: 'rw-split: write after a CTE',
    },
    {
      statement: 'START TRANSACTION READ ONLY',
      match: '^START\\s+TRANSACTION\\s+(WITH\\s+CONSISTENT\\s+SNAPSHOT\\s*,\\s*)?READ\\s+ONLY\\s*(,|$)',
      destination: RuleDestination.READERS,
      why: 'a read-only transaction cannot write; transaction_persistent keeps it on the reader',
      comment: 'rw-split: read-only transaction',
    },
    {
      statement: 'any other SELECT, and WITH ... SELECT (incl. WITH RECURSIVE)',
      match: read,
      destination: RuleDestination.READERS,
      why: 'plain read',
      comment: 'rw-split: plain read',
    },
  ];
}

