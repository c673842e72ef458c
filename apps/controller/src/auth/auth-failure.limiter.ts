import { Clock } from '@warren/runtime';

/** The limits of failed authentication per source address. */
export interface AuthFailureLimits {
  /** failures a second an address may sustain (the bucket's refill rate) */
  perSecond: number;
  /** failures in a row before the first refusal (the bucket's size) */
  burst: number;
  /** ms; per window, an address's first `burst` failures and first refusal are audited, the rest counted */
  windowMs: number;
  /** addresses remembered at most; beyond, the one idle longest is forgotten */
  maxSources: number;
}

/** 10 failures a second with a burst of 20: a person mistyping is never refused, a guesser is slowed to 10/s. */
export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = {
  perSecond: 10,
  burst: 20,
  windowMs: 60_000,
  maxSources: 10_000,
};

/** What {@link AuthFailureLimiter.admit} decided about a request from one address. */
export type Admission =
  | { admitted: true }
  | {
      admitted: false;
      /** ms until one more failure is allowed */
      retryAfterMs: number;
      /** the first refusal of a window: write one audit record and one log line for the window */
      report: boolean;
      /** refusals (429) and failures (401) of the previous window, for that record; zeros for the first */
      previous: { refused: number; failed: number };
    };

/**
 * The port: failed authentication counted per source address, so a token cannot be guessed at line
 * rate and the audit log cannot be flooded. {@link InMemoryAuthFailureLimiter} keeps the counts
 * per process; controllers sharing a database would share an adapter over it.
 */
export abstract class AuthFailureLimiter {
  /**
   * Before a token is checked: refused while the address's bucket is empty, whatever the token
   * (a guesser must not learn which guess was right from which one was let through).
   */
  abstract admit(source: string): Admission;
  /** After a token was refused (401); true when that failure is to be audited on its own (false: counted, reported later). */
  abstract failed(source: string): boolean;
}

/** The address an attacker cannot vary cheaply: IPv4 as it is, IPv6 by its /64 (one host usually holds a whole /64). */
export function sourceKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head, tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') && tail !== '' ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

interface SourceState {
  /** failures still allowed, fractional */
  tokens: number;
  /** ms; when `tokens` was last brought up to date */
  at: number;
  /** ms; when the current audit window began */
  windowStart: number;
  /** failures of this window audited one by one (at most `burst`) */
  audited: number;
  /** whether this window's first refusal was reported */
  reported: boolean;
  /** failures beyond `audited`, and refusals after the reported one, in this window */
  failed: number;
  refused: number;
  /** what earlier windows left unreported, for the next report */
  carry: { refused: number; failed: number };
}

/**
 * A token bucket per address in a bounded Map (insertion order = least recently seen first), read
 * against the injected {@link Clock}, so specs are exact. Per window, an address's first `burst`
 * failures are audited one by one and its first refusal is reported; the rest are counted and
 * reported with the next window's refusal. An address whose bucket is full and whose window has
 * passed is forgotten.
 */
export class InMemoryAuthFailureLimiter extends AuthFailureLimiter {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: AuthFailureLimits = DEFAULT_AUTH_FAILURE_LIMITS,
  ) {
    super();
  }

  /** addresses remembered now */
  get size(): number {
    return this.sources.size;
  }

  admit(source: string): Admission {
    const now = this.clock.now();
    const s = this.sources.get(sourceKey(source));
    if (!s) return { admitted: true };
    this.refill(s, now);
    if (s.tokens >= 1) return { admitted: true };
    const retryAfterMs = Math.ceil(((1 - s.tokens) * 1000) / this.limits.perSecond);
    this.roll(s, now);
    if (s.reported) {
      s.refused++;
      return { admitted: false, retryAfterMs, report: false, previous: { refused: 0, failed: 0 } };
    }
    s.reported = true;
    const previous = s.carry;
    s.carry = { refused: 0, failed: 0 };
    return { admitted: false, retryAfterMs, report: true, previous };
  }

  failed(source: string): boolean {
    const now = this.clock.now();
    const key = sourceKey(source);
    const s = this.sources.get(key) ?? this.fresh(now);
    this.refill(s, now);
    s.tokens = Math.max(0, s.tokens - 1);
    // Re-inserted: the Map's first entries are the least recently seen.
    this.sources.delete(key);
    this.sources.set(key, s);
    this.forgetIdle(now);
    this.roll(s, now);
    if (s.audited < this.limits.burst) {
      s.audited++;
      return true;
    }
    s.failed++;
    return false;
  }

  private fresh(now: number): SourceState {
    const zero = { refused: 0, failed: 0 };
    return { tokens: this.limits.burst, at: now, windowStart: now, audited: 0, reported: false, ...zero, carry: zero };
  }

  /** Starts a new window when the current one has passed, carrying what it left unreported. */
  private roll(s: SourceState, now: number): void {
    if (now - s.windowStart < this.limits.windowMs) return;
    s.carry = { refused: s.carry.refused + s.refused, failed: s.carry.failed + s.failed };
    Object.assign(s, { windowStart: now, audited: 0, reported: false, refused: 0, failed: 0 });
  }

  private refill(s: SourceState, now: number): void {
    s.tokens = Math.min(this.limits.burst, s.tokens + ((now - s.at) * this.limits.perSecond) / 1000);
    s.at = now;
  }

  /** Forgets the least recently seen addresses while they are idle (full bucket, window over) or too many. */
  private forgetIdle(now: number): void {
    for (const [key, s] of this.sources) {
      const full = s.tokens + ((now - s.at) * this.limits.perSecond) / 1000 >= this.limits.burst;
      const windowOver = now - s.windowStart >= this.limits.windowMs;
      if (this.sources.size > this.limits.maxSources || (full && windowOver)) this.sources.delete(key);
      else break;
    }
  }
}
