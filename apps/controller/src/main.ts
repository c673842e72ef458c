import 'reflect-metadata';
import { dirname, join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { scrubBrokerPasswordFromProcessTitle } from '@warren/amqp';
import { loadConfigOrExit } from '@warren/runtime';
import { createRootLogger } from '@warren/runtime/logger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { runMaintenanceCommand } from './auth/token.commands';
import { type ControllerConfig, parseControllerArgs } from './config/controller.config';
import { consoleStatic, loadConsoleFiles } from './console/console.static';
import { validationPipe } from './errors/validation.pipe';
import { applyServerLimits, DEFAULT_SERVER_TIMEOUTS } from './http/http-server';
import { jsonBody } from './http/json-body';
import { runKeygen } from './keys/keygen.command';
import { runOpenApi } from './openapi/openapi.command';
import { openToOthers } from './store/database';
import { migrationLabel } from './store/migrations/migration-plan';
import { migrateDatabase, printableDb } from './store/migrations/migrate-database';
import { isPostgresUrl } from './store/postgres/pg.database';

async function serve(config: ControllerConfig): Promise<void> {
  const logger = createRootLogger('warren-controller', config.logLevel);
  // Before anything opens the database: one that a newer warren-controller migrated stops the start
  // here, with one line (SchemaTooNewError, printed by main).
  const schema = await migrateDatabase(config.dbPath);
  if (schema.applied.length > 0)
    logger.info(
      { db: printableDb(config.dbPath), from: schema.from, to: schema.to, applied: schema.applied.map(migrationLabel) },
      'database schema migrated',
    );
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    bufferLogs: true,
    bodyParser: false,
    // Node's https server takes the same server options as http's; the API is HTTPS when given a certificate.
    ...(config.tls ? { httpsOptions: { cert: config.tls.cert, key: config.tls.key } } : {}),
  });
  app.useLogger(app.get(Logger));
  const sqliteDirs = isPostgresUrl(config.dbPath) || config.dbPath === ':memory:' ? [] : [dirname(config.dbPath)];
  for (const dir of new Set([config.stateDir, ...sqliteDirs])) {
    const mode = openToOthers(dir);
    if (mode) logger.warn({ dir, mode }, 'state directory is accessible to group or others: chmod 700 it');
  }
  app.disable('x-powered-by');
  // The web console, built by `npm run build` beside this bundle (dist/console): served without a token.
  const consoleFiles = loadConsoleFiles(join(__dirname, '..', '..', 'console'));
  if (consoleFiles) app.use(consoleStatic(consoleFiles));
  else logger.warn('web console not built (npm run build): / answers 404');
  app.use(jsonBody());
  applyServerLimits(app.getHttpServer(), {
    ...DEFAULT_SERVER_TIMEOUTS,
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
  });
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
  logger.info(
    {
      port,
      bind: config.bind,
      scheme: config.tls ? 'https' : 'http',
      namespace: config.namespace,
      db: printableDb(config.dbPath),
    },
    'controller listening',
  );
}

async function main(): Promise<void> {
  scrubBrokerPasswordFromProcessTitle(); // and a --db password
  const { action, config } = loadConfigOrExit('warren-controller', () => parseControllerArgs(process.argv.slice(2)));
  if (action.command === 'serve') return serve(config);
  const io = { stdout: process.stdout, stderr: process.stderr };
  if (action.command === 'openapi') {
    // Built, not started: its modules' metadata lists the controllers.
    const app = AppModule.forRoot(config, createRootLogger('warren-controller', config.logLevel));
    process.exitCode = runOpenApi(app, action.out, io);
    return;
  }
  process.exitCode =
    action.command === 'keygen'
      ? runKeygen(action.out ?? config.keyPath, io)
      : await runMaintenanceCommand(action, config, io);
}

main().catch((err: Error) => {
  process.stderr.write(`warren-controller: ${err.message}\n`);
  process.exit(1);
});
