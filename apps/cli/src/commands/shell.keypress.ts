import type { Interface } from 'node:readline';
import { answerOf, type InterruptChoice } from './interrupt';

/**
 * One keypress answers the cancel-or-detach question written to `output`: c, d, or Ctrl-C
 * (detach); other keys are ignored. Resolves null when `signal` aborts first (the task finished),
 * and detach when `input` ends (nobody left to answer). Readline's own key handling is set aside
 * meanwhile, so the key is not typed into the next line.
 */
export function askKey(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  question: string,
  signal: AbortSignal,
): Promise<InterruptChoice | null> {
  output.write(question);
  return new Promise((resolve) => {
    const readlineKeys = input.listeners('keypress') as ((...a: unknown[]) => void)[];
    input.removeAllListeners('keypress');
    const done = (choice: InterruptChoice | null, echo: string): void => {
      input.removeListener('keypress', onKey);
      input.removeListener('end', onEnd);
      signal.removeEventListener('abort', onWithdrawn);
      for (const l of readlineKeys) input.on('keypress', l);
      output.write(`${echo}\n`);
      resolve(choice);
    };
    const onKey = (s: string | undefined, key: { ctrl?: boolean; name?: string } | undefined) => {
      const choice = key?.ctrl && key.name === 'c' ? 'detach' : answerOf(s ?? '');
      if (choice) done(choice, choice === 'cancel' ? 'c' : key?.ctrl ? '^C' : 'd');
    };
    // The task finished before anyone answered: readline gets its keys back.
    const onWithdrawn = (): void => done(null, '(the task has finished)');
    // Nobody left to answer: leave the task running.
    const onEnd = (): void => done('detach', '');
    input.on('keypress', onKey);
    input.once('end', onEnd);
    signal.addEventListener('abort', onWithdrawn, { once: true });
  });
}

/** Like bash on Ctrl-C: `^C` after what was typed, a new line, and an empty input line. */
export function clearInput(rl: Interface, output: NodeJS.WritableStream): void {
  rl.write(null, { ctrl: true, name: 'e' });
  output.write('^C');
  // Interface#clearLine (used by Node's own REPL for this) moves past the line and forgets it.
  const withClear = rl as Interface & { clearLine?: () => void };
  if (typeof withClear.clearLine === 'function') withClear.clearLine();
  else {
    output.write('\r\n');
    rl.write(null, { ctrl: true, name: 'u' });
  }
}
