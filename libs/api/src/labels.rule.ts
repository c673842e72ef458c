import { isPrintable, LABEL_KEY_PATTERN, LABEL_LIMITS } from '@warren/protocol';

// The rule is the wire's (an agent's heartbeat is checked by it too); re-exported for this library's users.
export { LABEL_KEY_PATTERN, LABEL_LIMITS };

/**
 * A label input that breaks the rule. The message names the pair, prefixed with `<field>: ` when the
 * caller named the input it came from (`labels: value of zone must be a string`), so that it can be
 * answered as it is (400).
 */
export class LabelError extends Error {
  override readonly name = 'LabelError';
  constructor(
    detail: string,
    /** the input the labels came from (`labels`), or undefined */
    readonly field?: string,
  ) {
    super(field ? `${field}: ${detail}` : detail);
  }
}

/** `k=v` → `[k, v]`, split at the first `=` (a value may hold more). Throws {@link LabelError}. */
export function parseLabelPair(pair: string): [string, string] {
  return splitPair(pair, undefined);
}

/** {@link parseLabelPair} naming `field` in its error (kept apart so that `pairs.map(parseLabelPair)` stays right). */
function splitPair(pair: string, field: string | undefined): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new LabelError(`label ${JSON.stringify(pair.slice(0, 80))} must be key=value`, field);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

/**
 * Pairs from any source as one set: keys match {@link LABEL_KEY_PATTERN}, values are strings of at
 * most 256 characters, at most 64 pairs; a pair given twice counts once, a key given two values is
 * refused (no host has both). Throws {@link LabelError} naming the bad pair (and `field` if given).
 */
export function labelSet(pairs: Iterable<readonly [string, unknown]>, field?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (!LABEL_KEY_PATTERN.test(k))
      throw new LabelError(
        `label key ${JSON.stringify(k.slice(0, 80))} must be 1 to 63 letters, digits, . _ / - starting with a letter or digit`,
        field,
      );
    if (typeof v !== 'string') throw new LabelError(`value of ${k} must be a string`, field);
    if (v.length > LABEL_LIMITS.valueLength)
      throw new LabelError(`value of ${k} is longer than ${LABEL_LIMITS.valueLength} characters`, field);
    if (!isPrintable(v)) throw new LabelError(`value of ${k} holds control characters`, field);
    if (k in out && out[k] !== v)
      throw new LabelError(`${k} is given twice (${out[k]}, ${v}); no host can have both`, field);
    out[k] = v;
  }
  const count = Object.keys(out).length;
  if (count > LABEL_LIMITS.pairs) throw new LabelError(`${count} labels; at most ${LABEL_LIMITS.pairs}`, field);
  return out;
}

/** `k=v,k2=v2` as typed on a command line or in an env variable (blanks around pairs ignored; empty: none). */
export function parseLabelList(text: string): Record<string, string> {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return labelSet(pairs.map(parseLabelPair));
}

/**
 * The API's `labels`: `{"zone": "eu"}` or `["zone=eu"]`, as one set (see {@link labelSet}). Throws
 * {@link LabelError} naming `field` if given (`labels: …`).
 */
export function normalizeLabels(value: unknown, field?: string): Record<string, string> {
  if (Array.isArray(value))
    return labelSet(
      value.map((item) => {
        if (typeof item !== 'string') throw new LabelError('each label must be a "key=value" string', field);
        return splitPair(item, field);
      }),
      field,
    );
  if (typeof value === 'object' && value !== null) return labelSet(Object.entries(value), field);
  throw new LabelError('must be an object of key: "value" pairs or an array of "key=value" strings', field);
}
