import type { HostTrust } from '@warren/api';
import type { KeyObject } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { parsePublicKey } from '@warren/protocol';
import { Clock } from '@warren/runtime';
import { HostKeyError } from '../errors/errors';
import { HOST_KEY_REPOSITORY, type HostKeyRepository } from './host-keys.port';

/** Whether the controller trusts what a host says: the contract's `HostTrust`. */
export type { HostTrust };

/** One host's keys as `warren hosts` shows them. */
export interface HostKeyView {
  trust: HostTrust;
  /** the accepted key, if any */
  keyId: string | null;
  /** keys seen and not accepted */
  pendingKeyIds: string[];
}

/** Outcome of a key announced in a heartbeat. */
export type SeenResult = 'accepted' | 'new-pending' | 'pending' | 'auto-accepted' | 'changed' | 'too-many-pending';

/** Pending keys recorded for one host name at most: a flood of fake heartbeats cannot grow the table. */
export const MAX_PENDING_KEYS_PER_HOST = 4;
/** Pending keys recorded in all at most. */
export const MAX_PENDING_KEYS = 10_000;

/**
 * The agents' public keys, persisted with the tasks: an agent's replies are stored only when they
 * are signed by its accepted key, so a host that merely publishes on the replies exchange cannot
 * write another host's results. A key is recorded `pending` on first sight and accepted by an
 * operator (`warren hosts accept <host>`), or at once with `--auto-accept`, as Salt does with
 * minion keys. Accepting a new key for a host retires the old one. The keys are persisted behind
 * the {@link HostKeyRepository}; the accepted ones are also held here, since every reply is checked
 * against them.
 */
@Injectable()
export class HostKeysStore implements OnModuleInit {
  /** fingerprint → host and key, of accepted keys only (the hot path of every reply) */
  private readonly acceptedByKeyId = new Map<string, { host: string; key: KeyObject }>();
  /** host → accepted fingerprint */
  private readonly acceptedByHost = new Map<string, string>();
  /**
   * host → the last key change under way. Each change reads the cache, writes the store, then the
   * cache: two changes of one host (two accepts, an accept and a heartbeat) run one after the
   * other, so neither decides on what the other is about to change.
   */
  private readonly changing = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(HOST_KEY_REPOSITORY) private readonly repo: HostKeyRepository,
    private readonly clock: Clock,
  ) {}

  /** Loads the accepted keys (Nest calls it before the consumers start, so no reply is judged without them). */
  async onModuleInit(): Promise<void> {
    for (const r of await this.repo.listAccepted()) this.cache(r.host, r.keyId, r.publicKey);
  }

  /**
   * Records a key a host announced (its heartbeat was verified with that very key). Returns what
   * that means: already accepted, newly pending, auto-accepted, or a changed key.
   */
  seen(host: string, publicKey: string, keyId: string, autoAccept: boolean): Promise<SeenResult> {
    return this.oneAtATime(host, () => this.record(host, publicKey, keyId, autoAccept));
  }

  private async record(host: string, publicKey: string, keyId: string, autoAccept: boolean): Promise<SeenResult> {
    const hasAccepted = this.acceptedByHost.has(host);
    const accept = autoAccept && !hasAccepted;
    const outcome = await this.repo.recordSeen(
      { host, keyId, publicKey },
      { accept, at: this.clock.now(), maxPendingPerHost: MAX_PENDING_KEYS_PER_HOST, maxPending: MAX_PENDING_KEYS },
    );
    if ('refused' in outcome) return outcome.refused;
    if ('known' in outcome) {
      if (outcome.known === 'accepted') return 'accepted';
      return this.acceptedByHost.has(host) ? 'changed' : 'pending';
    }
    if (outcome.inserted === 'accepted') {
      this.cache(host, keyId, publicKey);
      return 'auto-accepted';
    }
    return hasAccepted ? 'changed' : 'new-pending';
  }

  /**
   * Accepts a host's pending key: the only one, or the one named by `keyId` when there are several.
   * Retires the key it replaces. Throws {@link HostKeyError} when there is nothing (unambiguous) to accept.
   */
  accept(host: string, keyId: string | undefined, by: string): Promise<{ keyId: string; replaced: string | null }> {
    return this.oneAtATime(host, () => this.acceptNow(host, keyId, by));
  }

  private async acceptNow(
    host: string,
    keyId: string | undefined,
    by: string,
  ): Promise<{ keyId: string; replaced: string | null }> {
    const rows = (await this.repo.keysOf(host)).filter((r) => r.status === 'pending');
    const pick = keyId ? rows.find((r) => r.keyId === keyId) : rows.length === 1 ? rows[0] : undefined;
    if (!pick) {
      if (keyId) throw new HostKeyError(`host ${host} has no pending key ${keyId}`);
      if (rows.length === 0) {
        const current = this.acceptedByHost.get(host);
        throw new HostKeyError(
          current ? `host ${host} has no pending key (accepted: ${current})` : `no agent has announced host ${host}`,
        );
      }
      throw new HostKeyError(
        `host ${host} has ${rows.length} pending keys (${rows.map((r) => r.keyId).join(', ')}); name one with keyId`,
      );
    }
    const replaced = this.acceptedByHost.get(host) ?? null;
    await this.repo.accept(host, pick.keyId, by, this.clock.now());
    if (replaced) this.acceptedByKeyId.delete(replaced);
    this.cache(host, pick.keyId, pick.publicKey);
    return { keyId: pick.keyId, replaced };
  }

  /** Runs `change` after every earlier change of `host` has settled (whether it succeeded or not). */
  private oneAtATime<T>(host: string, change: () => Promise<T>): Promise<T> {
    const run = (this.changing.get(host) ?? Promise.resolve()).then(change, change);
    const tail = run.catch(() => undefined);
    this.changing.set(host, tail);
    void tail.then(() => {
      if (this.changing.get(host) === tail) this.changing.delete(host);
    });
    return run;
  }

  /** The host whose accepted key has this fingerprint, with the key; null if none. */
  acceptedKey(keyId: string): { host: string; key: KeyObject } | null {
    return this.acceptedByKeyId.get(keyId) ?? null;
  }

  /** Where a host stands. */
  async view(host: string): Promise<HostKeyView> {
    const rows = await this.repo.keysOf(host);
    const accepted = this.acceptedByHost.get(host) ?? null;
    const pendingKeyIds = rows.filter((r) => r.status === 'pending').map((r) => r.keyId);
    const trust: HostTrust = accepted
      ? pendingKeyIds.length > 0
        ? 'changed'
        : 'accepted'
      : pendingKeyIds.length > 0
        ? 'pending'
        : 'unknown';
    return { trust, keyId: accepted, pendingKeyIds };
  }

  /** Trust of a host for dispatch: accepted, pending/changed (known, not trusted… yet), or unknown. */
  isAccepted(host: string): boolean {
    return this.acceptedByHost.has(host);
  }

  private cache(host: string, keyId: string, publicKeyBase64: string): void {
    this.acceptedByKeyId.set(keyId, { host, key: parsePublicKey(publicKeyBase64).publicKey });
    this.acceptedByHost.set(host, keyId);
  }
}
