import { beforeEach, describe, expect, it } from 'vitest';
import type { PresenceRecord, PresenceStore } from './presence-store.port';

/** A heartbeat record of `host` sent at `sentAt` (ms), the rest plausible. */
export function presence(host: string, sentAt: number, over: Partial<PresenceRecord> = {}): PresenceRecord {
  return {
    host,
    keyId: `SHA256:${host}`,
    status: 'online',
    labels: { role: 'web' },
    version: '0.1.0',
    running: 1,
    concurrency: 4,
    intervalMs: 5_000,
    sentAt,
    receivedAt: sentAt + 3,
    ...over,
  };
}

/**
 * The behaviour every {@link PresenceStore} adapter has, run by each adapter's spec on a fresh,
 * migrated database (`make` returns a store on it).
 */
export function presenceStoreContract(make: () => Promise<PresenceStore>): void {
  describe('PresenceStore contract', () => {
    let store: PresenceStore;
    beforeEach(async () => {
      store = await make();
    });

    it('records heartbeats and lists every host with its fields, by host', async () => {
      await store.record([presence('web2', 1_000), presence('web1', 2_000, { status: 'goodbye', labels: {} })]);
      expect(await store.list()).toEqual([
        presence('web1', 2_000, { status: 'goodbye', labels: {} }),
        presence('web2', 1_000),
      ]);
    });

    it('replaces a host only with a newer heartbeat: an older or equal one changes nothing', async () => {
      await store.record([presence('web1', 2_000, { running: 2 })]);
      await store.record([presence('web1', 1_000, { running: 9 })]);
      await store.record([presence('web1', 2_000, { running: 8 })]);
      expect((await store.list())[0].running).toBe(2);
      await store.record([presence('web1', 3_000, { running: 3, labels: { role: 'db' }, keyId: 'SHA256:new' })]);
      expect(await store.list()).toEqual([
        presence('web1', 3_000, { running: 3, labels: { role: 'db' }, keyId: 'SHA256:new' }),
      ]);
    });

    it('keeps the newest of one host recorded twice in one batch', async () => {
      await store.record([presence('web1', 3_000, { running: 3 }), presence('web1', 2_000, { running: 2 })]);
      expect((await store.list())[0].running).toBe(3);
    });

    it('forgets the hosts named, and only them', async () => {
      await store.record([presence('a', 1), presence('b', 1), presence('c', 1)]);
      await store.forget(['a', 'c', 'never-seen']);
      expect((await store.list()).map((r) => r.host)).toEqual(['b']);
      await store.forget([]);
      await store.record([]);
      expect((await store.list()).map((r) => r.host)).toEqual(['b']);
    });

    it('holds times past 2^31 ms exactly (they are epoch milliseconds)', async () => {
      const at = 1_790_000_000_123;
      await store.record([presence('web1', at, { receivedAt: at + 1 })]);
      const [r] = await store.list();
      expect([r.sentAt, r.receivedAt]).toEqual([at, at + 1]);
    });
  });
}
