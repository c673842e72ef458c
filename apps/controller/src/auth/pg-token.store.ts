import type { PgPool } from '../store/postgres/pg.database';
import type { StoredToken, TokenInfo, TokenStore } from './token-store.port';
import { type TokenRow, toInfo, toStored } from './token.rows';

/**
 * API tokens in PostgreSQL (table `api_tokens` of migration 0001), shared by every controller on the
 * database and by `warren-controller token …`: each call is one statement, so a token created or
 * revoked through one pool is seen by the next statement of any other. Names sort bytewise
 * (`COLLATE "C"`), as in SQLite. A second token of a name rejects with PostgreSQL's unique
 * violation (SQLSTATE 23505).
 */
export class PgTokenStore implements TokenStore {
  constructor(private readonly pool: PgPool) {}

  async insert(t: StoredToken): Promise<void> {
    await this.pool.query(
      `INSERT INTO api_tokens (id, name, role, host_patterns, hash, created_at, last_used_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        t.id,
        t.name,
        t.role,
        t.hostPatterns === null ? null : JSON.stringify(t.hostPatterns),
        t.hash,
        t.createdAt,
        t.lastUsedAt,
        t.revokedAt,
      ],
    );
  }

  async findById(id: string): Promise<StoredToken | null> {
    const { rows } = await this.pool.query<TokenRow>(`SELECT * FROM api_tokens WHERE id = $1`, [id]);
    return toStored(rows[0]);
  }

  async findByName(name: string): Promise<StoredToken | null> {
    const { rows } = await this.pool.query<TokenRow>(`SELECT * FROM api_tokens WHERE name = $1`, [name]);
    return toStored(rows[0]);
  }

  async list(): Promise<TokenInfo[]> {
    const { rows } = await this.pool.query<TokenRow>(`SELECT * FROM api_tokens ORDER BY created_at, name COLLATE "C"`);
    return rows.map(toInfo);
  }

  async revoke(name: string, at: number): Promise<boolean> {
    const r = await this.pool.query(`UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL`, [
      at,
      name,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.pool.query(`UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, [at, id]);
  }
}
