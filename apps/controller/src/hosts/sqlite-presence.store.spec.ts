import { migratedSqlite } from '../../../../test/support/sqlite-schema';
import { describePresenceStoreContract } from './presence-store.contract';
import { SqlitePresenceStore } from './sqlite-presence.store';

describePresenceStoreContract('SqlitePresenceStore', async () => new SqlitePresenceStore(migratedSqlite()));
