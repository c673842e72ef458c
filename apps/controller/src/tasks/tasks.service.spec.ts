import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { BrokerUnavailableError, TaskNotFoundError } from '../errors/errors';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { CompletionNotifier } from './completion.notifier';
import type { DispatcherService } from './dispatcher.service';
import { TasksService } from './tasks.service';

function service(connected: boolean) {
  const store = new SqliteTaskStore(':memory:');
  const dispatched: string[] = [];
  const dispatcher = { dispatch: async (task: { id: string }) => void dispatched.push(task.id) } as unknown as DispatcherService;
  const broker = { connected } as BrokerService;
  const config = Object.assign(new ControllerConfig(), { deliveryGraceMs: 1000, resultGraceMs: 1000 });
  const svc = new TasksService(store, dispatcher, broker, new CompletionNotifier(), config, pino({ level: 'silent' }));
  return { svc, store, dispatched };
}

describe('TasksService', () => {
  it('refuses a task while the broker is unreachable, storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(false);
    await expect(svc.create({ command: 'true', hosts: ['a'] })).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('stores one pending row per distinct host before dispatching, with the documented defaults', async () => {
    const { svc, store, dispatched } = service(true);
    const created = await svc.create({ command: 'true', hosts: ['b', 'a', 'b'] });
    expect(created.hosts).toEqual(['b', 'a']);
    expect(dispatched).toEqual([created.id]);
    expect(store.getTask(created.id)).toMatchObject({ timeoutMs: 60_000, deliveryTimeoutMs: 60_000, killGraceMs: 5_000, hostCount: 2 });
    expect(store.getInvocations(created.id).map((r) => [r.host, r.state])).toEqual([['a', 'pending'], ['b', 'pending']]);
  });

  it('says which task it does not know', async () => {
    const { svc } = service(true);
    await expect(svc.get('t_nope')).rejects.toBeInstanceOf(TaskNotFoundError);
  });
});
