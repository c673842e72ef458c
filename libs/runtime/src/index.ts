/**
 * What both daemons and the CLI share that is neither the wire protocol nor the HTTP contract:
 * the clock port, retry backoff, the root logger, the configuration loader.
 */
export * from './backoff';
export * from './clock';
export * from './logger';
export * from './config';
