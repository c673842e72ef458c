export { splitBrokerUrls } from './broker-urls';
export * from './broker.options';
export * from './connection';
export * from './consumer';
export * from './errors';
export * from './logger';
export * from './publisher';
export * from './topology';
export type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
