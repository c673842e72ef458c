/** A rolling limit as the API and the CLI take it: a count (`5`, `"5"`) or a share of the task's hosts (`"25%"`). */
export type LimitSpec = number | string;

/**
 * Which limit: `concurrency` (hosts at once: a count of at least 1, a share above 0%) or `maxErrors`
 * (hosts that may fail before the rest are skipped: a count of at least 0, a share of at least 0%).
 */
export type LimitKind = 'concurrency' | 'maxErrors';

/** The largest count either limit takes. */
export const MAX_LIMIT_COUNT = 1_000_000;

/** A limit read by {@link parseLimit}: a count, or a percentage (0–100) of the hosts. */
export type Limit = { count: number } | { percent: number };

/** A limit that breaks the rule; the message names the field. */
export class LimitSpecError extends Error {
  override readonly name = 'LimitSpecError';
}

const COUNT = /^\d+$/;
const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/**
 * The one `N|N%` rule (API body, CLI flags): a whole number from 1 (concurrency) or 0 (maxErrors)
 * to 1,000,000, given as a number or as digits in a string (`"3"`), or a percentage string
 * (`"25%"`, `"12.5%"`; blanks around it allowed, not inside) at most 100% and, for concurrency,
 * above 0%. Throws {@link LimitSpecError} naming `field` (default: the kind).
 */
export function parseLimit(value: unknown, kind: LimitKind, field: string = kind): Limit {
  const min = kind === 'concurrency' ? 1 : 0;
  const shown = JSON.stringify(value) ?? String(value);
  const text = typeof value === 'string' ? value.trim() : null;
  const count = typeof value === 'number' ? value : text !== null && COUNT.test(text) ? Number(text) : null;
  if (count !== null) {
    if (!Number.isInteger(count) || count < min)
      throw new LimitSpecError(
        `${field} must be a whole number of at least ${min} or a percentage like "25%", got ${shown}`,
      );
    if (count > MAX_LIMIT_COUNT) throw new LimitSpecError(`${field} must be at most ${MAX_LIMIT_COUNT}, got ${shown}`);
    return { count };
  }
  const m = text === null ? null : PERCENT.exec(text);
  if (!m)
    throw new LimitSpecError(
      `${field} must be a whole number of at least ${min} or a percentage like "25%", got ${shown}`,
    );
  const percent = Number(m[1]);
  if (percent > 100 || (kind === 'concurrency' && percent === 0))
    throw new LimitSpecError(
      `${field} as a percentage must be ${kind === 'concurrency' ? 'above 0%' : 'at least 0%'} and at most 100%, got ${shown}`,
    );
  return { percent };
}

/**
 * The count a limit stands for among `total` hosts. A concurrency share rounds up and is at least 1
 * (`10%` of 5 hosts runs one at a time, never none); an error-budget share rounds down, as Ansible's
 * `max_fail_percentage`: "more than 10% failed" of 15 hosts is more than 1. Throws {@link LimitSpecError}.
 */
export function resolveLimit(spec: unknown, total: number, kind: LimitKind): number {
  const limit = parseLimit(spec, kind);
  if ('count' in limit) return limit.count;
  const exact = (total * limit.percent) / 100;
  return kind === 'concurrency' ? Math.max(1, Math.ceil(exact - 1e-9)) : Math.floor(exact + 1e-9);
}
