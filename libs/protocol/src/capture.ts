import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import type { OutputCapture } from './messages';

/** A character that is not of the base64 alphabet (RFC 4648 §4: no line breaks, no URL alphabet); padding is checked apart. */
const NOT_BASE64 = /[^A-Za-z0-9+/]/;

/** Characters of the base64 of `n` bytes (RFC 4648 §4: 4 for every 3, padded). */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Whether `kept` is UTF-8 by the rule of {@link OutputCapture.utf8}: valid UTF-8 (RFC 3629; the
 * WHATWG decoder's strict mode, so overlongs, surrogates and code points past U+10FFFF are not);
 * when `truncated`, an incomplete character at the very end is allowed if its bytes are a valid
 * start of one, since the cap cut it, not the command.
 */
export function isCaptureUtf8(kept: Buffer, truncated: boolean): boolean {
  if (isUtf8(kept)) return true;
  if (!truncated) return false;
  try {
    // In streaming mode an incomplete final sequence is held back, not an error; anything invalid before it throws.
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(kept, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * The capture of a stream of which the command wrote `total` bytes and `kept` are the first: as
 * UTF-8 text when `kept` is valid UTF-8 (whole characters) and its JSON string is no longer than
 * base64 would be, else as base64. So no capture costs more than base64 on the wire (4/3 of the
 * kept bytes, plus two quotes), whatever it holds: text full of control characters, which JSON
 * escapes to six bytes each (`\u0001`), travels as base64.
 */
export function encodeCapture(kept: Buffer, total: number): OutputCapture {
  const truncated = total > kept.length;
  const utf8 = isCaptureUtf8(kept, truncated);
  if (utf8 && isUtf8(kept) && jsonEscapesFitIn(kept, base64Length(kept.length) - kept.length))
    return { data: kept.toString('utf8'), utf8, bytes: total, truncated };
  return { data: kept.toString('base64'), encoding: 'base64', utf8, bytes: total, truncated };
}

/**
 * Whether JSON escaping the UTF-8 text `bytes` adds at most `room` bytes: `"`, `\` and the short
 * escapes (`\b \t \n \f \r`) add one, other controls below U+0020 five (`\u0001`);
 * nothing else is escaped (ECMA-262 JSON.stringify, for text with no lone surrogates, as valid
 * UTF-8 has none). Counted on the bytes, and it stops as soon as the room is used up.
 */
function jsonEscapesFitIn(bytes: Buffer, room: number): boolean {
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) continue;
    extra += b === 0x22 || b === 0x5c || (b >= 0x08 && b <= 0x0d && b !== 0x0b) ? 1 : 5;
    if (extra > room) return false;
  }
  return true;
}

/**
 * The kept bytes of a capture, exactly. For a capture from an agent before exact capture (no
 * `utf8`), the UTF-8 bytes of its text: exact only if the command's output was valid UTF-8.
 */
export function captureBytes(c: OutputCapture): Buffer {
  return Buffer.from(c.data, c.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * A capture as text, for people and the JSON API: its kept bytes decoded as UTF-8 with invalid
 * sequences replaced (U+FFFD); when truncated, a character the cap cut is dropped rather than
 * replaced. The agent's live output chunks of a stream, joined, are this text.
 */
export function captureText(c: OutputCapture): string {
  if (c.encoding !== 'base64') return c.data;
  const decoder = new StringDecoder('utf8');
  const text = decoder.write(captureBytes(c));
  return c.truncated ? text : text + decoder.end();
}

/**
 * Why `c` (already known to be an object) is not a well-formed capture, as lines naming `field`;
 * [] when it is. Checks that base64 is canonical and that, in the exact forms (those that say
 * `utf8`), the kept bytes are at most `bytes` and fewer exactly when `truncated`.
 */
export function captureProblems(field: string, c: Partial<Record<keyof OutputCapture, unknown>>): string[] {
  const problems: string[] = [];
  if (typeof c.data !== 'string') problems.push(`${field}.data must be a string`);
  if (typeof c.bytes !== 'number' || !Number.isSafeInteger(c.bytes) || c.bytes < 0)
    problems.push(`${field}.bytes must be a non-negative integer`);
  if (typeof c.truncated !== 'boolean') problems.push(`${field}.truncated must be a boolean`);
  if (c.encoding !== undefined && c.encoding !== 'base64') problems.push(`${field}.encoding must be base64 or absent`);
  if (c.utf8 !== undefined && typeof c.utf8 !== 'boolean') problems.push(`${field}.utf8 must be a boolean`);
  if (problems.length > 0) return problems;
  const data = c.data as string;
  let kept: number;
  if (c.encoding === 'base64') {
    if (c.utf8 === undefined) return [`${field}.utf8 must be a boolean when encoding is base64`];
    const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
    if (data.length % 4 !== 0 || NOT_BASE64.test(data.slice(0, data.length - padding)))
      return [`${field}.data is not canonical base64`];
    kept = (data.length / 4) * 3 - padding;
  } else {
    if (c.utf8 === false) return [`${field}.utf8 is false but data is text: bytes that are not UTF-8 travel as base64`];
    if (c.utf8 === undefined) return []; // an agent before exact capture: its text's length says nothing of the bytes
    kept = Buffer.byteLength(data);
  }
  const bytes = c.bytes as number;
  if (kept > bytes) return [`${field}.data holds ${kept} bytes, more than bytes (${bytes})`];
  if (c.truncated !== kept < bytes)
    return [`${field}.truncated must be ${kept < bytes} when data holds ${kept} of ${bytes} bytes`];
  return [];
}
