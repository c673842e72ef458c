import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { hashToken, newApiToken, TOKEN_PATTERN, tokenIdOf, tokenMatches } from './api-token';
import { TokenError } from '../errors/errors';
import { LAST_USED_RESOLUTION_MS, TokenService } from './token.service';
import { SqliteTokenStore } from './token.store';

describe('API token text', () => {
  it('is wrn_<id>_<secret> with 256 random bits, different every time', () => {
    const a = newApiToken();
    const b = newApiToken();
    expect(a.text).toMatch(TOKEN_PATTERN);
    expect(a.text).not.toBe(b.text);
    expect(tokenIdOf(a.text)).toBe(a.id);
    expect(Buffer.from(a.text.split('_').slice(2).join('_'), 'base64url')).toHaveLength(32);
  });

  it('matches only its own hash', () => {
    const { text } = newApiToken();
    expect(tokenMatches(text, hashToken(text))).toBe(true);
    expect(tokenMatches(`${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`, hashToken(text))).toBe(false);
    expect(tokenMatches(text, 'abcd')).toBe(false); // a stored hash of another length never throws
    expect(tokenIdOf('Bearer nonsense')).toBeNull();
  });
});

describe('TokenService over the SQLite token store', () => {
  const store = () => {
    const db = openDatabase(':memory:');
    const clock = new ManualClock(1_000);
    return { db, clock, tokens: new TokenService(new SqliteTokenStore(db), clock) };
  };

  it('keeps only the hash: the token text is nowhere in the database', async () => {
    const { db, tokens } = store();
    const { text, token } = await tokens.create('alice', 'operator', ['web*']);
    expect(token).toMatchObject({
      name: 'alice',
      role: 'operator',
      hostPatterns: ['web*'],
      lastUsedAt: null,
      revokedAt: null,
    });
    const rows = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
    expect(rows).not.toContain(text.split('_').slice(2).join('_'));
    expect(rows).toContain(hashToken(text));
  });

  it('accepts its tokens, and refuses unknown, tampered, malformed and revoked ones', async () => {
    const { tokens } = store();
    const { text } = await tokens.create('alice', 'admin', null);
    expect(await tokens.check(text)).toMatchObject({
      ok: true,
      token: { name: 'alice', role: 'admin', hostPatterns: null },
    });
    expect(await tokens.check(newApiToken().text)).toEqual({ ok: false, reason: 'unknown' });
    const tampered = text.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'));
    expect(await tokens.check(tampered)).toEqual({ ok: false, reason: 'unknown' });
    expect(await tokens.check('hunter2')).toEqual({ ok: false, reason: 'malformed' });
    await tokens.revoke('alice');
    expect(await tokens.check(text)).toMatchObject({ ok: false, reason: 'revoked', token: { name: 'alice' } });
  });

  it('refuses a taken name, a bad name, a bad pattern, and revoking twice or a name it does not know', async () => {
    const { tokens } = store();
    await tokens.create('alice', 'viewer', null);
    await expect(tokens.create('alice', 'admin', null)).rejects.toThrow(/already exists/);
    await expect(tokens.create('bad name', 'admin', null)).rejects.toThrow(TokenError);
    await expect(tokens.create('bob', 'admin', ['web[a-b]'])).rejects.toThrow(/web\[a-b\]/);
    await expect(tokens.revoke('nobody')).rejects.toThrow(/no token named "nobody"/);
    await tokens.revoke('alice');
    await expect(tokens.revoke('alice')).rejects.toThrow(/already revoked/);
    expect((await tokens.list()).map((t) => [t.name, t.revokedAt !== null])).toEqual([['alice', true]]);
  });

  it('writes last-used at most once per resolution period, at the exact time of the use', async () => {
    const { db, clock, tokens } = store();
    const { token } = await tokens.create('alice', 'viewer', null);
    const lastUsed = () =>
      (db.prepare('SELECT last_used_at FROM api_tokens WHERE id = ?').get(token.id) as { last_used_at: number | null })
        .last_used_at;
    expect(lastUsed()).toBeNull();
    await tokens.touch(token.id);
    expect(lastUsed()).toBe(1_000);
    clock.advance(LAST_USED_RESOLUTION_MS - 1);
    await tokens.touch(token.id);
    expect(lastUsed()).toBe(1_000);
    clock.advance(1);
    await tokens.touch(token.id);
    expect(lastUsed()).toBe(1_000 + LAST_USED_RESOLUTION_MS);
  });

  it('says a token is active until it is revoked, and an unknown id never is', async () => {
    const { tokens } = store();
    const { token } = await tokens.create('streamer', 'viewer', null);
    expect(await tokens.isActive(token.id)).toBe(true);
    await tokens.revoke('streamer');
    expect(await tokens.isActive(token.id)).toBe(false);
    expect(await tokens.isActive('aaaaaaaaaaaa')).toBe(false);
  });
});
