import { describe, expect, it } from 'vitest';
import { ForbiddenError, TaskNotFoundError } from '../errors/errors';
import { admin, caller, finish, service } from './tasks.service.fixtures';

describe('TasksService re-running tasks', () => {
  it('re-runs the hosts of a task in the states asked for as a new task that records where it came from', async () => {
    const { svc, store, sent } = service(true);
    const first = await svc.create(
      { command: 'deploy', hosts: ['web1', 'web2', 'web3'], env: { V: '2' }, timeoutMs: 9_000 },
      admin,
    );
    await finish(store, first.id, 'web1', 'succeeded');
    await finish(store, first.id, 'web2', 'failed');
    const again = await svc.rerun(first.id, { only: ['failed'] }, admin);
    expect(again).toMatchObject({ hosts: ['web2'], rerunOf: first.id });
    expect(await store.getTask(again.id)).toMatchObject({
      command: 'deploy',
      env: { V: '2' },
      timeoutMs: 9_000,
      rerunOf: first.id,
    });
    expect(sent.at(-1)).toEqual(['web2']);
    // Default: every host that did not succeed, finished ones only (web3 is still pending).
    await expect(svc.rerun(first.id, {}, admin)).resolves.toMatchObject({ hosts: ['web2'] });
    await expect(svc.rerun(first.id, { only: ['timed_out'] }, admin)).rejects.toThrow(
      /no host of task t_\w+ is in timed_out \(its hosts now: .*1 failed/,
    );
    await expect(svc.rerun('t_nope', {}, admin)).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(
      svc.rerun(first.id, { only: ['failed'] }, caller('dbops', 'operator', ['db*'])),
    ).rejects.toBeInstanceOf(ForbiddenError);
  });
});
