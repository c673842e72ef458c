/**
 * What a terminal would act on rather than show: C0 controls but newline and tab (ESC starts
 * escape sequences that retitle, recolour or move the cursor; CR rewrites the line; BEL rings),
 * DEL, C1 controls (U+0080–U+009F; U+009B is a one-character CSI to many terminals) and the bidi
 * embeddings, overrides and isolates of Unicode's UAX #9 (U+202A–U+202E, U+2066–U+2069), which
 * reorder what follows them on the line (CVE-2021-42574, "Trojan Source").
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Short names a reader knows; the rest is `\xHH` (C0, DEL) or `\uHHHH` (C1, bidi). */
const NAMED: Record<string, string> = {
  '\r': '\\r',
  '\u0000': '\\0',
  '\u0007': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
};

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * The one escape of human output: `text` with every character of {@link UNSAFE} shown as a visible
 * escape (`\x1b`, `\r`, `\u202e`), newline and tab kept. What a host controls (its output, its
 * reasons, labels and version, an audited command) goes through it before it reaches a terminal,
 * so no host can retitle, recolour or rewrite what the operator sees (`first\rsecond` no longer
 * hides the `host |` prefix). A backslash is left as it is: a reader may confuse `\x1b` typed by a
 * host with an escaped ESC, but never act on it. `--json` and `--raw` do not use it.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/**
 * `data` (JSON-like: objects, arrays, strings, numbers) with every string in it passed through
 * {@link escapeControls}, keys included, except the values of the properties named in `keep` (the
 * output fields with `--raw`, or those a renderer escapes line by line itself). Each renderer calls
 * it once on what it was given, so a field added to a view later is safe without a thought.
 */
export function forTerminal<T>(data: T, keep: readonly string[] = []): T {
  return walk(data, new Set(keep)) as T;
}

function walk(value: unknown, keep: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return escapeControls(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, keep));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[escapeControls(k)] = keep.has(k) ? v : walk(v, keep);
  return out;
}

/** What `JSON.stringify` leaves as it is but a terminal may act on: DEL, C1, the bidi controls, U+2028/U+2029. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as `--json` prints it (indented by 2): `JSON.stringify` already writes C0 controls (ESC
 * included) as `\u001b`; this writes DEL, C1 and the bidi controls as `\uHHHH` escapes too. The
 * document parses to the very same value: a script reading it loses nothing, a terminal showing it
 * acts on nothing.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
