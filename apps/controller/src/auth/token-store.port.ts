import type { Role } from './roles';

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

/** A token as persisted: its description and the hash of its text (see `api-token.ts`), never the text. */
export interface StoredToken extends TokenInfo {
  hash: string;
}

/**
 * Persistence of API tokens. Shared by the controller and the `warren-controller token …`
 * commands, possibly at the same time from two processes. Rejects only when the storage fails,
 * or as documented below.
 */
export interface TokenStore {
  /** Stores a new token. Rejects when its id or name is taken (names are never reused, revoked ones included). */
  insert(token: StoredToken): Promise<void>;
  /** The token with this id, revoked or not; null if none. */
  findById(id: string): Promise<StoredToken | null>;
  /** The token with this name, revoked or not; null if none. */
  findByName(name: string): Promise<StoredToken | null>;
  /** Every token, revoked ones included, oldest first (then by name); no hashes. */
  list(): Promise<TokenInfo[]>;
  /** Marks the token named `name` revoked at `at` (ms); false when there is none or it already was. */
  revoke(name: string, at: number): Promise<boolean>;
  /** Sets the token's last use to `at` (ms); nothing when there is no such token. */
  touch(id: string, at: number): Promise<void>;
}

/** Injection token of the {@link TokenStore}. */
export const TOKEN_STORE = Symbol('TOKEN_STORE');
