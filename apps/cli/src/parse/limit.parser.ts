import { type LimitKind, parseLimit } from '@warren/api';

/**
 * `--concurrency` and `--max-errors` by the one `N|N%` rule of `@warren/api`: a count (`5`) is sent
 * as a number and a share of the resolved hosts (`25%`) as the string `"25%"`; the controller turns
 * shares into counts once it knows how many hosts the target matched. Throws an Error naming the flag.
 */
export function parseLimitFlag(text: string, kind: LimitKind): number | string {
  const limit = parseLimit(text, kind, kind === 'concurrency' ? '--concurrency' : '--max-errors');
  return 'count' in limit ? limit.count : `${limit.percent}%`;
}
