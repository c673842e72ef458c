import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { presence } from './presence-store.contract';
import { PresenceRecorder } from './presence.recorder';

/** A store that fails while `down` is set, and records what it was given otherwise. */
function flakyStore() {
  const rows = new Map<string, PresenceRecord>();
  const calls = { record: 0, forget: 0 };
  const s = {
    down: false,
    rows,
    calls,
    store: {
      record: async (records) => {
        calls.record++;
        if (s.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        for (const r of records) rows.set(r.host, r);
      },
      list: async () => [...rows.values()],
      forget: async (hosts) => {
        calls.forget++;
        if (s.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        for (const h of hosts) rows.delete(h);
      },
    } satisfies PresenceStore,
  };
  return s;
}

describe('PresenceRecorder', () => {
  it('writes the newest record of each host heard since the last write, in one call', async () => {
    const s = flakyStore();
    const rec = new PresenceRecorder(s.store, pino({ level: 'silent' }));
    rec.add(presence('web1', 2));
    rec.add(presence('web1', 1));
    rec.add(presence('web2', 1));
    await rec.flush();
    expect(s.calls.record).toBe(1);
    expect([...s.rows.values()].map((r) => [r.host, r.sentAt])).toEqual([
      ['web1', 2],
      ['web2', 1],
    ]);
    await rec.flush();
    expect(s.calls.record).toBe(1); // nothing new: no write
  });

  it('keeps what a failed write held and writes it once the database is back, newer records winning', async () => {
    const s = flakyStore();
    const rec = new PresenceRecorder(s.store, pino({ level: 'silent' }));
    s.rows.set('gone', presence('gone', 1));
    rec.add(presence('web1', 1));
    rec.forget('gone');
    s.down = true;
    await rec.flush();
    expect(s.rows.has('web1')).toBe(false);
    rec.add(presence('web1', 5));
    rec.add(presence('web2', 1));
    s.down = false;
    await rec.flush();
    expect([...s.rows.values()].map((r) => [r.host, r.sentAt])).toEqual([
      ['web1', 5],
      ['web2', 1],
    ]);
  });

  it('a host heard again after it was forgotten is written, not deleted', async () => {
    const s = flakyStore();
    const rec = new PresenceRecorder(s.store, pino({ level: 'silent' }));
    rec.forget('web1');
    rec.add(presence('web1', 3));
    await rec.flush();
    expect(s.rows.get('web1')?.sentAt).toBe(3);
  });
});
