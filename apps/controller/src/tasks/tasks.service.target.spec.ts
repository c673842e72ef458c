import { describe, expect, it } from 'vitest';
import { BadQueryError, UnprocessableTaskError } from '../errors/errors';
import { admin, service } from './tasks.service.fixtures';

describe('TasksService resolving targets', () => {
  it('resolves globs and labels among online hosts with accepted keys, and says which matching hosts it left out', async () => {
    const { svc, store, dispatched, audited } = service(true);
    const preview = await svc.dryRun({ command: 'uptime', hosts: ['web*'], labels: ['zone=eu'] }, admin);
    expect(preview).toMatchObject({
      dryRun: true,
      hosts: ['web1', 'web2', 'web3'],
      count: 3,
      folded: 'web[1-3]',
      excluded: [{ host: 'web6', reason: 'offline' }],
    });
    expect((await svc.dryRun({ command: 'x', all: true }, admin)).excluded).toEqual([
      { host: 'db1', reason: 'key not accepted' },
      { host: 'web6', reason: 'offline' },
    ]);
    expect((await svc.dryRun({ command: 'x', labels: { role: 'web', zone: 'us' } }, admin)).hosts).toEqual([
      'web4',
      'web5',
    ]);
    // A dry run stores, sends and audits nothing.
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
    expect(audited).toEqual([]);
  });

  it('refuses a target that matches nothing with 422, storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(true);
    const err = await svc.create({ command: 'uptime', hosts: ['cache*'] }, admin).catch((e) => e);
    expect(err).toBeInstanceOf(UnprocessableTaskError);
    expect(err.message).toMatch(/no host matches the target \(hosts cache\*\)/);
    const offline = await svc
      .create({ command: 'uptime', labels: { zone: 'eu' }, hosts: ['web6*'] }, admin)
      .catch((e) => e);
    expect(offline.message).toMatch(/1 matching known host is offline: web6/);
    await expect(svc.dryRun({ command: 'x', labels: ['role=mail'] }, admin)).rejects.toThrow(UnprocessableTaskError);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('refuses a selector it cannot read, or none at all, with 400', async () => {
    const { svc } = service(true);
    await expect(svc.create({ command: 'x' }, admin)).rejects.toThrow(/give hosts .*labels, or all/);
    await expect(svc.create({ command: 'x', all: true, hosts: ['web1'] }, admin)).rejects.toBeInstanceOf(BadQueryError);
    await expect(svc.create({ command: 'x', hosts: ['web[3-1]'] }, admin)).rejects.toThrow(
      /hosts: host pattern "web\[3-1\]": range 3-1 runs backwards/,
    );
    await expect(svc.create({ command: 'x', hosts: ['web*'], maxErrors: 1 }, admin)).rejects.toThrow(
      /maxErrors needs concurrency/,
    );
  });
});
