import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteTaskStore } from './sqlite-task.store';
import { describeTaskStoreContract } from './task-store.contract';
import type { AppliedChange } from './task-store.port';

describeTaskStoreContract('SqliteTaskStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-store-'));
  const path = join(dir, 'db.sqlite');
  const heard: AppliedChange[][] = [];
  let store = new SqliteTaskStore(path, (c) => heard.push(c));
  return {
    store,
    heard,
    async reopen() {
      await store.close();
      store = new SqliteTaskStore(path);
      return store;
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
