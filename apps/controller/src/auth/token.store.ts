import type { Db } from '../store/database';
import type { StoredToken, TokenInfo, TokenStore } from './token-store.port';
import { type TokenRow, toInfo, toStored } from './token.rows';

/**
 * API tokens in the controller's SQLite file (table `api_tokens`). Used by the HTTP guard and by
 * `warren-controller token …`, possibly at the same time from two processes (WAL + busy timeout).
 */
export class SqliteTokenStore implements TokenStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO api_tokens (id, name, role, host_patterns, hash, created_at, last_used_at, revoked_at)
         VALUES (@id, @name, @role, @hostPatterns, @hash, @createdAt, @lastUsedAt, @revokedAt)`,
      ),
      byId: db.prepare(`SELECT * FROM api_tokens WHERE id = ?`),
      byName: db.prepare(`SELECT * FROM api_tokens WHERE name = ?`),
      list: db.prepare(`SELECT * FROM api_tokens ORDER BY created_at, name`),
      revoke: db.prepare(`UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL`),
      touch: db.prepare(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`),
    };
  }

  async insert(t: StoredToken): Promise<void> {
    this.stmts.insert.run({ ...t, hostPatterns: t.hostPatterns === null ? null : JSON.stringify(t.hostPatterns) });
  }

  async findById(id: string): Promise<StoredToken | null> {
    return toStored(this.stmts.byId.get(id) as TokenRow | undefined);
  }

  async findByName(name: string): Promise<StoredToken | null> {
    return toStored(this.stmts.byName.get(name) as TokenRow | undefined);
  }

  async list(): Promise<TokenInfo[]> {
    return (this.stmts.list.all() as TokenRow[]).map(toInfo);
  }

  async revoke(name: string, at: number): Promise<boolean> {
    return this.stmts.revoke.run(at, name).changes > 0;
  }

  async touch(id: string, at: number): Promise<void> {
    this.stmts.touch.run(at, id);
  }
}
