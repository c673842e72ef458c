import type { ControllerClient } from '../http/controller.client';
import type { OutStream } from '../cli.io';
import { EXIT } from '../exit-status.table';
import { escapeControls } from '../render/terminal.safe';

/** Exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted command: a row of the one table. */
export const EXIT_INTERRUPTED = EXIT.INTERRUPTED;

/** What Ctrl-C while waiting on a task leads to. */
export type InterruptChoice = 'cancel' | 'detach';

/**
 * Ctrl-C while `run`/`rerun --wait/--stream` watches a task (`check` just stops watching). The real
 * process routes SIGINT here; `warren shell` routes its own Ctrl-C (see shell.repl.ts).
 */
export interface InterruptHub {
  /** Calls `handler` on Ctrl-C until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
  /**
   * Asks cancel-or-detach; null when nobody can answer (stdin not a terminal), or when `signal`
   * aborts first (the watch ended meanwhile): then the terminal is as it was before the question.
   */
  ask(question: string, signal: AbortSignal): Promise<InterruptChoice | null>;
  /** Ends the watch with `code` after a detach: the process exits; in `warren shell`, the line ends and the prompt returns. */
  exit(code: number): void;
}

/**
 * Handles Ctrl-C while watching task `taskId`: on a terminal, asks whether to cancel the task on
 * every host (the watch then goes on and shows the cancelled results) or detach (prints the task
 * id and how to look later, exits 130); without a terminal, detaches. A second Ctrl-C at the
 * question detaches. The returned function ends the guard; a question still open is withdrawn
 * (the task finished while it was asked) and its answer, if any, ignored.
 */
export function guardWatch(
  hub: InterruptHub | undefined,
  taskId: string,
  client: ControllerClient,
  stderr: OutStream,
): () => void {
  if (!hub) return () => undefined;
  let asking = false;
  let released = false;
  const withdraw = new AbortController();
  const detach = (): void => {
    stderr.write(`\nwarren: detached; task ${taskId} keeps running. See it with: warren check ${taskId} --wait\n`);
    hub.exit(EXIT_INTERRUPTED);
  };
  const off = hub.onInterrupt(() => {
    if (asking) return void detach();
    asking = true;
    void hub
      .ask(`\nCtrl-C: [c]ancel task ${taskId} on every host, or [d]etach and leave it running? `, withdraw.signal)
      .then(async (choice) => {
        if (released) return;
        if (choice !== 'cancel') return detach();
        try {
          const r = await client.cancelTask(taskId);
          stderr.write(
            `warren: cancelling ${taskId}: ${r.cancelled.length} not started, ${r.killing.length} being killed; waiting for the hosts to confirm\n`,
          );
        } catch (err) {
          stderr.write(`warren: cancel failed: ${escapeControls((err as Error).message)}\n`);
        }
        asking = false;
      });
  });
  return () => {
    if (released) return;
    released = true;
    withdraw.abort();
    off();
  };
}

/** Terminal escape sequences: CSI (arrows, reports), OSC/DCS/APC/PM/SOS strings, SS3, and two-byte ones. */
const ESCAPES = /\u001b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][\s\S]*?(?:\u0007|\u001b\\|$)|O.|[\s\S])?/g;

/**
 * The choice a keypress at the cancel-or-detach question makes: `c` cancels; `d` or Ctrl-C
 * detaches. Anything else is no answer (null) and the question stays: escape sequences (arrow
 * keys, a terminal's reports), and more than one key read at once (typed ahead, pasted), since a
 * cancel reaches every host and must be meant.
 */
export function answerOf(keys: string): InterruptChoice | null {
  const plain = keys.replace(ESCAPES, '');
  if (plain.length > 0 && [...plain].every((k) => k === '\u0003')) return 'detach';
  if (plain.length !== 1) return null;
  const k = plain.toLowerCase();
  return k === 'c' ? 'cancel' : k === 'd' ? 'detach' : null;
}

/** The hub of the real `warren` process: SIGINT, and one keypress on the terminal. */
export function processInterruptHub(): InterruptHub {
  const handlers: (() => void)[] = [];
  process.on('SIGINT', () => {
    const h = handlers.at(-1);
    if (h) h();
    else process.exit(EXIT_INTERRUPTED);
  });
  return {
    onInterrupt(handler) {
      handlers.push(handler);
      return () => {
        const i = handlers.lastIndexOf(handler);
        if (i >= 0) handlers.splice(i, 1);
      };
    },
    ask(question, signal) {
      const stdin = process.stdin;
      if (!stdin.isTTY || signal.aborted) return Promise.resolve(null);
      process.stderr.write(question);
      return new Promise((resolve) => {
        const done = (choice: InterruptChoice | null, echo: string): void => {
          stdin.off('data', onKey);
          stdin.off('end', onEnd);
          signal.removeEventListener('abort', onWithdrawn);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write(`${echo}\n`);
          resolve(choice);
        };
        // Only c, d and a second Ctrl-C answer; anything else (Enter, an arrow key, a terminal's
        // own report) is ignored, so that a stray byte can never make the choice.
        const onKey = (b: Buffer): void => {
          const choice = answerOf(b.toString('utf8'));
          if (choice) done(choice, choice === 'cancel' ? 'c' : b.includes(3) ? '^C' : 'd');
        };
        const onEnd = (): void => done('detach', '');
        // The task finished before anyone answered: no answer needed, and stdin must not keep the process alive.
        const onWithdrawn = (): void => done(null, '(the task has finished)');
        stdin.setRawMode(true);
        stdin.on('data', onKey);
        stdin.once('end', onEnd);
        signal.addEventListener('abort', onWithdrawn, { once: true });
        stdin.resume();
      });
    },
    exit(code) {
      process.exit(code);
    },
  };
}
