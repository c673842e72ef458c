import { openDatabase } from '../store/database';
import { describeTokenStoreContract } from './token.store.contract';
import { SqliteTokenStore } from './token.store';

describeTokenStoreContract('SqliteTokenStore', async () => new SqliteTokenStore(openDatabase(':memory:')));
