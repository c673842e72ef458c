import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, openToOthers } from './database';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'warren-db-'));
  dirs.push(d);
  return d;
};
const modes = (path: string) =>
  Object.fromEntries(['', '-wal', '-shm'].map((s) => [s || 'db', (statSync(path + s).mode & 0o777).toString(8)]));

describe('controller database files', () => {
  it('creates the database, its -wal and its -shm 0600, whatever the umask', () => {
    const path = join(fresh(), 'state', 'controller.db');
    const umask = process.umask(0o022);
    try {
      const db = openDatabase(path);
      db.exec('CREATE TABLE t (x)');
      db.exec('INSERT INTO t VALUES (1)');
      expect(modes(path)).toEqual({ db: '600', '-wal': '600', '-shm': '600' });
      db.close();
    } finally {
      process.umask(umask);
    }
  });

  it('takes group and other access away from the files of an older installation', () => {
    const path = join(fresh(), 'controller.db');
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      closeSync(openSync(f, 'w'));
      chmodSync(f, 0o644);
    }
    const db = openDatabase(path);
    expect(modes(path)).toEqual({ db: '600', '-wal': '600', '-shm': '600' });
    db.close();
  });

  it('says which state directories others can enter', () => {
    const dir = fresh();
    expect(openToOthers(dir)).toBeNull();
    chmodSync(dir, 0o755);
    expect(openToOthers(dir)).toBe('755');
    chmodSync(dir, 0o710);
    expect(openToOthers(dir)).toBe('710');
    expect(openToOthers(join(dir, 'missing'))).toBeNull();
  });
});
