import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@warren/runtime';
import { TokenError } from '../errors/errors';
import { hashToken, newApiToken, tokenIdOf, tokenMatches } from './api-token';
import { HostScope } from './host-patterns';
import type { Role } from './roles';
import { TOKEN_STORE, type TokenInfo, type TokenStore } from './token-store.port';

/** Token names: short, typeable, and safe to print in a table and an audit record. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** What checking a presented token found. */
export type TokenCheck =
  { ok: true; token: TokenInfo } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked'; token?: TokenInfo };

/** ms; `last_used_at` is written at most this often per token, so reads do not each cost a write */
export const LAST_USED_RESOLUTION_MS = 60_000;

const withoutHash = <T extends TokenInfo & { hash: string }>({ hash: _hash, ...info }: T): TokenInfo => info;

/**
 * The rules of API tokens over their {@link TokenStore}: names, creation (the text is shown once,
 * only its hash is kept), revocation, checking a presented token, and recording its use.
 */
@Injectable()
export class TokenService {
  /** token id → when this process last wrote its last_used_at (ms) */
  private readonly touched = new Map<string, number>();

  constructor(
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    private readonly clock: Clock,
  ) {}

  /**
   * Creates a token and returns its text, which exists nowhere else: the store keeps only its hash.
   * Names are unique, including revoked tokens' (the audit log refers to tokens by name). Throws
   * {@link TokenError} for a bad or taken name, `HostPatternError` for a bad pattern.
   */
  async create(name: string, role: Role, hostPatterns: string[] | null): Promise<{ text: string; token: TokenInfo }> {
    if (!TOKEN_NAME_PATTERN.test(name))
      throw new TokenError(
        `token name ${JSON.stringify(name)}: use 1-64 letters, digits, . _ @ -, starting with a letter or digit`,
      );
    if (hostPatterns !== null) new HostScope(hostPatterns);
    if (await this.store.findByName(name))
      throw new TokenError(
        `a token named ${JSON.stringify(name)} already exists (names are never reused; pick another)`,
      );
    const { id, text } = newApiToken();
    const token: TokenInfo = {
      id,
      name,
      role,
      hostPatterns,
      createdAt: this.clock.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.insert({ ...token, hash: hashToken(text) });
    return { text, token };
  }

  /** Every token, revoked ones included, oldest first; no secrets. */
  list(): Promise<TokenInfo[]> {
    return this.store.list();
  }

  /** Revokes the token named `name` now; throws {@link TokenError} when there is none or it is already revoked. */
  async revoke(name: string): Promise<TokenInfo> {
    const found = await this.store.findByName(name);
    if (!found) throw new TokenError(`no token named ${JSON.stringify(name)}`);
    if (found.revokedAt !== null)
      throw new TokenError(
        `token ${JSON.stringify(name)} was already revoked on ${new Date(found.revokedAt).toISOString()}`,
      );
    await this.store.revoke(name, this.clock.now());
    return withoutHash((await this.store.findByName(name))!);
  }

  /**
   * Checks a presented token: one indexed read and a constant-time hash comparison. Revocation
   * takes effect at the next request (nothing is cached).
   */
  async check(text: string): Promise<TokenCheck> {
    const id = tokenIdOf(text);
    if (id === null) return { ok: false, reason: 'malformed' };
    const found = await this.store.findById(id);
    if (!found || !tokenMatches(text, found.hash)) return { ok: false, reason: 'unknown' };
    const token = withoutHash(found);
    if (token.revokedAt !== null) return { ok: false, reason: 'revoked', token };
    return { ok: true, token };
  }

  /** True while the token with id `id` exists and is not revoked: one indexed read, for holders of long requests (event streams). */
  async isActive(id: string): Promise<boolean> {
    const found = await this.store.findById(id);
    return found !== null && found.revokedAt === null;
  }

  /** Records that the token was used now, writing at most once per {@link LAST_USED_RESOLUTION_MS} per token. */
  async touch(id: string): Promise<void> {
    const now = this.clock.now();
    const last = this.touched.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.touched.set(id, now);
    await this.store.touch(id, now);
  }
}
