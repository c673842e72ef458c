import { constants } from 'node:os';
import type { Logger } from 'pino';
import type { Agent } from './agent';

/** What {@link runAgent} needs from the process: `process` itself, or a fake in specs. */
export interface AgentProcess {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/**
 * Builds and starts the agent with the process's signals handled from the start: by the time the
 * agent is up, the inbox may already be running commands.
 *
 * - the first SIGTERM or SIGINT is the graceful shutdown ({@link Agent.stop}), then exit 0 (1 if the
 *   shutdown itself failed, logged); one that came during boot is acted on once booted;
 * - a second one means "now": running commands are killed and the process exits 128 + the signal's number.
 *
 * Rejects if building or starting the agent fails (the caller says why and exits 1).
 */
export async function runAgent(build: () => Agent, logger: Logger, proc: AgentProcess): Promise<void> {
  let agent: Agent | null = null;
  let booted = false;
  let signals = 0;
  let early: NodeJS.Signals | null = null;
  const shutdown = (a: Agent, signal: NodeJS.Signals) => {
    a.stop(signal).then(
      () => proc.exit(0),
      (err: unknown) => {
        logger.error({ err, signal }, 'shutdown failed');
        proc.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) {
      if (booted && agent) shutdown(agent, signal);
      else early = signal;
      return;
    }
    const runner = agent?.runner;
    logger.warn({ signal, running: runner?.running ?? 0 }, 'second signal: killing running commands and exiting now');
    runner?.killAllNow();
    proc.exit(128 + (constants.signals[signal] ?? 0));
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);

  agent = build();
  await agent.start();
  booted = true;
  if (early && signals === 1) {
    logger.info({ signal: early }, 'signal received while starting');
    shutdown(agent, early);
  }
}
