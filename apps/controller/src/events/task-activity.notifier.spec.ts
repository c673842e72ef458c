import { describe, expect, it } from 'vitest';
import { TaskActivityNotifier } from './task-activity.notifier';

describe('TaskActivityNotifier', () => {
  it('tells a store commit to onApplied listeners first, then its tasks, once each, to onChanged', () => {
    const n = new TaskActivityNotifier();
    const heard: string[] = [];
    n.onApplied((c) => heard.push(`applied ${c.length}`));
    const off = n.onChanged((ids) => heard.push(`changed ${ids.join(',')}`));
    n.applied([
      { invocationId: 'i1', taskId: 't1', state: 'succeeded', kind: 'result' },
      { invocationId: 'i2', taskId: 't1', state: 'failed', kind: 'result' },
      { invocationId: 'i3', taskId: 't2', state: 'running', kind: 'started' },
    ]);
    expect(heard).toEqual(['applied 3', 'changed t1,t2']);
    off();
    n.changed(['t3']);
    n.changed([]);
    expect(heard).toHaveLength(2);
  });
});
