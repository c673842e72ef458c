import { createInterface } from 'node:readline';

/** Asks the person at the terminal before a large run. */
export interface Confirmer {
  /** false when nobody can answer (stdin is not a terminal, or inside `warren shell`) */
  readonly interactive: boolean;
  /** Asks `question`; true only for an explicit yes. */
  ask(question: string): Promise<boolean>;
}

/** Nobody to ask: large runs need `--yes`. */
export const NO_PROMPT: Confirmer = { interactive: false, ask: async () => false };

/** Asks on stderr and reads the answer from stdin, when stdin is a terminal. */
export function ttyConfirmer(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Confirmer {
  return {
    interactive: input.isTTY === true,
    ask: (question) =>
      new Promise((resolve) => {
        const rl = createInterface({ input, output, terminal: true });
        let answered = false;
        rl.question(question, (answer) => {
          answered = true;
          rl.close();
          resolve(/^\s*y(es)?\s*$/i.test(answer));
        });
        // Ctrl-D or Ctrl-C at the prompt is a no.
        rl.on('close', () => {
          if (!answered) resolve(false);
        });
      }),
  };
}
