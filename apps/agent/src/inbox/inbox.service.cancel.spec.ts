import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useInboxHarness, sleep, until } from './inbox.fixtures';

describe('InboxService cancelling', () => {
  const h = useInboxHarness();
  const { make, command, deliver, results, started } = h;

  it('cancel kills a running command, dequeues a waiting one, and bars one not yet arrived from ever running', async () => {
    const one = make(1);
    const marker = join(h.dir, 'barred-ran');
    const running = command({ command: 'sleep 30', killGraceMs: 200 });
    const waiting = command({ command: `touch ${marker}` });
    const later = command({ command: `touch ${marker}` });
    deliver(one, running);
    const w = deliver(one, waiting);
    expect(w.settled).toBeNull();
    await until(() => h.runner.running === 1);
    const outcome = one.cancel({
      taskId: 't_1',
      invocationIds: [running.invocationId, waiting.invocationId, later.invocationId],
      expiresAt: Date.now() + 60_000,
      replyTo: 'ns.results',
      requestedBy: 'alice',
    });
    expect(outcome).toEqual({
      [running.invocationId]: 'killed',
      [waiting.invocationId]: 'dequeued',
      [later.invocationId]: 'barred',
    });
    expect(w.settled).toBe('ack');
    await until(() => results().length === 2);
    expect(results().map((r) => [r.invocationId, r.state, r.reason])).toEqual(
      expect.arrayContaining([
        [waiting.invocationId, 'cancelled', 'cancelled by alice'],
        [running.invocationId, 'cancelled', 'cancelled by alice'],
      ]),
    );
    // The barred one arrives after the cancel (even after a restart): never run.
    h.reopenJournal();
    const restarted = make(1);
    expect(deliver(restarted, later).settled).toBe('ack');
    expect(results().at(-1)).toMatchObject({ invocationId: later.invocationId, state: 'rejected', code: 'replay' });
    expect(results().at(-1)!.reason).toMatch(/cancelled before it started/);
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(started()).toHaveLength(1);
  });
});
