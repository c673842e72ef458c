import { type DynamicModule, Global, Module } from '@nestjs/common';
import { Clock, ROOT_LOGGER, SystemClock } from '@warren/runtime';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { ControllerConfig } from '../config/controller.config';
import { accessLogProps, accessLogRequest } from '../http/access-log';

/**
 * What every feature module reads, provided globally: the validated configuration
 * ({@link ControllerConfig}) and the root pino logger (`ROOT_LOGGER`; services log through
 * `.child({ component })` of it), which also writes Nest's own logs and the HTTP access log, and
 * the {@link Clock} every service reads the time from.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: ControllerConfig, logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            // A token is a password: never in a log line, whatever the status. Requests are logged
            // with allow-listed headers and secret query values redacted, and name the token instead.
            serializers: { req: accessLogRequest },
            customProps: accessLogProps,
            // Access logs at debug: one line per request would dominate the log at fleet scale.
            // 503 (no broker yet, or a /healthz probe saying so) is a state, not a bug: warn, not error.
            // 401 and 429 at debug too: anyone can repeat them without limit, so at info they would let
            // an anonymous client fill the log; the audit log records them, one row per source, reason
            // and minute with a count (docs/security-api.md).
            customLogLevel: (_req, res, err) =>
              res.statusCode === 503
                ? 'warn'
                : res.statusCode === 429 || res.statusCode === 401
                  ? 'debug'
                  : err || res.statusCode >= 500
                    ? 'error'
                    : res.statusCode >= 400
                      ? 'info'
                      : 'debug',
          },
        }),
      ],
      providers: [
        { provide: ControllerConfig, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: Clock, useClass: SystemClock },
      ],
      exports: [ControllerConfig, ROOT_LOGGER, Clock],
    };
  }
}
