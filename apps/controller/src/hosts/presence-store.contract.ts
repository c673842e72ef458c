import { describe, expect, it } from 'vitest';
import type { PresenceRecord, PresenceStore } from './presence-store.port';

/** A heartbeat of `host` signed at `sentAt` (ms), read 5 ms later. */
export function beat(host: string, sentAt: number, more: Partial<PresenceRecord> = {}): PresenceRecord {
  return {
    host,
    keyId: `SHA256:${host}`,
    status: 'online',
    labels: { role: 'web' },
    version: '1.0.0',
    running: 0,
    concurrency: 4,
    intervalMs: 5_000,
    sentAt,
    receivedAt: sentAt + 5,
    ...more,
  };
}

/**
 * The behaviour every {@link PresenceStore} adapter shares. `open` gives a store over empty storage
 * (a fresh one for each test).
 */
export function describePresenceStoreContract(label: string, open: () => Promise<PresenceStore>): void {
  describe(`${label} (PresenceStore contract)`, () => {
    it('records every field of each heartbeat and lists them by host, bytewise', async () => {
      const store = await open();
      const web = beat('web1', 1_764_555_000_123, { labels: { role: 'web', zone: 'eu' }, running: 2 });
      await store.record([web, beat('db1', 2), beat('Zeta', 3, { status: 'goodbye' })]);
      expect(await store.list()).toEqual([beat('Zeta', 3, { status: 'goodbye' }), beat('db1', 2), web]);
    });

    it('replaces a host record only by a newer heartbeat, in later batches and within one', async () => {
      const store = await open();
      await store.record([beat('web1', 10, { running: 1 })]);
      await store.record([beat('web1', 9, { running: 9 })]); // older: a late copy from another controller
      await store.record([beat('web1', 10, { running: 8 })]); // the same heartbeat again
      expect((await store.list()).map((r) => [r.sentAt, r.running])).toEqual([[10, 1]]);
      await store.record([beat('web1', 12, { running: 3 }), beat('web1', 11, { running: 2 })]);
      expect((await store.list()).map((r) => [r.sentAt, r.running])).toEqual([[12, 3]]);
      await store.record([beat('web1', 20, { status: 'goodbye', keyId: 'SHA256:new', labels: {} })]);
      expect(await store.list()).toEqual([beat('web1', 20, { status: 'goodbye', keyId: 'SHA256:new', labels: {} })]);
    });

    it('forgets the hosts named, and only those; an empty batch or list changes nothing', async () => {
      const store = await open();
      await store.record([beat('a', 1), beat('b', 1), beat('c', 1)]);
      await store.record([]);
      await store.forget([]);
      await store.forget(['a', 'c', 'unknown']);
      expect((await store.list()).map((r) => r.host)).toEqual(['b']);
      await store.record([beat('a', 1)]); // heard again after being forgotten: recorded afresh
      expect((await store.list()).map((r) => r.host)).toEqual(['a', 'b']);
    });
  });
}
