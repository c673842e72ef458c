import type { CliIo, OutStream } from '../cli.io';
import type { FetchFn } from '../http/controller.client';
import { EXIT_INTERRUPTED, type InterruptHub } from './interrupt';

/**
 * Runs one line's argv as `warren <argv>` would, against the shell's controller, with this fetch;
 * `interrupts` is the shell's Ctrl-C while the line watches a task.
 */
export type LineRunner = (argv: string[], io: CliIo, fetch: FetchFn, interrupts?: InterruptHub) => Promise<number>;

/** A fetch that, once `signal` aborts, cuts its request and never settles, so an abandoned command just stops. */
function abandonable(base: FetchFn, signal: AbortSignal): FetchFn {
  return (url, init) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return;
      base(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal }).then(
        resolve,
        (err) => {
          if (!signal.aborted) reject(err);
        },
      );
    });
}

/** Output that can be switched off, so a command the user gave up on prints nothing more. */
function gate(stream: OutStream, live: () => boolean): OutStream {
  return { write: (s) => (live() ? stream.write(s) : true), isTTY: stream.isTTY, columns: stream.columns };
}

/**
 * One line the shell runs. Once it is stopped (Ctrl-C, a detach, or its end) whatever the command
 * left behind prints nothing more and its requests are cut; a task watch it starts gets the
 * shell's Ctrl-C through {@link LineRun.interrupt}.
 */
export class LineRun {
  private readonly abort = new AbortController();
  /** Ctrl-C handlers of the line's task watch (cancel or detach), newest last. */
  private readonly watchers: (() => void)[] = [];
  /** the status `run` resolves with once stopped: 130 for Ctrl-C, a detach's own code */
  private stoppedWith: number = EXIT_INTERRUPTED;

  /**
   * @param io where the command prints, through a gate
   * @param fetch the transport the command's requests go through
   * @param ask the terminal's cancel-or-detach question, as {@link InterruptHub.ask}
   */
  constructor(
    private readonly io: CliIo,
    private readonly fetch: FetchFn,
    private readonly ask: InterruptHub['ask'],
  ) {}

  /** Runs `argv` with `run`; resolves with its exit status, or with the status it was stopped with. */
  async run(argv: string[], run: LineRunner): Promise<number> {
    const { signal } = this.abort;
    const live = () => !signal.aborted;
    const io: CliIo = { stdout: gate(this.io.stdout, live), stderr: gate(this.io.stderr, live), env: this.io.env };
    const stopped = new Promise<number>((resolve) => signal.addEventListener('abort', () => resolve(this.stoppedWith)));
    const code = await Promise.race([run(argv, io, abandonable(this.fetch, signal), this.hub()), stopped]);
    this.stop(); // whatever the line left behind prints nothing more
    return code;
  }

  /** whether a task watch of this line takes Ctrl-C */
  get watching(): boolean {
    return this.watchers.length > 0;
  }

  /** Hands Ctrl-C to the newest task watch of this line. */
  interrupt(): void {
    this.watchers.at(-1)?.();
  }

  /** Gives the line up: `run` resolves with 130 (or a detach's code) and the command goes quiet. */
  stop(): void {
    this.abort.abort();
  }

  private hub(): InterruptHub {
    return {
      onInterrupt: (handler) => {
        this.watchers.push(handler);
        return () => {
          const i = this.watchers.lastIndexOf(handler);
          if (i >= 0) this.watchers.splice(i, 1);
        };
      },
      ask: this.ask,
      // a detach ends the line, not the shell: the prompt comes back
      exit: (code) => {
        this.stoppedWith = code;
        this.stop();
      },
    };
  }
}
