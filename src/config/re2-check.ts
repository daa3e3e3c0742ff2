/**
 * Finds regex constructs that ProxySQL's engine (RE2) rejects or that PCRE/JavaScript users expect
 * to work but RE2 does not have. Without this a bad rule is only noticed at run time, as a ProxySQL
 * log line and a rule that never matches.
 *
 * A small scanner rather than RE2 itself, so the library ships no native or WASM dependency; the
 * tests check every construct here against re2js (a port of RE2).
 */

/** A construct RE2 does not support, with a readable name, or undefined when the pattern is fine. */
export function findUnsupportedRe2Construct(pattern: string): string | undefined {
  let inClass = false;
  let prevWasQuantifier = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const next = pattern[i + 1];
    if (c === '\\') {
      if (next === undefined) return 'a trailing backslash';
      if (!inClass) {
        if (/[1-9]/.test(next)) return `a backreference (\\${next})`;
        if (next === 'k' || next === 'g') return `a named/numbered backreference (\\${next})`;
        if (next === 'Z') return '\\Z (use $ or \\z)';
        if (next === 'G') return '\\G';
        if (next === 'R' || next === 'X' || next === 'K') return `\\${next}`;
      }
      i++;
      prevWasQuantifier = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal member of the class.
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
      prevWasQuantifier = false;
      continue;
    }
    if (c === '(' && next === '?') {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith('=')) return 'a lookahead (?=...)';
      if (rest.startsWith('!')) return 'a negative lookahead (?!...)';
      if (rest.startsWith('<=')) return 'a lookbehind (?<=...)';
      if (rest.startsWith('<!')) return 'a negative lookbehind (?<!...)';
      if (rest.startsWith('>')) return 'an atomic group (?>...)';
      if (rest.startsWith('(')) return 'a conditional (?(...)...)';
      if (/^[R0-9+&]/.test(rest) || rest.startsWith('P>')) return 'a recursive pattern (?R)';
      if (rest.startsWith('#')) return 'an inline comment (?#...)';
      if (rest.startsWith('|')) return 'a branch reset group (?|...)';
    }
    if ((c === '+') && prevWasQuantifier) return 'a possessive quantifier (*+, ++, ?+, {n}+)';
    prevWasQuantifier = c === '*' || c === '+' || c === '?' || c === '}';
    // `x+?` is lazy (supported); the quantifier after it must not count as a second quantifier.
    if (c === '?' && i > 0 && '*+?}'.includes(pattern[i - 1])) prevWasQuantifier = false;
  }
  if (inClass) return 'an unterminated character class';
  return undefined;
}
