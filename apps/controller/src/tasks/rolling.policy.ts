import type { RollingProgress, RollingStep } from '../store/task-store.port';

/**
 * Rolling runs: how many hosts may run at once, and how many may fail before the rest are skipped.
 * Both limits are read by the one `N|N%` rule of `@warren/api` (`resolveLimit`) once the target is
 * resolved; the counts are stored, and this decides each step from them.
 */

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
