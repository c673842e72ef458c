/**
 * What both daemons and the CLI share that is neither the wire protocol nor the HTTP contract:
 * the clock port, retry backoff, the configuration loader, the root logger's injection token.
 * Nothing here loads Nest or pino (the CLI imports this at every start); the daemons take
 * `createRootLogger` from the separate entry `@warren/runtime/logger`.
 */
export * from './backoff';
export * from './clock';
export * from './logger.token';
export * from './config';
