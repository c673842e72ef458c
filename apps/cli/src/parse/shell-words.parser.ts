import { UsageError } from '../cli.errors';

const BLANK = /[ \t\r\n]/;
/** What a backslash escapes inside double quotes, as in sh; before anything else it stays a backslash. */
const DQUOTE_ESCAPES = new Set(['"', '\\', '$', '`']);

/**
 * Splits one line into words the way sh does, without expanding anything: blanks separate words;
 * `'…'` keeps everything literally; `"…"` keeps everything but `\"`, `\\`, `\$`, `` \` ``; a
 * backslash outside quotes keeps the next character; `''` is an empty word; `#` at the start of a
 * word begins a comment. `*`, `?`, `$X` and `[…]` are left as typed, so host globs and ranges pass
 * through to the controller. Throws {@link UsageError} on an unterminated quote.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (BLANK.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (c === '#' && !inWord) break;
    inWord = true;
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) throw new UsageError(`unterminated single quote: ${line.slice(i)}`);
      word += line.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length)
          throw new UsageError(`unterminated double quote: ${line.slice(line.lastIndexOf('"', i - 1))}`);
        const d = line[i];
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && DQUOTE_ESCAPES.has(line[i + 1])) {
          word += line[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new UsageError('the line ends with a backslash: nothing for it to escape');
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
