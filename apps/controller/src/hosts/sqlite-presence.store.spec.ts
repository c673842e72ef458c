import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../store/database';
import { presence, presenceStoreContract } from './presence-store.contract';
import { SqlitePresenceStore } from './sqlite-presence.store';

describe('SqlitePresenceStore', () => {
  const open: Db[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
  });
  const fresh = () => {
    const db = openDatabase(':memory:'); // migrated: schema v1 and later
    open.push(db);
    return db;
  };

  presenceStoreContract(async () => new SqlitePresenceStore(fresh()));

  it('rejects (does not throw) when the table is missing, so callers can retry', async () => {
    const store = new SqlitePresenceStore(openDatabase(':memory:', { migrate: false }));
    await expect(store.record([presence('web1', 1)])).rejects.toThrow(/no such table/);
  });
});
