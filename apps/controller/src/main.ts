import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfigOrExit } from '@warren/runtime';
import { createRootLogger } from '@warren/runtime/logger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { runMaintenanceCommand } from './auth/token.commands';
import { type ControllerConfig, parseControllerArgs } from './config/controller.config';
import { validationPipe } from './errors/validation.pipe';
import { runKeygen } from './keys/keygen.command';

async function serve(config: ControllerConfig): Promise<void> {
  const logger = createRootLogger('warren-controller', config.logLevel);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  // Commands (64 KiB) and env (128 KiB in all) fit well under this.
  app.useBodyParser('json', { limit: '8mb' });
  app.useGlobalPipes(validationPipe());
  // A clean shutdown (consumers cancelled, buffered replies stored and acked, connection and store
  // closed) exits 0 rather than re-raising the signal; a second signal exits at once.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) return void logger.info({ signal }, 'shutting down');
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await app.listen(config.port, config.bind);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, bind: config.bind, namespace: config.namespace, db: config.dbPath }, 'controller listening');
}

async function main(): Promise<void> {
  const { action, config } = loadConfigOrExit('warren-controller', () => parseControllerArgs(process.argv.slice(2)));
  if (action.command === 'serve') return serve(config);
  const io = { stdout: process.stdout, stderr: process.stderr };
  process.exitCode =
    action.command === 'keygen'
      ? runKeygen(action.out ?? config.keyPath, io)
      : await runMaintenanceCommand(action, config, io);
}

main().catch((err: Error) => {
  process.stderr.write(`warren-controller: ${err.message}\n`);
  process.exit(1);
});
