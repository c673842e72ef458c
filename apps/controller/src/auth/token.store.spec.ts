import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { hashToken, newApiToken, TOKEN_PATTERN, tokenIdOf, tokenMatches } from './api-token';
import { TokenError } from '../errors/errors';
import { LAST_USED_RESOLUTION_MS, SqliteTokenStore } from './token.store';

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

describe('SqliteTokenStore', () => {
  const store = () => {
    const db = openDatabase(':memory:');
    return { db, tokens: new SqliteTokenStore(db) };
  };

  it('keeps only the hash: the token text is nowhere in the database', () => {
    const { db, tokens } = store();
    const { text, token } = tokens.create('alice', 'operator', ['web*']);
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

  it('accepts its tokens, and refuses unknown, tampered, malformed and revoked ones', () => {
    const { tokens } = store();
    const { text } = tokens.create('alice', 'admin', null);
    expect(tokens.check(text)).toMatchObject({ ok: true, token: { name: 'alice', role: 'admin', hostPatterns: null } });
    expect(tokens.check(newApiToken().text)).toEqual({ ok: false, reason: 'unknown' });
    const tampered = text.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'));
    expect(tokens.check(tampered)).toEqual({ ok: false, reason: 'unknown' });
    expect(tokens.check('hunter2')).toEqual({ ok: false, reason: 'malformed' });
    tokens.revoke('alice');
    expect(tokens.check(text)).toMatchObject({ ok: false, reason: 'revoked', token: { name: 'alice' } });
  });

  it('refuses a taken name, a bad name, a bad pattern, and revoking twice or a name it does not know', () => {
    const { tokens } = store();
    tokens.create('alice', 'viewer', null);
    expect(() => tokens.create('alice', 'admin', null)).toThrow(/already exists/);
    expect(() => tokens.create('bad name', 'admin', null)).toThrow(TokenError);
    expect(() => tokens.create('bob', 'admin', ['web[a-b]'])).toThrow(/web\[a-b\]/);
    expect(() => tokens.revoke('nobody')).toThrow(/no token named "nobody"/);
    tokens.revoke('alice');
    expect(() => tokens.revoke('alice')).toThrow(/already revoked/);
    expect(tokens.list().map((t) => [t.name, t.revokedAt !== null])).toEqual([['alice', true]]);
  });

  it('writes last-used at most once per resolution period', () => {
    const { db, tokens } = store();
    const { token } = tokens.create('alice', 'viewer', null);
    const lastUsed = () =>
      (db.prepare('SELECT last_used_at FROM api_tokens WHERE id = ?').get(token.id) as { last_used_at: number | null })
        .last_used_at;
    tokens.touch(token.id, 1_000);
    tokens.touch(token.id, 2_000);
    expect(lastUsed()).toBe(1_000);
    tokens.touch(token.id, 1_000 + LAST_USED_RESOLUTION_MS);
    expect(lastUsed()).toBe(1_000 + LAST_USED_RESOLUTION_MS);
  });
});
