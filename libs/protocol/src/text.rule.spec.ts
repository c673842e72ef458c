import { describe, expect, it } from 'vitest';
import { decodePresence, encode } from './codec';
import type { PresenceMessage } from './messages';
import { generateSigningKey, KEY_ID_HEADER, keyRing, shownKeyId, signBody, verifyBody } from './signing';
import { isPrintable } from './text.rule';
import { PROTOCOL_VERSION } from './version';

const heartbeat = (over: Partial<PresenceMessage> = {}): Buffer =>
  encode({
    v: PROTOCOL_VERSION,
    kind: 'presence',
    host: 'web1',
    status: 'online',
    labels: { role: 'web', 'k8s.io/zone': 'eu-west' },
    version: '0.1.0',
    running: 0,
    concurrency: 4,
    intervalMs: 5000,
    sentAt: Date.UTC(2026, 0, 1),
    publicKey: 'MCowBQYDK2VwAyEA',
    ...over,
  } as PresenceMessage);

const ESC_OSC52 = '\u001b]52;c;cm0gLXJmIH4=\u0007';

describe('heartbeat fields are data: labels and version on the wire', () => {
  it('accepts the labels and versions agents send', () => {
    expect(decodePresence(heartbeat()).ok).toBe(true);
    expect(decodePresence(heartbeat({ version: '1.2.0-rc.1+build.5' })).ok).toBe(true);
    expect(decodePresence(heartbeat({ labels: { zone: 'eu west: rack 3 (ünïcode ok)' } })).ok).toBe(true);
  });

  it.each([
    ['an ESC/OSC 52 clipboard write in a value', { labels: { role: `web${ESC_OSC52}` } }],
    ['a C1 CSI in a value', { labels: { role: 'web\u009b2J' } }],
    ['a newline in a value', { labels: { role: 'web\n2026-01-01 admin task.create allowed' } }],
    ['a bidi override in a value', { labels: { role: 'web\u202e' } }],
    ['an escape in a key', { labels: { [`role${ESC_OSC52}`]: 'web' } }],
    ['a key the controller refuses', { labels: { 'role=db': 'web' } }],
    ['a key of 64 characters', { labels: { ['k'.repeat(64)]: 'web' } }],
    ['a value of 257 characters', { labels: { role: 'w'.repeat(257) } }],
    ['65 labels', { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }],
    ['an ESC in the version', { version: `0.1.0${ESC_OSC52}` }],
    ['a C1 control in the version', { version: '0.1.0\u009b' }],
    ['a version with spaces', { version: '0.1.0 (patched by nobody)' }],
    ['an empty version', { version: '' }],
    ['a version of 65 characters', { version: '1'.repeat(65) }],
  ])('refuses a heartbeat with %s', (_what, over) => {
    const d = decodePresence(heartbeat(over as Partial<PresenceMessage>));
    expect(d.ok).toBe(false);
    // The reason names the field, and never carries the bytes it refused.
    if (!d.ok) expect(isPrintable(d.reason)).toBe(true);
  });

  it('isPrintable refuses C0, DEL, C1 and bidi controls and accepts the rest', () => {
    for (const c of ['\u0000', '\t', '\u001b', '\u007f', '\u0085', '\u009b', '\u202a', '\u2069'])
      expect(isPrintable(`a${c}b`)).toBe(false);
    expect(isPrintable('eu-west ünïcode 東京 ✓')).toBe(true);
  });
});

describe('an untrusted key id header is never echoed', () => {
  const body = Buffer.from('{"v":1}');
  const key = generateSigningKey();
  const other = generateSigningKey();

  it('names a well-formed fingerprint of an untrusted key as it is', () => {
    const v = verifyBody(body, signBody(body, other), keyRing([key]));
    expect(v).toMatchObject({ ok: false, code: 'untrusted_key', reason: `signed by an untrusted key ${other.keyId}` });
  });

  it('says "(not a fingerprint)" instead of a header holding escapes or a fake audit line', () => {
    for (const forged of [
      `x${ESC_OSC52}`,
      'x\n2026-01-01 12:00:00Z  admin  10.0.0.1  task.create  allowed',
      'SHA256:short',
      `${other.keyId}\u001b[2J`,
    ]) {
      const v = verifyBody(body, { ...signBody(body, other), [KEY_ID_HEADER]: forged }, keyRing([key]));
      expect(v).toEqual({
        ok: false,
        code: 'untrusted_key',
        reason: 'signed by an untrusted key (not a fingerprint)',
      });
      expect(shownKeyId(forged)).toBe('(not a fingerprint)');
    }
    expect(shownKeyId(Buffer.from(key.keyId))).toBe('(not a fingerprint)');
    expect(shownKeyId(key.keyId)).toBe(key.keyId);
  });
});
