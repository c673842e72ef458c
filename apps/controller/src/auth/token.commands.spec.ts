import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, SystemClock } from '@warren/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import { parseControllerArgs } from '../config/controller.config';
import { openDatabase } from '../store/database';
import { runMaintenanceCommand } from './token.commands';
import { TokenService } from './token.service';
import { SqliteTokenStore } from './token.store';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** ms; the time every command runs at */
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

/** Runs `warren-controller <argv>` against a fresh state dir (or `dir`), at {@link NOW}. */
async function run(argv: string[], dir = mkdtempSync(join(tmpdir(), 'warren-tok-'))) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const { action, config } = parseControllerArgs([...argv, '--state-dir', dir], {});
  if (action.command === 'serve' || action.command === 'keygen' || action.command === 'openapi')
    throw new Error(`parsed as ${action.command}`);
  let stdout = '';
  let stderr = '';
  const code = await runMaintenanceCommand(
    action,
    config,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    'local:tester',
    new ManualClock(NOW),
  );
  return { code, stdout, stderr, dir, db: config.dbPath };
}

describe('warren-controller token …', () => {
  it('create prints only the token on stdout, says on stderr it is shown once, and audits it without the secret', async () => {
    const r = await run(['token', 'create', '--name', 'ci', '--role', 'operator', '--hosts', 'web*', 'db[1-3]']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrn_[a-z2-9]{12}_[A-Za-z0-9_-]{43}\n$/);
    expect(r.stderr).toMatch(/shown only this once/);
    const db = openDatabase(r.db);
    expect(await new TokenService(new SqliteTokenStore(db), new SystemClock()).check(r.stdout.trim())).toMatchObject({
      ok: true,
      token: { name: 'ci', role: 'operator', hostPatterns: ['web*', 'db[1-3]'] },
    });
    const records = await new SqliteAuditLog(db, new ManualClock()).query({ limit: 10 });
    expect(records).toEqual([
      expect.objectContaining({
        actor: 'local:tester',
        action: 'token.create',
        decision: 'allowed',
        detail: expect.objectContaining({ name: 'ci', role: 'operator' }),
      }),
    ]);
    expect(JSON.stringify(records)).not.toContain(r.stdout.trim());
    db.close();
  });

  it('list shows names and roles but no secret; revoke marks it and is audited; a second revoke fails', async () => {
    const created = await run(['token', 'create', '--name', 'ci', '--role', 'viewer']);
    const list = await run(['token', 'list'], created.dir);
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+HOSTS/);
    expect(list.stdout).toMatch(/^ci\s+viewer\s+\*/m);
    expect(list.stdout).not.toContain(created.stdout.trim().slice(-20));
    expect(await run(['token', 'revoke', 'ci'], created.dir)).toMatchObject({
      code: 0,
      stderr: expect.stringMatching(/revoked token "ci"/),
    });
    expect(await run(['token', 'revoke', 'ci'], created.dir)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/already revoked/),
    });
    const json = JSON.parse((await run(['token', 'list', '--json'], created.dir)).stdout);
    expect(json.tokens[0]).toMatchObject({
      name: 'ci',
      createdAt: '2026-01-02T03:04:05Z',
      revokedAt: '2026-01-02T03:04:05Z',
    });
    const db = openDatabase(created.db);
    expect(
      (await new SqliteAuditLog(db, new ManualClock()).query({ limit: 10 })).map((r) => `${r.action} ${r.decision}`),
    ).toEqual(['token.revoke denied', 'token.revoke allowed', 'token.create allowed']);
    db.close();
  });

  it('refuses a taken name and a bad host pattern, printing nothing on stdout', async () => {
    const first = await run(['token', 'create', '--name', 'ci', '--role', 'viewer']);
    expect(await run(['token', 'create', '--name', 'ci', '--role', 'admin'], first.dir)).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/already exists/),
    });
    expect(
      await run(['token', 'create', '--name', 'x', '--role', 'admin', '--hosts', 'web[a]'], first.dir),
    ).toMatchObject({
      code: 1,
      stdout: '',
    });
  });
});
