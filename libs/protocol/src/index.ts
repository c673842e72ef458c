export * from './capture';
export * from './codec';
export * from './limits';
export * from './messages';
export * from './states';
export * from './topology';
export * from './version';
export * from './signing';
