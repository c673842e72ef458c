import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { SseSession } from './sse.session';
import { TaskActivityNotifier } from './task-activity.notifier';
import { TaskEventLog } from './task-event.log';
import { chunk, result, started, task } from './task-events.fixtures';

/** The slice of a ServerResponse a session uses, recording what it writes. */
class FakeResponse extends EventEmitter {
  written = '';
  writableEnded = false;
  status = 0;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  write(s: string) {
    this.written += s;
    return true;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
}

function parseFrames(text: string): { id: string; event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .filter((f) => f.includes('event: '))
    .map((f) => {
      const field = (k: string) =>
        f
          .split('\n')
          .find((l) => l.startsWith(`${k}: `))!
          .slice(k.length + 2);
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data')) };
    });
}

describe('SseSession', () => {
  it('streams the log as text/event-stream, resumes after Last-Event-ID, and ends after completed', async () => {
    const events = new TaskActivityNotifier();
    const store = new SqliteTaskStore(openDatabase(':memory:'), (c) => events.applied(c));
    await store.createTask({ ...task('t1'), hostCount: 1 }, [{ id: 'i1', host: 'web1', deadlineAt: 99_000 }]);
    const log = new TaskEventLog(store, events, new ManualClock(), {});
    const first = new FakeResponse();
    await new SseSession(first as unknown as ServerResponse, log, 't1').start(undefined);
    expect(first.status).toBe(200);
    events.started(started('i1', 'web1'));
    events.output(chunk('i1', 'web1', 0, 0, 'a\n'));
    await new Promise((r) => setImmediate(r));
    const seen = parseFrames(first.written);
    expect(seen.map((f) => f.event)).toEqual(['started', 'output']);
    first.emit('close'); // the client dropped

    events.output(chunk('i1', 'web1', 1, 2, 'b\n'));
    const second = new FakeResponse();
    await new SseSession(second as unknown as ServerResponse, log, 't1').start(seen[1].id);
    await store.applyUpdates([result('i1', 'web1', 'a\nb\n')], 4_000);
    await new Promise((r) => setImmediate(r));
    const rest = parseFrames(second.written);
    expect(rest.map((f) => [f.event, f.data.data ?? null])).toEqual([
      ['output', 'b\n'],
      ['result', null],
      ['completed', null],
    ]);
    expect(second.writableEnded).toBe(true);
    log.onModuleDestroy();
  });

  it('ends an open stream once its token is no longer valid, and keeps one whose token holds', async () => {
    const events = new TaskActivityNotifier();
    const store = new SqliteTaskStore(openDatabase(':memory:'), (c) => events.applied(c));
    await store.createTask({ ...task('t1'), hostCount: 1 }, [{ id: 'i1', host: 'web1', deadlineAt: 99_000 }]);
    const log = new TaskEventLog(store, events, new ManualClock(), {});
    let revoked = false;
    const kept = new FakeResponse();
    const cut = new FakeResponse();
    await new SseSession(kept as unknown as ServerResponse, log, 't1', 60_000, async () => true, 5).start(undefined);
    await new SseSession(cut as unknown as ServerResponse, log, 't1', 60_000, async () => !revoked, 5).start(undefined);
    await new Promise((r) => setTimeout(r, 30));
    expect(cut.writableEnded).toBe(false);
    revoked = true;
    await new Promise((r) => setTimeout(r, 30));
    expect(cut.writableEnded).toBe(true);
    expect(cut.written).toMatch(/: token no longer valid\n\n$/);
    expect(kept.writableEnded).toBe(false);
    kept.emit('close');
    log.onModuleDestroy();
  });
});
