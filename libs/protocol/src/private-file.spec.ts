import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from './private-file';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'warren-file-'));
  dirs.push(d);
  return d;
};

describe('writeFileAtomically', () => {
  it('gives the file exactly the mode asked for, whatever the umask', () => {
    const dir = fresh();
    for (const umask of [0o000, 0o077]) {
      const old = process.umask(umask);
      try {
        writeFileAtomically(join(dir, `secret-${umask}`), 'x', 0o600);
        writeFileAtomically(join(dir, `public-${umask}`), 'y', 0o644);
      } finally {
        process.umask(old);
      }
      expect((statSync(join(dir, `secret-${umask}`)).mode & 0o777).toString(8)).toBe('600');
      expect((statSync(join(dir, `public-${umask}`)).mode & 0o777).toString(8)).toBe('644');
    }
    expect(readFileSync(join(dir, 'secret-0'), 'utf8')).toBe('x');
  });

  it('replaces an existing file and leaves no temporary file, also when the rename fails', () => {
    const dir = fresh();
    writeFileAtomically(join(dir, 'f'), 'one', 0o600);
    writeFileAtomically(join(dir, 'f'), 'two', 0o600);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('two');
    mkdirSync(join(dir, 'sub', 'inner'), { recursive: true });
    expect(() => writeFileAtomically(join(dir, 'sub'), 'x', 0o600)).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['f', 'sub']);
  });
});
