import { generateSigningKey } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { migratedSqlite } from '../../../../test/support/sqlite-schema';
import type { HostKeyRecord, HostKeyRepository, RecordSeenOptions, RecordSeenOutcome } from './host-keys.port';
import { HostKeysStore } from './host-keys.store';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';

/** A fresh key as a heartbeat announces it: base64 SPKI and fingerprint. */
export function announced(): { publicKey: string; keyId: string } {
  const k = generateSigningKey();
  return { publicKey: k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), keyId: k.keyId };
}

/** A repository over empty storage, and another over the same storage (a restarted or a second controller). */
export interface HostKeyHarness {
  repo: HostKeyRepository;
  reopen(): HostKeyRepository;
  /** transactions begun on the storage so far (PostgreSQL: also each statement run outside one) */
  transactions(): number;
}

/** Opens a {@link HostKeyHarness} over empty storage: one adapter's entry to the host-key contract suites. */
export type OpenHostKeys = () => Promise<HostKeyHarness>;

/** The SQLite adapter over a fresh in-memory database at the current schema. */
export const openSqliteHostKeys: OpenHostKeys = async () => {
  const db = migratedSqlite();
  let begun = 0;
  // Every write of the repository that reads first runs in `db.transaction(…)`: count those.
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: Parameters<typeof db.transaction>[0]) => {
    begun++;
    return transaction(fn);
  }) as typeof db.transaction;
  return {
    repo: new SqliteHostKeyRepository(db),
    reopen: () => new SqliteHostKeyRepository(db),
    transactions: () => begun,
  };
};

/** A host-key store over a repository `open` gives (SQLite by default), its clock at 10 s, loaded. */
export async function setup(open: OpenHostKeys = openSqliteHostKeys) {
  const h = await open();
  const clock = new ManualClock(10_000);
  const keys = new HostKeysStore(h.repo, clock);
  await keys.onModuleInit();
  return { clock, keys, ...h };
}

/** Records one sighting alone: a batch of one of {@link HostKeyRepository.recordSeenMany}. */
export async function recordSeen(
  repo: HostKeyRepository,
  key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>,
  opts: RecordSeenOptions,
): Promise<RecordSeenOutcome> {
  const [outcome] = await repo.recordSeenMany([{ key, opts }]);
  return outcome;
}
