import type { Role } from './roles';
import type { StoredToken, TokenInfo } from './token-store.port';

/** A row of `api_tokens`, as both adapters read it (SQLite and PostgreSQL: the same columns and types). */
export interface TokenRow {
  id: string;
  name: string;
  role: Role;
  host_patterns: string | null;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export const toInfo = (r: TokenRow): TokenInfo => ({
  id: r.id,
  name: r.name,
  role: r.role,
  hostPatterns: r.host_patterns === null ? null : (JSON.parse(r.host_patterns) as string[]),
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export const toStored = (r: TokenRow | undefined): StoredToken | null => (r ? { ...toInfo(r), hash: r.hash } : null);
