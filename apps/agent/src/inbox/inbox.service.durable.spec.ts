import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { INTERRUPTED_REASON, InboxRecovery, NEVER_STARTED_REASON } from './inbox.recovery';
import { sleep, until, useInboxHarness } from './inbox.fixtures';

describe('InboxService: what may have run is known first, and no result lives only in memory', () => {
  const h = useInboxHarness();
  const { command, deliver, results, started } = h;

  it('spawns a command only once the broker has confirmed its `started`', async () => {
    h.holdConfirms = true;
    const marker = join(h.dir, 'ran');
    const c = command({ command: `touch ${marker}` });
    expect(deliver(h.inbox, c).settled).toBe('ack');
    await sleep(150);
    expect(started()).toHaveLength(1);
    expect(started()[0].message).toMatchObject({ invocationId: c.invocationId, pid: null });
    expect(existsSync(marker)).toBe(false); // not before the confirm
    h.unconfirmed.shift()!.confirm(true);
    await until(() => results().length === 1);
    expect(existsSync(marker)).toBe(true);
  });

  it('a cancel while `started` waits for its confirm: never spawned, and the result says it never started', async () => {
    h.holdConfirms = true;
    const marker = join(h.dir, 'ran');
    const c = command({ command: `touch ${marker}` });
    deliver(h.inbox, c);
    await until(() => h.unconfirmed.length === 1);
    const outcome = h.inbox.cancel({
      taskId: 't_1',
      invocationIds: [c.invocationId],
      expiresAt: c.expiresAt,
      replyTo: 'ns.results',
      requestedBy: 'alice',
    });
    expect(outcome).toEqual({ [c.invocationId]: 'killed' });
    h.unconfirmed.shift()!.confirm(true);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled by alice before it started',
      startedAt: null,
    });
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(h.journal.outcomeOf(c.invocationId)).toMatchObject({ state: 'cancelled', started: false });
  });

  it('journals the whole result (fsynced) before publishing it, and forgets it once the broker confirms it', async () => {
    h.holdConfirms = true;
    const c = command({ command: 'echo out; exit 3' });
    deliver(h.inbox, c);
    await until(() => h.unconfirmed.length === 1);
    h.unconfirmed.shift()!.confirm(true); // started
    await until(() => h.unconfirmed.length === 1); // the result, published and not yet confirmed
    expect(h.journal.unconfirmed()).toEqual([
      { invocationId: c.invocationId, replyTo: 'ns.results', reply: results()[0] },
    ]);
    // An agent SIGKILLed now: the reopened journal still holds the result to send again.
    h.reopenJournal();
    expect(h.journal.unconfirmed().map((u) => [u.invocationId, (u.reply as { exitCode: number }).exitCode])).toEqual([
      [c.invocationId, 3],
    ]);
    h.unconfirmed.shift()!.confirm(true);
  });

  it('after a restart: re-sends unconfirmed results, reports what it stopped before the end, and still refuses replays', async () => {
    const now = Date.now();
    const route = { taskId: 't_1', replyTo: 'ns.results' };
    h.journal.append('ran', now + 60_000, route);
    h.journal.markSpawning('ran');
    h.journal.append('never', now + 60_000, route);
    h.journal.append('done', now + 60_000, route);
    h.journal.markSpawning('done');
    const result = { ...command({ invocationId: 'done' }), kind: 'result' } as never;
    h.journal.recordOutcome('done', { state: 'succeeded', exitCode: 0, signal: null, finishedAt: now }, result);
    h.journal.append('confirmed', now + 60_000, route);
    h.journal.recordOutcome('confirmed', { state: 'failed', exitCode: 1, signal: null, finishedAt: now }, result);
    h.journal.markConfirmed('confirmed');
    h.reopenJournal();

    const sent: { message: { invocationId: string; kind: string }; key: string }[] = [];
    const replies = {
      sendConfirmed: (message: never, key: string) => {
        sent.push({ message, key });
        return Promise.resolve(true);
      },
    };
    const recovery = new InboxRecovery('web1', h.journal, replies, new SystemClock(), pino({ level: 'silent' }));
    expect(recovery.recover()).toEqual({ reported: 2, resent: 1 });
    expect(sent.map((s) => [s.message.invocationId, s.message.kind, s.key]).sort()).toEqual([
      ['done', 'result', 'ns.results'],
      ['never', 'result', 'ns.results'],
      ['ran', 'interrupted', 'ns.results'],
    ]);
    expect(sent.find((s) => s.message.invocationId === 'ran')!.message).toMatchObject({
      host: 'web1',
      taskId: 't_1',
      reason: INTERRUPTED_REASON,
    });
    expect(sent.find((s) => s.message.invocationId === 'never')!.message).toMatchObject({
      state: 'error',
      reason: NEVER_STARTED_REASON,
    });
    await sleep(10);
    expect(h.journal.unconfirmed()).toEqual([]); // confirmed: not sent a third time
    expect(h.journal.unfinished()).toEqual([]);
    // At most once still: a copy of the one that may have run is refused, not run.
    const inbox = h.make(1);
    expect(deliver(inbox, command({ invocationId: 'ran' })).settled).toBe('ack');
    expect(results().at(-1)).toMatchObject({ invocationId: 'ran', state: 'rejected', code: 'replay' });
    expect(results().at(-1)!.reason).toMatch(/outcome unknown/);
  });
});
