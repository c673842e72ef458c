/**
 * The HTTP contract between the controller and its clients (the CLI, test fakes, later the console):
 * every request and response body, and the one rule for each input a person types (durations,
 * labels, `N|N%` limits, host lists, columns), so that both sides read them alike. Nothing here
 * crosses the broker: that is `@warren/protocol`.
 */
export * from './audit.contract';
export * from './common.contract';
export * from './events.contract';
export * from './files.contract';
export * from './hostlist';
export * from './hosts.contract';
export * from './tasks.contract';
export * from './byte-size.rule';
export * from './duration.rule';
export * from './labels.rule';
export * from './limit.rule';
export * from './command.rule';
export * from './columns.format';
