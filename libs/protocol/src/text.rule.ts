/**
 * What a host may say about itself in a heartbeat, and how it must look: the controller shows it to
 * operators (`warren hosts`), so it is checked on the wire as data, never as terminal input.
 */

/**
 * Label keys, wherever labels are given (an agent's `--labels`, the CLI's `--label`, the API's
 * `labels`, a heartbeat's `labels`): like host ids, plus `/` for prefixed keys (`k8s.io/zone`); 1 to
 * 63 characters.
 */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

/** Bounds of one set of labels (an agent's, or a selector). */
export const LABEL_LIMITS = {
  /** pairs in one set */
  pairs: 64,
  /** characters of one value */
  valueLength: 256,
} as const;

/**
 * An agent's `version` in a heartbeat: a release name as `0.1.0`, `1.2.0-rc.1+build.5`; 1 to 64
 * letters, digits, `.`, `+`, `_`, `-`, starting with a letter or digit.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;

/**
 * Characters a terminal acts on rather than shows: C0 controls (tab included: a value is one
 * field), DEL, C1 controls (U+0080–U+009F; U+009B is a one-character CSI to many terminals), and
 * the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
 */
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** True when `text` holds no character of {@link NOT_PRINTABLE}: what a label value must be. */
export function isPrintable(text: string): boolean {
  return !NOT_PRINTABLE.test(text);
}
