import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ConfigError, loadControllerConfig } from './config/controller.config';
import { createRootLogger } from './logger';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadControllerConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`warren-controller: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    const code = (err as { exitCode?: number }).exitCode;
    process.exit(code ?? 2); // --help / --version already printed
  }
  const logger = createRootLogger(config.logLevel);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  // Commands (64 KiB) and env (128 × 32 KiB) fit well under this.
  app.useBodyParser('json', { limit: '8mb' });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false }));
  app.enableShutdownHooks();
  await app.listen(config.port, config.bind);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, bind: config.bind, namespace: config.namespace, db: config.dbPath }, 'controller listening');
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`warren-controller: ${err.message}\n`);
  process.exit(1);
});
