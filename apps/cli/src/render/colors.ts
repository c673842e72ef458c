import type { InvocationState } from '@warren/protocol';

/** Wraps text in an ANSI color, or returns it unchanged when color is off. */
export type Paint = (text: string, state: InvocationState | 'online' | 'offline') => string;

const GREEN = 32;
const RED = 31;
const YELLOW = 33;

/** Green for success, yellow for "nobody answered" (timed out, lost, undelivered, …), red for the rest of failures. */
const COLOR_OF: Partial<Record<InvocationState | 'online' | 'offline', number>> = {
  succeeded: GREEN,
  online: GREEN,
  failed: RED,
  error: RED,
  rejected: RED,
  unknown_host: RED,
  timed_out: YELLOW,
  lost: YELLOW,
  undelivered: YELLOW,
  cancelled: YELLOW,
  skipped: YELLOW,
  offline: YELLOW,
};

/** Colors on: an escape per state; off: the identity. */
export function painter(enabled: boolean): Paint {
  if (!enabled) return (text) => text;
  return (text, state) => {
    const code = COLOR_OF[state];
    return code === undefined ? text : `\x1b[${code}m${text}\x1b[0m`;
  };
}
