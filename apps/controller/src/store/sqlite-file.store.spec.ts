import { openDatabase } from './database';
import { describeFileStoreContract } from './file-store.contract';
import { SqliteFileStore } from './sqlite-file.store';

describeFileStoreContract('SqliteFileStore', async () => {
  const db = openDatabase(':memory:');
  return { store: new SqliteFileStore(db), dispose: async () => void db.close() };
});
