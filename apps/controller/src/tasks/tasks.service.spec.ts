import { describe, expect, it } from 'vitest';
import { BrokerUnavailableError, TaskNotFoundError } from '../errors/errors';
import { admin, caller, clock, finish, service } from './tasks.service.fixtures';

describe('TasksService creating tasks', () => {
  it('refuses a task while the broker is unreachable, storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(false);
    await expect(svc.create({ command: 'true', hosts: ['a'] }, admin)).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('stores one pending row per distinct host before dispatching, with the documented defaults', async () => {
    const { svc, store, dispatched } = service(true);
    const created = await svc.create({ command: 'true', hosts: ['b', 'a', 'b'] }, admin);
    expect(created.hosts).toEqual(['b', 'a']);
    expect(dispatched).toEqual([created.id]);
    expect(await store.getTask(created.id)).toMatchObject({
      timeoutMs: 60_000,
      deliveryTimeoutMs: 60_000,
      killGraceMs: 5_000,
      hostCount: 2,
    });
    expect((await store.getInvocations(created.id)).map((r) => [r.host, r.state])).toEqual([
      ['a', 'pending'],
      ['b', 'pending'],
    ]);
  });

  it('says which task it does not know', async () => {
    const { reader } = service(true);
    await expect(reader.get('t_nope', admin)).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('keeps who created the task and the run-as user, and audits the exact command with env names but not values', async () => {
    const { svc, store, audited } = service(true);
    const created = await svc.create(
      { command: 'echo "$X" | tee /tmp/y', hosts: ['web1'], env: { X: 's3cret' }, cwd: '/srv', runAs: 'deploy' },
      caller('alice'),
    );
    expect(await store.getTask(created.id)).toMatchObject({ createdBy: 'alice', runAs: 'deploy' });
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'alice',
        source: '10.1.2.3',
        action: 'task.create',
        decision: 'allowed',
        taskId: created.id,
        hosts: ['web1'],
        command: 'echo "$X" | tee /tmp/y',
        cwd: '/srv',
        envNames: ['X'],
        runAs: 'deploy',
      }),
    ]);
    expect(JSON.stringify(audited)).not.toContain('s3cret');
  });

  it('sends a rolling task a few hosts at a time, the next as each one finishes', async () => {
    const { svc, store, sent, rolling } = service(true);
    const created = await svc.create({ command: 'x', hosts: ['web[1-5]'], concurrency: '40%' }, admin);
    expect(created).toMatchObject({ concurrency: 2, maxErrors: null });
    expect(sent).toEqual([['web1', 'web2']]);
    const unsent = (await store.getInvocations(created.id)).filter((r) => r.sentAt === null).map((r) => r.host);
    expect(unsent).toEqual(['web3', 'web4', 'web5']);
    expect((await store.findOverdue(clock.now() + 10 * 60_000, 10)).map((o) => o.host)).toEqual(['web1', 'web2']); // no deadline before it is sent
    await finish(store, created.id, 'web1', 'succeeded');
    await rolling.advance(created.id);
    expect(sent).toEqual([['web1', 'web2'], ['web3']]);
  });
});
