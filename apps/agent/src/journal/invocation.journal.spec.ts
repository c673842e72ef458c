import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@warren/runtime';
import { InvocationJournal, JOURNAL_RETENTION_MS } from './invocation.journal';

describe('InvocationJournal', () => {
  let root: string;
  let dir: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'warren-journal-'));
    dir = join(root, 'state', 'agent-web1');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates its state directory private to the agent user', () => {
    InvocationJournal.open(dir).close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('detects an invocation already accepted in this run', () => {
    const j = InvocationJournal.open(dir);
    expect(j.has('inv-1')).toBe(false);
    j.append('inv-1', Date.now() + 60_000);
    expect(j.has('inv-1')).toBe(true);
    expect(j.has('inv-2')).toBe(false);
    j.close();
  });

  it('remembers accepted invocations across a reopen (an agent restart)', () => {
    const now = Date.now();
    const j = InvocationJournal.open(dir, new ManualClock(now));
    j.append('inv-1', now + 60_000);
    j.append('inv-2', now + 60_000);
    j.close();
    const again = InvocationJournal.open(dir, new ManualClock(now + 1000));
    expect(again.has('inv-1')).toBe(true);
    expect(again.has('inv-2')).toBe(true);
    expect(again.size).toBe(2);
    again.close();
  });

  it('keeps the temp file of a transfer across a reopen and a compaction, with whether it finished', () => {
    const now = Date.now();
    const j = InvocationJournal.open(dir, new ManualClock(now));
    j.append('put-1', now + 60_000, { taskId: 't_1', replyTo: 'r' });
    j.recordTemp('put-1', '/etc/.motd.warren-put-1.tmp');
    j.append('put-2', now + 60_000, { taskId: 't_1', replyTo: 'r' });
    j.recordTemp('put-2', '/srv/.x.warren-put-2.tmp');
    j.recordOutcome('put-2', { state: 'failed', exitCode: null, signal: null, finishedAt: now });
    expect(() => j.recordTemp('unknown', '/x')).toThrow('invocation unknown is not journaled');
    j.close();
    const again = InvocationJournal.open(dir, new ManualClock(now + 1000)); // compacts on open
    expect(again.tempFiles()).toEqual([
      { invocationId: 'put-1', path: '/etc/.motd.warren-put-1.tmp', finished: false },
      { invocationId: 'put-2', path: '/srv/.x.warren-put-2.tmp', finished: true },
    ]);
    again.close();
  });

  it('drops entries past expiry + retention when opened, and compacts the file', () => {
    const now = Date.now();
    const j = InvocationJournal.open(dir, new ManualClock(now));
    j.append('old', now - JOURNAL_RETENTION_MS - 1);
    j.append('recent', now - JOURNAL_RETENTION_MS + 60_000);
    j.append('live', now + 60_000);
    j.close();
    expect(readFileSync(join(dir, 'journal.log'), 'utf8').trim().split('\n')).toHaveLength(3);
    const again = InvocationJournal.open(dir, new ManualClock(now));
    expect([again.has('old'), again.has('recent'), again.has('live')]).toEqual([false, true, true]);
    const lines = readFileSync(join(dir, 'journal.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id);
    expect(lines.sort()).toEqual(['live', 'recent']);
    // appends after compaction land in the new file
    again.append('after', now + 60_000);
    again.close();
    expect(InvocationJournal.open(dir, new ManualClock(now)).has('after')).toBe(true);
  });

  it('ignores a line torn by a crash mid-write', () => {
    const now = Date.now();
    const j = InvocationJournal.open(dir, new ManualClock(now));
    j.append('whole', now + 60_000);
    j.close();
    appendFileSync(join(dir, 'journal.log'), '{"id":"tor');
    const again = InvocationJournal.open(dir, new ManualClock(now));
    expect(again.has('whole')).toBe(true);
    expect(again.size).toBe(1);
    again.close();
  });

  it('keeps a result until the broker confirms it, past retention and across reopens; reads lines of older agents', () => {
    const now = Date.now();
    const j = InvocationJournal.open(dir, new ManualClock(now));
    const route = { taskId: 't', replyTo: 'ns.results' };
    j.append('old-unsent', now - JOURNAL_RETENTION_MS - 1, route);
    j.recordOutcome('old-unsent', { state: 'failed', exitCode: 2, signal: null, finishedAt: now }, {
      kind: 'x',
    } as never);
    j.append('spawned', now + 60_000, route);
    j.markSpawning('spawned');
    j.close();
    appendFileSync(join(dir, 'journal.log'), `${JSON.stringify({ id: 'v0', exp: now + 60_000 })}\n`);
    const again = InvocationJournal.open(dir, new ManualClock(now));
    expect(again.unconfirmed()).toEqual([{ invocationId: 'old-unsent', replyTo: 'ns.results', reply: { kind: 'x' } }]);
    // An entry of an older agent (no route) is still a replay guard, but cannot be reported.
    expect(again.has('v0')).toBe(true);
    expect(again.unfinished()).toEqual([
      { invocationId: 'spawned', taskId: 't', replyTo: 'ns.results', mayHaveRun: true },
    ]);
    again.markConfirmed('old-unsent');
    again.close();
    const third = InvocationJournal.open(dir, new ManualClock(now));
    expect(third.unconfirmed()).toEqual([]);
    expect(third.has('old-unsent')).toBe(false); // confirmed and past retention: dropped
    third.close();
  });

  it('refuses to append once closed, so nothing runs unrecorded', () => {
    const j = InvocationJournal.open(dir);
    j.close();
    expect(() => j.append('x', Date.now())).toThrow(/closed/);
  });
});
