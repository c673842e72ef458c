import { describe, expect, it } from 'vitest';
import { useInboxHarness, until } from './inbox.fixtures';

describe('InboxService answering replays', () => {
  const h = useInboxHarness();
  const { make, command, deliver, results, started } = h;

  it('never runs an invocation twice: a replay after it ran (redelivered or not) is answered rejected with the first outcome', async () => {
    const c = command({ command: 'exit 3' });
    deliver(h.inbox, c);
    await until(() => results().length === 1);
    const again = deliver(h.inbox, c);
    expect(again.redelivered).toBe(false);
    expect(again.settled).toBe('ack');
    expect(started()).toHaveLength(1);
    expect(results()[1]).toMatchObject({ invocationId: c.invocationId, state: 'rejected', code: 'replay' });
    expect(results()[1].reason).toMatch(/^replay: this invocation already ran \(failed, exit 3, finished /);
  });

  it('answers a replay of an invocation that is still running, or still waiting, without running it again', async () => {
    const one = make(1);
    const c = command({ command: 'sleep 0.3' });
    const waitingOne = command();
    deliver(one, c);
    deliver(one, waitingOne);
    expect(deliver(one, c).settled).toBe('ack');
    expect(deliver(one, waitingOne).settled).toBe('ack');
    expect(results().map((r) => [r.invocationId, r.code, r.reason])).toEqual([
      [c.invocationId, 'replay', 'replay: this invocation is running now; not run again'],
      [waitingOne.invocationId, 'replay', 'replay: this invocation is already queued here; not run again'],
    ]);
    await until(() => results().length === 4);
    expect(started()).toHaveLength(2);
  });

  it('remembers accepted invocations across an agent restart', async () => {
    const c = command();
    deliver(h.inbox, c);
    await until(() => results().length === 1);
    h.reopenJournal();
    const restarted = make(2);
    deliver(restarted, c);
    expect(started()).toHaveLength(1);
    expect(results()[1]).toMatchObject({ state: 'rejected', code: 'replay' });
    expect(results()[1].reason).toContain('already ran (succeeded, exit 0');
  });
});
