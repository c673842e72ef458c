import 'reflect-metadata';
import { constants } from 'node:os';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { scrubBrokerPasswordFromProcessTitle } from '@warren/amqp';
import { loadConfigOrExit } from '@warren/runtime';
import { createRootLogger } from '@warren/runtime/logger';
import { AgentModule } from './agent.module';
import { loadAgentConfig } from './config/agent.config';
import { ProcessRunner } from './exec/process.runner';
import { NestPinoLogger } from './nest.logger';

/** Entry point of `warren-agent` (bundled to dist/apps/agent/main.js; runs on load). */
async function bootstrap(): Promise<void> {
  scrubBrokerPasswordFromProcessTitle();
  const config = loadConfigOrExit('warren-agent', () => loadAgentConfig(process.argv.slice(2)));
  const logger = createRootLogger('warren-agent', config.logLevel, { host: config.host });

  // Signals are ours from the start: Nest's shutdown hooks exist only once the app is up, and by
  // then the inbox may already be running commands. The first signal is Nest's graceful shutdown
  // (or, if it came during boot, ours once booted); a second one means "now".
  let app: INestApplicationContext | null = null;
  let signals = 0;
  let early: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) {
      if (!app) early = signal;
      return;
    }
    const runner = app?.get(ProcessRunner);
    logger.warn({ signal, running: runner?.running ?? 0 }, 'second signal: killing running commands and exiting now');
    runner?.killAllNow();
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const ctx = await NestFactory.createApplicationContext(AgentModule.forRoot(config, logger), { bufferLogs: true });
  ctx.useLogger(new NestPinoLogger(logger));
  // useProcessExit: a clean shutdown exits 0 instead of re-raising the signal.
  ctx.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  app = ctx;
  if (early) {
    logger.info({ signal: early }, 'signal received while starting');
    await ctx.close();
    process.exit(0);
  }
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`warren-agent: ${err.message}\n`);
  process.exit(1);
});
