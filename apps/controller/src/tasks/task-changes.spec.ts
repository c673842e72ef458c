import { describe, expect, it } from 'vitest';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { CompletionNotifier } from './completion.notifier';
import { TaskChanges } from './task-changes';

describe('TaskChanges', () => {
  it('tells listeners which tasks changed before it wakes the waiters of those that completed', async () => {
    const completion = new CompletionNotifier();
    const changes = new TaskChanges(new TaskActivityNotifier(), completion);
    const heard: string[] = [];
    changes.onChanged((ids) => heard.push(`changed ${ids.join(',')}`));
    const waited = completion.wait('t1', 1_000).then((done) => heard.push(`completed t1 ${done}`));
    changes.committed(['t1', 't2'], ['t1']);
    expect(heard).toEqual(['changed t1,t2']);
    await waited;
    expect(heard).toEqual(['changed t1,t2', 'completed t1 true']);
  });

  it('stops telling a listener once it unsubscribed, and wakes no one for a task not completed', async () => {
    const completion = new CompletionNotifier();
    const changes = new TaskChanges(new TaskActivityNotifier(), completion);
    const heard: string[][] = [];
    const off = changes.onChanged((ids) => heard.push(ids));
    const waiting = completion.wait('t1', 20);
    changes.committed(['t1'], []);
    off();
    changes.committed(['t2'], []);
    expect(heard).toEqual([['t1']]);
    expect(await waiting).toBe(false); // timed out: the change did not complete it
  });
});
