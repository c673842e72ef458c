import { describe, expect, it } from 'vitest';
import { BrokerUrlRing, connectOptionsOf, splitBrokerUrls } from './broker-urls';

describe('broker URLs', () => {
  it('splits a comma-separated list only before another URL, so a comma in a password survives', () => {
    expect(splitBrokerUrls('amqp://u:p@a:5672')).toEqual(['amqp://u:p@a:5672']);
    expect(splitBrokerUrls('amqp://a:5672, amqps://b:5671')).toEqual(['amqp://a:5672', 'amqps://b:5671']);
    expect(splitBrokerUrls('amqp://u:p,w@a,amqp://b')).toEqual(['amqp://u:p,w@a', 'amqp://b']);
    expect(splitBrokerUrls(['amqp://a', ' amqp://b '])).toEqual(['amqp://a', 'amqp://b']);
  });

  it('gives amqplib the fields it reads from a URL string, and the heartbeat unless the URL sets one', () => {
    expect(connectOptionsOf('amqps://w%40rren:s%2Fcret@[::1]:5671/prod%2Fa?frameMax=8192', 10)).toEqual({
      protocol: 'amqps',
      hostname: '::1',
      port: 5671,
      username: 'w@rren',
      password: 's/cret',
      vhost: 'prod%2Fa',
      heartbeat: 10,
      frameMax: 8192,
      channelMax: undefined,
      maxFrameSize: undefined,
      locale: undefined,
    });
    expect(connectOptionsOf('amqp://h?heartbeat=3', 10)).toMatchObject({
      hostname: 'h',
      port: undefined,
      username: undefined,
      password: undefined,
      vhost: '',
      heartbeat: 3,
    });
  });

  it('goes round the URLs in turn', () => {
    const ring = new BrokerUrlRing(['amqp://a', 'amqp://b']);
    expect([ring.current, ring.advance(), ring.advance()]).toEqual(['amqp://a', 'amqp://b', 'amqp://a']);
    expect(() => new BrokerUrlRing([])).toThrow(TypeError);
  });
});

describe('connectOptionsOf, credentials as amqplib reads a URL string', () => {
  it('keeps a password with a % that is no UTF-8 escape instead of throwing (it worked as text)', () => {
    expect(connectOptionsOf('amqp://warren:50%off@broker:5672', 10)).toMatchObject({
      username: 'warren',
      password: '50%off',
    });
    expect(connectOptionsOf('amqp://u:p%E9@broker', 10).password).toBe('p\u00e9');
    expect(connectOptionsOf('amqp://u:p%C3%A9@broker', 10).password).toBe('p\u00e9');
  });
});
