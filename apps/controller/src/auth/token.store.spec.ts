import { migratedSqlite } from '../../../../test/support/sqlite-schema';
import { describeTokenStoreContract } from './token.store.contract';
import { SqliteTokenStore } from './token.store';

describeTokenStoreContract('SqliteTokenStore', async () => new SqliteTokenStore(migratedSqlite()));
