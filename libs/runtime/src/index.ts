/**
 * What both daemons and the CLI share that is neither the wire protocol nor the HTTP contract:
 * the clock port, retry backoff, the root logger.
 */
export * from './backoff';
export * from './clock';
export * from './logger';
