import type { RollingProgress, RollingStep } from '../store/task-store.port';

/**
 * Rolling runs: how many hosts may run at once, and how many may fail before the rest are skipped.
 * Both limits are given as a count (`5`) or a share of the task's hosts (`"25%"`); the controller
 * turns them into counts once it knows how many hosts the target resolved to, and stores those.
 */

/** `5` or `"25%"`, as the API and the CLI accept them. */
export type LimitSpec = number | string;

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/** A limit that is neither a whole number nor a percentage in range. */
export class LimitSpecError extends Error {
  override readonly name = 'LimitSpecError';
}

/**
 * The count `spec` stands for among `total` hosts. A percentage of the concurrency rounds up and
 * is at least 1 (`10%` of 5 hosts runs one at a time, never none); a percentage of the error budget
 * rounds down, as Ansible's `max_fail_percentage`: `"more than 10% failed"` of 15 hosts is more than 1.
 */
export function resolveLimit(spec: LimitSpec, total: number, kind: 'concurrency' | 'maxErrors'): number {
  const min = kind === 'concurrency' ? 1 : 0;
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < min)
      throw new LimitSpecError(
        `${kind} must be a whole number of at least ${min}, or a percentage like "25%"; got ${spec}`,
      );
    return spec;
  }
  const m = PERCENT.exec(spec.trim());
  if (!m) {
    if (/^\d+$/.test(spec.trim())) return resolveLimit(Number(spec.trim()), total, kind);
    throw new LimitSpecError(`${kind} must be a whole number or a percentage like "25%"; got ${JSON.stringify(spec)}`);
  }
  const pct = Number(m[1]);
  if (pct > 100 || (kind === 'concurrency' && pct <= 0))
    throw new LimitSpecError(
      `${kind} percentage must be ${kind === 'concurrency' ? 'above 0' : 'at least 0'} and at most 100%; got ${spec}`,
    );
  const exact = (total * pct) / 100;
  return kind === 'concurrency' ? Math.max(1, Math.ceil(exact - 1e-9)) : Math.floor(exact + 1e-9);
}

/**
 * The next step of a rolling task, from its counts alone (so a restarted controller decides as the
 * one before it): once more than `maxErrors` sent invocations did not succeed, skip every unsent
 * one; otherwise send as many as `concurrency` leaves room for. Cancelled and skipped ones are the
 * operator's or the budget's doing, not a host's failure, and are not counted.
 */
export function nextRollingStep(p: RollingProgress): RollingStep {
  if (p.unsent === 0) return { send: 0 };
  if (p.maxErrors !== null && p.failed > p.maxErrors) {
    const sent = p.total - p.unsent;
    return {
      send: 0,
      skipReason: `error budget exhausted: ${p.failed} of ${sent} sent did not succeed (at most ${p.maxErrors} allowed); never sent`,
    };
  }
  const room = p.concurrency === null ? p.unsent : p.concurrency - p.inFlight;
  return { send: Math.max(0, Math.min(room, p.unsent)) };
}
