import { Clock } from '@warren/runtime';

/** The limits of failed authentication per source address. */
export interface AuthFailureLimits {
  /** failures a second an address may sustain (the bucket's refill rate) */
  perSecond: number;
  /** failures in a row before the first refusal (the bucket's size) */
  burst: number;
  /** addresses remembered at most; beyond, the one idle longest is forgotten */
  maxSources: number;
}

/** 10 failures a second with a burst of 20: a person mistyping is never refused, a guesser is slowed to 10/s. */
export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = {
  perSecond: 10,
  burst: 20,
  maxSources: 10_000,
};

/** What {@link AuthFailureLimiter.admit} decided about a request from one address. */
export type Admission =
  | { admitted: true }
  | {
      admitted: false;
      /** ms until one more failure is allowed */
      retryAfterMs: number;
    };

/**
 * The port: failed authentication counted per source address, so a token cannot be guessed at line
 * rate. {@link InMemoryAuthFailureLimiter} keeps the counts per process; controllers sharing a
 * database would share an adapter over it. The audit log folds the refusals themselves (one record
 * per address and reason a minute, with a count: `AggregatingAuditLog`).
 */
export abstract class AuthFailureLimiter {
  /**
   * Before a token is checked: refused while the address's bucket is empty, whatever the token
   * (a guesser must not learn which guess was right from which one was let through).
   */
  abstract admit(source: string): Admission;
  /** After a token was refused (401): one failure less allowed to the address. */
  abstract failed(source: string): void;
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
}

/**
 * A token bucket per address in a bounded Map (insertion order = least recently failed first), read
 * against the injected {@link Clock}, so specs are exact. An address whose bucket is full again is
 * forgotten, and beyond `maxSources` the least recently failed one is.
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
    return { admitted: false, retryAfterMs: Math.ceil(((1 - s.tokens) * 1000) / this.limits.perSecond) };
  }

  failed(source: string): void {
    const now = this.clock.now();
    const key = sourceKey(source);
    const s = this.sources.get(key) ?? { tokens: this.limits.burst, at: now };
    this.refill(s, now);
    s.tokens = Math.max(0, s.tokens - 1);
    // Re-inserted: the Map's first entries are the least recently seen.
    this.sources.delete(key);
    this.sources.set(key, s);
    this.forgetIdle(now);
  }

  private refill(s: SourceState, now: number): void {
    s.tokens = Math.min(this.limits.burst, s.tokens + ((now - s.at) * this.limits.perSecond) / 1000);
    s.at = now;
  }

  /** Forgets the least recently seen addresses while their bucket is full again, or while there are too many. */
  private forgetIdle(now: number): void {
    for (const [key, s] of this.sources) {
      const full = s.tokens + ((now - s.at) * this.limits.perSecond) / 1000 >= this.limits.burst;
      if (this.sources.size > this.limits.maxSources || full) this.sources.delete(key);
      else break;
    }
  }
}
