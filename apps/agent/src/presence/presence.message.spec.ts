import { decodePresence, encode, WARREN_VERSION } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { presenceMessage } from './presence.message';

describe('presenceMessage', () => {
  it('builds heartbeats and goodbyes the protocol accepts', () => {
    const facts = {
      host: 'web1',
      labels: { role: 'web' },
      concurrency: 4,
      intervalMs: 5000,
      publicKey: 'MCowBQYDK2VwAyEA',
    };
    for (const status of ['online', 'goodbye'] as const) {
      const m = presenceMessage(facts, status, 2, 1234);
      expect(decodePresence(encode(m))).toEqual({ ok: true, message: m });
      expect(m).toMatchObject({
        host: 'web1',
        status,
        labels: { role: 'web' },
        version: WARREN_VERSION,
        running: 2,
        concurrency: 4,
        intervalMs: 5000,
        sentAt: 1234,
      });
    }
  });
});
