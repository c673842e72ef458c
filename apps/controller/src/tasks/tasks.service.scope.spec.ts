import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnprocessableTaskError } from '../errors/errors';
import { admin, caller, service } from './tasks.service.fixtures';

describe('TasksService with host-limited tokens', () => {
  it('refuses hosts outside the token patterns with 403 naming them, storing, sending nothing and auditing the denial', async () => {
    const { svc, store, dispatched, audited } = service(true);
    const web = caller('webops', 'operator', ['web*', 'lb[1-2]']);
    const err = await svc.create({ command: 'reboot', hosts: ['web1', 'db1', 'lb3'] }, web).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.message).toMatch(/db1, lb3/);
    expect(err.message).not.toMatch(/web1,/);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'webops',
        action: 'task.create',
        decision: 'denied',
        command: 'reboot',
        hosts: ['web1', 'db1', 'lb3'],
      }),
    ]);
    expect(audited[0].reason).toMatch(/db1, lb3/);
    await expect(svc.create({ command: 'uptime', hosts: ['web1', 'lb2'] }, web)).resolves.toMatchObject({
      hosts: ['web1', 'lb2'],
    });
  });

  it('shows a host-limited token only the tasks whose every host is within its patterns', async () => {
    const { svc, reader, audited } = service(true);
    const webTask = await svc.create({ command: 'a', hosts: ['web1', 'web2'] }, admin);
    const mixed = await svc.create({ command: 'b', hosts: ['web1', 'db1'] }, admin);
    const web = caller('webview', 'viewer', ['web*']);
    expect((await reader.list(20, web)).tasks.map((t) => t.id)).toEqual([webTask.id]);
    // Both may be created in the same ms (then listed by id): compare as a set.
    expect((await reader.list(20, admin)).tasks.map((t) => t.id).sort()).toEqual([mixed.id, webTask.id].sort());
    await expect(reader.get(webTask.id, web)).resolves.toMatchObject({ id: webTask.id });
    const err = await reader.get(mixed.id, web).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    // The answer names no host the token may not see; the audit record (admins only) does.
    expect(err.message).toMatch(/may not read task .*: task has hosts outside the token's patterns \(web\*\)$/);
    expect(err.message).not.toMatch(/db1/);
    expect(audited.at(-1)).toMatchObject({
      actor: 'webview',
      action: 'task.read',
      decision: 'denied',
      taskId: mixed.id,
      hosts: ['db1'],
    });
  });

  it('matches globs, labels and all only among the hosts a limited token reaches, in a dry run too', async () => {
    const { svc, audited } = service(true);
    const web = caller('eu-ops', 'operator', ['web[1-3]', 'web6']);
    expect((await svc.dryRun({ command: 'x', labels: { zone: 'eu' }, hosts: ['web*'] }, web)).hosts).toEqual([
      'web1',
      'web2',
      'web3',
    ]);
    // web4, web5 (online, outside) are neither run on nor named; web6 (inside, offline) is excluded by name.
    const all = await svc.dryRun({ command: 'x', all: true }, web);
    expect(all).toMatchObject({ hosts: ['web1', 'web2', 'web3'], excluded: [{ host: 'web6', reason: 'offline' }] });
    expect(audited).toEqual([]);
  });

  it('refuses names outside the token before any glob is matched, in a dry run too (audited as such)', async () => {
    const { svc, audited, resolved } = service(true);
    const web = caller('eu-ops', 'operator', ['web[1-3]']);
    const err = await svc.dryRun({ command: 'x', hosts: ['web4', `${'*'.repeat(40)}q`] }, web).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.message).toMatch(/may not run commands on web4/);
    expect(resolved).toEqual([]);
    expect(audited).toEqual([
      expect.objectContaining({ actor: 'eu-ops', decision: 'denied', hosts: ['web4'], detail: { dryRun: true } }),
    ]);
  });

  it('says nothing matches without naming or counting hosts outside the token', async () => {
    const { svc } = service(true);
    const web = caller('eu-ops', 'operator', ['web[1-2]', 'db1']);
    const err = await svc.dryRun({ command: 'x', hosts: ['mail*'] }, web).catch((e) => e);
    expect(err).toBeInstanceOf(UnprocessableTaskError);
    // Presence knows 5 usable hosts; this token reaches 2 of them (db1 has no accepted key).
    expect(err.message).toMatch(/2 usable hosts are online/);
    expect(err.message).not.toMatch(/web[3-6]/);
  });

  it("reads a limited token's page of tasks without looking at tasks past it", async () => {
    const { svc, reader } = service(true);
    for (let n = 0; n < 30; n++) await svc.create({ command: `t${n}`, hosts: ['web1'] }, admin);
    const web = caller('webview', 'viewer', ['web*']);
    let asked = 0;
    const allows = web.principal.scope.allows.bind(web.principal.scope);
    web.principal.scope.allows = (h: string) => (asked++, allows(h));
    expect((await reader.list(5, web)).tasks).toHaveLength(5);
    // One question per task on the page (each has one host), none about the 25 tasks past it.
    expect(asked).toBe(5);
  });
});
