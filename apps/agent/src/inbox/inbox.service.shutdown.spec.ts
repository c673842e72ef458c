import { describe, expect, it } from 'vitest';
import { useInboxHarness, sleep, until } from './inbox.fixtures';

describe('InboxService losing its channel or shutting down', () => {
  const h = useInboxHarness();
  const { make, command, deliver, results, started } = h;

  it('drops a waiting command whose channel died, leaving it to the broker', async () => {
    const one = make(1);
    deliver(one, command({ command: 'sleep 0.1' }));
    const waiting = deliver(one, command());
    waiting.live = false;
    await until(() => results().length === 1);
    await sleep(50);
    expect(waiting.settled).toBeNull();
    expect(started()).toHaveLength(1);
  });

  it('on shutdown requeues waiting commands, then cancels those still running after the grace', async () => {
    const one = make(1);
    deliver(one, command({ command: 'sleep 30' }));
    const waiting = deliver(one, command());
    await one.stopTaking();
    expect(waiting.settled).toBe('requeue');
    expect(deliver(one, command()).settled).toBe('requeue'); // arrived after the cancel
    const t0 = Date.now();
    await one.drain(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(results()).toHaveLength(1);
    expect(results()[0]).toMatchObject({ state: 'cancelled', reason: 'agent shutting down' });
  });

  it('on shutdown lets a command finish within the grace', async () => {
    deliver(h.inbox, command({ command: 'sleep 0.2; echo ok' }));
    await h.inbox.stopTaking();
    await h.inbox.drain(5000);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'ok\n' } });
  });
});
