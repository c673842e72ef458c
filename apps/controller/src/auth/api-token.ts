import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API token text: `wrn_<id>_<secret>`. The id (12 base32 characters) names the row to look up, so
 * checking a token is one indexed read; the secret is 32 random bytes (256 bits) in base64url.
 * Only the SHA-256 of the whole text is stored: the secret is random and long, so a slow password
 * hash would add nothing but latency to every request.
 */
export const TOKEN_PATTERN = /^wrn_([a-z2-9]{12})_([A-Za-z0-9_-]{43})$/;

const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** A fresh token: its id (safe to show and log) and its full text (shown once, never stored). */
export function newApiToken(): { id: string; text: string } {
  let id = '';
  for (const b of randomBytes(12)) id += ID_ALPHABET[b & 31];
  return { id, text: `wrn_${id}_${randomBytes(32).toString('base64url')}` };
}

/** The id part of a token's text, or null when the text is not shaped like a Warren token. */
export function tokenIdOf(text: string): string | null {
  return TOKEN_PATTERN.exec(text)?.[1] ?? null;
}

/** Hex SHA-256 of a token's text: what the store keeps. */
export function hashToken(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** True when `text` hashes to `storedHash`, compared in constant time. */
export function tokenMatches(text: string, storedHash: string): boolean {
  const presented = Buffer.from(hashToken(text), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
