import { TokenError } from '../errors/errors';
import type { Db } from '../store/database';
import { hashToken, newApiToken, tokenIdOf, tokenMatches } from './api-token';
import { HostScope } from './host-patterns';
import type { Role } from './roles';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  host_patterns TEXT,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
`;

/** Token names: short, typeable, and safe to print in a table and an audit record. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** An API token as stored and listed; never holds the secret. Times are ms since epoch. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  /** null: every host */
  hostPatterns: string[] | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** What checking a presented token found. */
export type TokenCheck =
  { ok: true; token: TokenInfo } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked'; token?: TokenInfo };

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  host_patterns: string | null;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toInfo = (r: TokenRow): TokenInfo => ({
  id: r.id,
  name: r.name,
  role: r.role,
  hostPatterns: r.host_patterns === null ? null : (JSON.parse(r.host_patterns) as string[]),
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** ms; `last_used_at` is written at most this often per token, so reads do not each cost a write */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API tokens in the controller's SQLite file (table `api_tokens`). Used by the HTTP guard and by
 * `warren-controller token …`, possibly at the same time from two processes (WAL + busy timeout).
 */
export class SqliteTokenStore {
  private readonly stmts;
  /** token id → when this process last wrote its last_used_at */
  private readonly touched = new Map<string, number>();

  constructor(private readonly db: Db) {
    db.exec(SCHEMA);
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO api_tokens (id, name, role, host_patterns, hash, created_at) VALUES (@id, @name, @role, @hostPatterns, @hash, @createdAt)`,
      ),
      byId: db.prepare(`SELECT * FROM api_tokens WHERE id = ?`),
      byName: db.prepare(`SELECT * FROM api_tokens WHERE name = ?`),
      list: db.prepare(`SELECT * FROM api_tokens ORDER BY created_at, name`),
      revoke: db.prepare(`UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`),
      touch: db.prepare(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`),
    };
  }

  /**
   * Creates a token and returns its text, which exists nowhere else: the store keeps only its hash.
   * Names are unique, including revoked tokens' (the audit log refers to tokens by name).
   */
  create(
    name: string,
    role: Role,
    hostPatterns: string[] | null,
    now = Date.now(),
  ): { text: string; token: TokenInfo } {
    if (!TOKEN_NAME_PATTERN.test(name))
      throw new TokenError(
        `token name ${JSON.stringify(name)}: use 1-64 letters, digits, . _ @ -, starting with a letter or digit`,
      );
    if (hostPatterns !== null) new HostScope(hostPatterns);
    if (this.stmts.byName.get(name))
      throw new TokenError(
        `a token named ${JSON.stringify(name)} already exists (names are never reused; pick another)`,
      );
    const { id, text } = newApiToken();
    this.stmts.insert.run({
      id,
      name,
      role,
      hostPatterns: hostPatterns === null ? null : JSON.stringify(hostPatterns),
      hash: hashToken(text),
      createdAt: now,
    });
    return { text, token: toInfo(this.stmts.byId.get(id) as TokenRow) };
  }

  /** Every token, revoked ones included, oldest first; no secrets. */
  list(): TokenInfo[] {
    return (this.stmts.list.all() as TokenRow[]).map(toInfo);
  }

  /** Revokes the token named `name`; throws when there is none or it is already revoked. */
  revoke(name: string, now = Date.now()): TokenInfo {
    const row = this.stmts.byName.get(name) as TokenRow | undefined;
    if (!row) throw new TokenError(`no token named ${JSON.stringify(name)}`);
    if (row.revoked_at !== null)
      throw new TokenError(
        `token ${JSON.stringify(name)} was already revoked on ${new Date(row.revoked_at).toISOString()}`,
      );
    this.stmts.revoke.run(now, name);
    return toInfo(this.stmts.byName.get(name) as TokenRow);
  }

  /**
   * Checks a presented token: one indexed read and a constant-time hash comparison. Revocation
   * takes effect at the next request (nothing is cached).
   */
  check(text: string): TokenCheck {
    const id = tokenIdOf(text);
    if (id === null) return { ok: false, reason: 'malformed' };
    const row = this.stmts.byId.get(id) as TokenRow | undefined;
    if (!row || !tokenMatches(text, row.hash)) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked', token: toInfo(row) };
    return { ok: true, token: toInfo(row) };
  }

  /** Records that the token was used, writing at most once per {@link LAST_USED_RESOLUTION_MS} per token. */
  touch(id: string, now = Date.now()): void {
    const last = this.touched.get(id);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.touched.set(id, now);
    this.stmts.touch.run(now, id);
  }
}

/** Injection token of the {@link SqliteTokenStore}. */
export const TOKEN_STORE = Symbol('TOKEN_STORE');
