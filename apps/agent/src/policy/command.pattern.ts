import type { CommandPattern } from './policy.types';
import { PolicyError } from './policy.error';

/**
 * Characters through which `sh` chains, substitutes or redirects commands. In an `allow` glob, `*`
 * and `?` never match them, so `df *` cannot be stretched into `df -h; rm -rf /`; they match only
 * where the pattern spells them out. Backslash is not among them: every way it changes what runs
 * (a line continuation) needs a newline, which is.
 */
const SHELL_METACHARACTERS = new Set([';', '&', '|', '`', '$', '(', ')', '<', '>', '\n']);

/**
 * `/body/` or `/body/i`, written like a JavaScript regex literal: a `/` inside the body must be
 * escaped as `\/`. That keeps absolute paths such as `/usr/bin/uptime` globs; the only flag is `i`
 * because `/bin/su` must stay a glob too.
 */
const REGEX_LITERAL = /^\/((?:[^/\\]|\\[\s\S])+)\/(i?)$/;

/**
 * Characters an argument placeholder (`{unit}`) may match: letters, digits and `_ . , : @ % + =
 * -`. Nothing the shell rewrites (quotes, backslash, `$`, globs `* ? [`, `~`, `{ }`, `#`,
 * whitespace, metacharacters), so the word the command names is the word the program gets; and no
 * `/`, so a pinned name cannot become a path.
 */
const WORD_CHAR = /^[A-Za-z0-9_.,:@%+=-]$/;
/**
 * What a placeholder's word may not start with: `-` (an option), `+` (some programs' option, `+N`),
 * `.` (so never `.` or `..`: a pinned name in a path cannot climb out of it) and `@` (`@file`, an
 * argument file of options to gcc, javac and others).
 */
const NOT_FIRST = new Set(['-', '+', '.', '@']);
/** `{name}`: an argument placeholder in an `allow` glob. Any other brace is a literal character. */
const PLACEHOLDER = /^\{[A-Za-z_][A-Za-z0-9_-]{0,63}\}/;

/**
 * `word1` is the first character of a placeholder (a word character not in {@link NOT_FIRST}, so
 * never an option, `+N`, `.`, `..` or `@file`), `wordN` the rest (a run of word characters, like a `*` over them only).
 */
type Token =
  { kind: 'char'; char: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'word1' } | { kind: 'wordN' };

/**
 * Compiles one entry of a policy's `allow` or `deny` list. A glob must match the whole command;
 * `*` is any run of characters, `?` one character, `\` makes the next character literal. In `allow`
 * the wildcards stop at shell metacharacters; in `deny` they match anything, so that a deny entry
 * can only catch more. `*` also matches options (`systemctl status *` admits `-H user@host`): to
 * pin an argument, an `allow` glob writes `{name}`, one word of {@link WORD_CHAR} characters that
 * does not start with `-`, `+`, `.` or `@` (`systemctl status {unit}` admits `nginx`, not `-H user@host`);
 * a `deny` glob may not use it, since there it could only catch less than `*`. A regex (`/…/`) is
 * searched anywhere in the command unless it anchors itself, and has no metacharacter protection.
 * Throws {@link PolicyError} with the problem (no field name).
 */
export function compilePattern(source: string, list: 'allow' | 'deny'): CommandPattern {
  if (source === '') throw new PolicyError('a pattern must not be empty');
  const literal = REGEX_LITERAL.exec(source);
  if (literal) {
    let re: RegExp;
    try {
      re = new RegExp(literal[1], literal[2]);
    } catch (err) {
      throw new PolicyError((err as Error).message);
    }
    return { source, kind: 'regex', test: (command) => re.test(command) };
  }
  const tokens = tokenize(source, list);
  const crossMeta = list === 'deny';
  return { source, kind: 'glob', test: (command) => globMatches(tokens, command, crossMeta) };
}

function tokenize(source: string, list: 'allow' | 'deny'): Token[] {
  const tokens: Token[] = [];
  const chars = Array.from(source);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const placeholder = c === '{' ? PLACEHOLDER.exec(chars.slice(i, i + 66).join('')) : null;
    if (placeholder) {
      if (list === 'deny')
        throw new PolicyError(
          `glob ${JSON.stringify(source)}: ${placeholder[0]} pins an argument, which only an allow entry can do (write * in deny, or \\${placeholder[0]} for the literal text)`,
        );
      tokens.push({ kind: 'word1' }, { kind: 'wordN' });
      i += placeholder[0].length - 1;
    } else if (c === '\\') {
      if (i + 1 === chars.length)
        throw new PolicyError(`glob ${JSON.stringify(source)} ends with a lone \\ (write \\\\ for a backslash)`);
      tokens.push({ kind: 'char', char: chars[++i] });
    } else if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'char', char: c });
    }
  }
  return tokens;
}

/**
 * Runs the glob as a set of positions advanced one character at a time: time proportional to the
 * command's length times the pattern's, whatever the command, where a backtracking regex could take
 * exponential time on a long command and stall the agent.
 */
function globMatches(tokens: readonly Token[], command: string, crossMeta: boolean): boolean {
  const m = tokens.length;
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  cur[0] = 1;
  skipStars(tokens, cur);
  for (const ch of command) {
    next.fill(0);
    const wild = crossMeta || !SHELL_METACHARACTERS.has(ch);
    const word = WORD_CHAR.test(ch);
    let alive = false;
    for (let p = 0; p < m; p++) {
      if (!cur[p]) continue;
      const to = step(tokens[p], p, ch, wild, word);
      if (to >= 0) {
        next[to] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    skipStars(tokens, next);
    [cur, next] = [next, cur];
  }
  return cur[m] === 1;
}

/** Where token `t` at position `p` goes on reading `ch`: `p` (it loops), `p + 1`, or -1 (no match). */
function step(t: Token, p: number, ch: string, wild: boolean, word: boolean): number {
  switch (t.kind) {
    case 'star':
      return wild ? p : -1;
    case 'wordN':
      return word ? p : -1;
    case 'one':
      return wild ? p + 1 : -1;
    case 'word1':
      return word && !NOT_FIRST.has(ch) ? p + 1 : -1;
    case 'char':
      return t.char === ch ? p + 1 : -1;
  }
}

/** A star (and the rest of a placeholder) may match nothing: wherever one is reachable, so is the position after it. */
function skipStars(tokens: readonly Token[], set: Uint8Array): void {
  for (let p = 0; p < tokens.length; p++)
    if (set[p] && (tokens[p].kind === 'star' || tokens[p].kind === 'wordN')) set[p + 1] = 1;
}
