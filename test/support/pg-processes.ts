import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/* The PostgreSQL binaries and the process facts test/support/private-postgres.ts is built on. */

/** The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/<major>/bin`), or null if none is installed. */
export const PG_BIN: string | null = (() => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(root, majors[0], 'bin') : null;
})();

/**
 * util-linux's `runuser`, by its path: it lives in an `sbin` directory, which the PATH of a
 * non-login root shell or of CI (`/usr/local/bin:/usr/bin:/bin`) may leave out.
 */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => existsSync(p)) ?? 'runuser';

/** The OS user the server runs as: PostgreSQL refuses to run as root. */
export const PG_USER = 'postgres';

/** Runs a PostgreSQL binary as {@link PG_USER}; resolves with stdout, rejects with its output on failure. */
export function runPg(binary: string, args: string[], timeoutMs = 90_000): Promise<string> {
  if (!PG_BIN) throw new Error('no PostgreSQL found under /usr/lib/postgresql (apt-get install -y postgresql)');
  return new Promise((resolve, reject) => {
    execFile(
      RUNUSER,
      ['-u', PG_USER, '--', join(PG_BIN!, binary), ...args],
      { timeout: timeoutMs, cwd: '/' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${binary} ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** `/proc/<pid>/stat`'s state letter (`Z` for a zombie), or null if the process is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

/** `/proc/<pid>/stat`'s start time (clock ticks after boot, field 22 in proc(5)): tells a pid from its reuse. Null if gone. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The pid on the first line of a PostgreSQL lock file (`postmaster.pid`, `.s.PGSQL.<port>.lock`), or null. */
export function lockPid(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').split('\n')[0]) || null;
  } catch {
    return null;
  }
}
