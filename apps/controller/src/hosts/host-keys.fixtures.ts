import { generateSigningKey } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { openDatabase } from '../store/database';
import { HostKeysStore } from './host-keys.store';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';

/** A fresh key as a heartbeat announces it: base64 SPKI and fingerprint. */
export function announced(): { publicKey: string; keyId: string } {
  const k = generateSigningKey();
  return { publicKey: k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), keyId: k.keyId };
}

/** A host-key store over a fresh in-memory SQLite repository, its clock at 10 s, loaded. */
export async function setup() {
  const db = openDatabase(':memory:');
  const clock = new ManualClock(10_000);
  const repo = new SqliteHostKeyRepository(db);
  const keys = new HostKeysStore(repo, clock);
  await keys.onModuleInit();
  return { db, clock, repo, keys };
}
