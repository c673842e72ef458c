import { describe, expect, it } from 'vitest';
import { useInboxHarness, until } from './inbox.fixtures';

describe('InboxService running commands', () => {
  const h = useInboxHarness();
  const { command, deliver, results } = h;

  it('journals each command before acking it, then runs it and replies started and result to its signed replyTo', async () => {
    const c = command({ command: 'echo hi', replyTo: 'custom.replies' });
    const d = deliver(h.inbox, c, { replyTo: 'ignored.unsigned.reply-to' });
    expect(d.settled).toBe('ack');
    expect(d.journaledAtAck).toBe(true);
    await until(() => results().length === 1);
    expect(h.sent.map((s) => [s.message.kind, s.routingKey])).toEqual([
      ['started', 'custom.replies'],
      ['result', 'custom.replies'],
    ]);
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      taskId: 't_1',
      host: 'web1',
      state: 'succeeded',
      stdout: { data: 'hi\n' },
    });
  });

  it('streams output while the command runs, in order, to its replyTo, and sends the last chunk before the result', async () => {
    const c = command({ command: 'echo one; sleep 0.3; echo two >&2; echo three', replyTo: 'custom.replies' });
    deliver(h.inbox, c);
    await until(() => h.live.length >= 1);
    expect(results()).toHaveLength(0); // the first line arrived while the command still ran
    await until(() => results().length === 1);
    expect(
      h.live.every((l) => l.routingKey === 'custom.replies' && l.message.invocationId === c.invocationId && l.at === 1),
    ).toBe(true);
    expect(h.live.map((l) => l.message.seq)).toEqual(h.live.map((_, i) => i));
    const text = (stream: string) =>
      h.live
        .filter((l) => l.message.stream === stream)
        .map((l) => l.message.data)
        .join('');
    expect(text('stdout')).toBe(results()[0].stdout.data);
    expect(text('stderr')).toBe('two\n');
  });

  it('sends no live chunks for a command signed with live: false, and still the whole output in its result', async () => {
    const c = command({ command: 'echo one; sleep 0.2; echo two', live: false });
    deliver(h.inbox, c);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'one\ntwo\n' } });
    expect(h.live).toEqual([]);
  });

  it('runs at most `concurrency` commands at once; the rest wait unacked, in order', async () => {
    const ds = [1, 2, 3, 4].map(() => deliver(h.inbox, command({ command: 'sleep 0.3' })));
    expect(ds.map((d) => d.settled)).toEqual(['ack', 'ack', null, null]);
    await until(() => h.runner.running === 2); // spawned once their `started` is confirmed
    expect(h.inbox.queued).toBe(2);
    await until(() => ds[2].settled === 'ack');
    expect(h.runner.running).toBeLessThanOrEqual(2);
    await until(() => results().length === 4);
    expect(results().every((r) => r.state === 'succeeded')).toBe(true);
  });
});
