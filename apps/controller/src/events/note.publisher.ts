import { Inject, Injectable } from '@nestjs/common';
import { eventNotesExchange, isTerminal } from '@warren/protocol';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';
import { encodeNote, type EventNote, MAX_NOTE_ENTRIES, NOTE_TYPE } from './event-note';
import { TaskActivityNotifier } from './task-activity.notifier';

/** ms {@link NotePublisher.stop} waits for completions still being counted */
const STOP_COUNT_WAIT_MS = 2_000;

/**
 * Appends this controller's notes to the events stream (through the notes exchange, which only
 * controllers may write to: that is what makes a note believed, as for the changes fanout): after
 * each store commit, which invocations became terminal and in which state (the store's report, so
 * every path counts: agents' results, deadline verdicts, cancels, dead letters), and which tasks
 * completed (told by {@link CompletionNotifier}, not when relayed: the committer announces those),
 * each with its number of invocations read from the store (`EventNote.completed`). What one tick of the event loop noted goes out in one note (split past {@link MAX_NOTE_ENTRIES}).
 *
 * Published with confirms, re-published over a reconnect; a note that never arrives (the
 * controller died after its commit, or the broker stayed away) is made good by the SSE sessions'
 * store checks, which publish it themselves ({@link publish} with `repair`).
 */
@Injectable()
export class NotePublisher {
  private results: EventNote['results'] = [];
  private completed: EventNote['completed'] = [];
  /** completions whose invocations are being counted */
  private counting = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private readonly unlisten: (() => void)[];
  private readonly exchange: string;
  private readonly log: Logger;
  /** notes published, and failed to (for logs and tests) */
  readonly counts = { sent: 0, failed: 0 };

  constructor(
    private readonly broker: BrokerService,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    activity: TaskActivityNotifier,
    completion: CompletionNotifier,
    config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'events' });
    this.exchange = eventNotesExchange(config.namespace);
    this.unlisten = [
      activity.onApplied((changes) => {
        for (const c of changes)
          if (isTerminal(c.state))
            this.results.push({ taskId: c.taskId, invocationId: c.invocationId, state: c.state });
        this.schedule();
      }),
      completion.onNotified((ids, relayed) => {
        if (!relayed) void this.noteCompleted(ids);
      }),
    ];
  }

  /**
   * Notes these completions with each task's number of invocations (see `EventNote.completed`):
   * read from the store after the commit that completed them; without it when the store does not
   * answer (sessions then send `completed` when they read it, as before).
   */
  private async noteCompleted(ids: string[]): Promise<void> {
    this.counting++;
    try {
      const entries = await Promise.all(
        ids.map(async (taskId) => {
          try {
            const counts = await this.store.countByState(taskId);
            return { taskId, invocations: Object.values(counts).reduce((a, n) => a + (n ?? 0), 0) };
          } catch (err) {
            this.log.debug({ taskId, err: (err as Error).message }, 'invocations of a completed task not counted');
            return { taskId };
          }
        }),
      );
      this.completed.push(...entries);
    } finally {
      this.counting--;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.results.length + this.completed.length === 0) return;
    this.scheduled = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = null;
    const { results, completed } = this;
    this.results = [];
    this.completed = [];
    // Results before completions: a note's events follow its lists' order.
    if (results.length <= MAX_NOTE_ENTRIES && completed.length <= MAX_NOTE_ENTRIES) {
      if (results.length + completed.length > 0) this.publish({ v: 1, results, completed });
      return;
    }
    for (let i = 0; i < results.length; i += MAX_NOTE_ENTRIES)
      this.publish({ v: 1, results: results.slice(i, i + MAX_NOTE_ENTRIES), completed: [] });
    for (let i = 0; i < completed.length; i += MAX_NOTE_ENTRIES)
      this.publish({ v: 1, results: [], completed: completed.slice(i, i + MAX_NOTE_ENTRIES) });
  }

  /** Publishes `note`; never rejects (a lost note is made good by the sessions' store checks). */
  publish(note: EventNote): void {
    const body = encodeNote(note);
    this.broker.publisher
      .publish(this.exchange, '', body, {
        persistent: true,
        type: NOTE_TYPE,
        contentType: 'application/json',
      })
      .then(
        () => this.counts.sent++,
        (err: Error) => {
          this.counts.failed++;
          this.log.debug({ err: err.message, repair: note.repair ?? false }, 'events note not published');
        },
      );
  }

  /**
   * Stops listening; what is noted goes out now, with the completions still being counted once
   * counted (at most {@link STOP_COUNT_WAIT_MS}; the publisher drains it before the connection
   * closes). AppModule calls it at shutdown after the results consumer stored its last batch, so
   * that those commits are announced too.
   */
  async stop(): Promise<void> {
    for (const off of this.unlisten) off();
    // Completions being counted join the last note (a store read; it fails fast if the store is gone).
    for (let waited = 0; this.counting > 0 && waited < STOP_COUNT_WAIT_MS; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.scheduled) clearImmediate(this.scheduled);
    this.flush();
  }
}
