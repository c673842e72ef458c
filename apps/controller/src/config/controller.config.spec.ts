import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadControllerConfig } from './controller.config';

describe('loadControllerConfig', () => {
  it('takes defaults, then the environment, then flags', () => {
    expect(loadControllerConfig([], {})).toMatchObject({
      port: 7070,
      namespace: 'warren',
      bind: '127.0.0.1',
      resultGraceMs: 5000,
    });
    expect(
      loadControllerConfig([], { WARREN_PORT: '8080', WARREN_NAMESPACE: 'prod', WARREN_RESULT_GRACE: '2s' }),
    ).toMatchObject({ port: 8080, namespace: 'prod', resultGraceMs: 2000 });
    expect(loadControllerConfig(['--port', '9090'], { WARREN_PORT: '8080' }).port).toBe(9090);
  });

  it('declares classic queues unless --queue-type (WARREN_QUEUE_TYPE) says quorum, and refuses any other type', () => {
    expect(loadControllerConfig([], {}).queueType).toBe('classic');
    expect(loadControllerConfig([], { WARREN_QUEUE_TYPE: 'quorum' }).queueType).toBe('quorum');
    expect(loadControllerConfig(['--queue-type', 'classic'], { WARREN_QUEUE_TYPE: 'quorum' }).queueType).toBe(
      'classic',
    );
    expect(() => loadControllerConfig(['--queue-type', 'stream'], {})).toThrow(
      /^--queue-type \(WARREN_QUEUE_TYPE\) must be one of classic, quorum, got "stream"$/,
    );
  });

  it('keeps 256 MiB and 1 h in the events stream unless --events-max-bytes / --events-max-age say otherwise; refuses less than 1 MiB', () => {
    expect(loadControllerConfig([], {}).eventsRetention).toEqual({ maxBytes: 256 * 1024 ** 2, maxAgeSec: 3600 });
    expect(
      loadControllerConfig(['--events-max-age', '10m'], { WARREN_EVENTS_MAX_BYTES: '1.5GiB' }).eventsRetention,
    ).toEqual({ maxBytes: 1.5 * 1024 ** 3, maxAgeSec: 600 });
    expect(() => loadControllerConfig(['--events-max-bytes', '512KiB'], {})).toThrow(
      /^--events-max-bytes \(WARREN_EVENTS_MAX_BYTES\) must be a size of at least 1MiB, like .*got "512KiB"$/,
    );
    expect(() => loadControllerConfig([], { WARREN_EVENTS_MAX_BYTES: 'lots' })).toThrow(/--events-max-bytes/);
    expect(() => loadControllerConfig(['--events-max-age', 'forever'], {})).toThrow(/--events-max-age/);
  });

  it('serves 1000 event streams at once unless --max-event-streams says otherwise, and never more than a connection has channels', () => {
    expect(loadControllerConfig([], {}).maxEventStreams).toBe(1000);
    expect(loadControllerConfig([], { WARREN_MAX_EVENT_STREAMS: '50' }).maxEventStreams).toBe(50);
    expect(loadControllerConfig(['--max-event-streams', '2000'], {}).maxEventStreams).toBe(2000);
    expect(() => loadControllerConfig(['--max-event-streams', '2047'], {})).toThrow(
      /^--max-event-streams \(WARREN_MAX_EVENT_STREAMS\) must be an integer from 1 to 2000, got "2047"$/,
    );
    expect(() => loadControllerConfig([], { WARREN_MAX_EVENT_STREAMS: '0' })).toThrow(/--max-event-streams/);
  });

  it('stores files of at most --max-file-size (100 MiB by default, sizes like 100MiB, at most 1 GiB)', () => {
    expect(loadControllerConfig([], {}).maxFileBytes).toBe(100 * 1024 * 1024);
    expect(loadControllerConfig([], { WARREN_MAX_FILE_SIZE: '2MiB' }).maxFileBytes).toBe(2 * 1024 * 1024);
    expect(loadControllerConfig(['--max-file-size', '1GiB'], {}).maxFileBytes).toBe(1024 ** 3);
    expect(loadControllerConfig(['--max-file-size', '4096'], {}).maxFileBytes).toBe(4096);
    expect(() => loadControllerConfig(['--max-file-size', '2GiB'], {})).toThrow(
      /^--max-file-size \(WARREN_MAX_FILE_SIZE\) must be a size from 1 byte to 1GiB/,
    );
    expect(() => loadControllerConfig([], { WARREN_MAX_FILE_SIZE: 'big' })).toThrow(/--max-file-size/);
    expect(() => loadControllerConfig([], { WARREN_MAX_FILE_SIZE: '0' })).toThrow(/--max-file-size/);
  });

  it('forgets pending host keys after --pending-key-ttl, 24 h by default', () => {
    expect(loadControllerConfig([], {}).pendingKeyTtlMs).toBe(24 * 3_600_000);
    expect(loadControllerConfig([], { WARREN_PENDING_KEY_TTL: '2h' }).pendingKeyTtlMs).toBe(7_200_000);
    expect(loadControllerConfig(['--pending-key-ttl', '30m'], {}).pendingKeyTtlMs).toBe(1_800_000);
    expect(() => loadControllerConfig(['--pending-key-ttl', 'soon'], {})).toThrow(/--pending-key-ttl/);
  });

  it('refuses bad settings with one line naming the setting', () => {
    expect(() => loadControllerConfig(['--port', 'x'], {})).toThrow(ConfigError);
    expect(() => loadControllerConfig([], { WARREN_NAMESPACE: 'bad ns' })).toThrow(/--namespace/);
    expect(() => loadControllerConfig(['--broker', 'http://x'], {})).toThrow(/amqp/);
    expect(() => loadControllerConfig(['--bogus'], {})).toThrow(/unknown option/);
    expect(() => loadControllerConfig([], { WARREN_PORT: '70000' })).toThrow(
      /^--port \(WARREN_PORT\) must be an integer from 0 to 65535, got "70000"$/,
    );
  });

  it('takes several broker URLs separated by commas, and refuses the list if one is not amqp', () => {
    expect(loadControllerConfig(['--broker', 'amqp://a:5672,amqps://b:5671'], {}).brokerUrl).toBe(
      'amqp://a:5672,amqps://b:5671',
    );
    expect(() => loadControllerConfig(['--broker', 'http://b,amqp://a'], {})).toThrow(/--broker .*amqp:\/\//);
  });

  it('refuses at boot a broker URL the connection could not parse (a port out of range), as a configuration error', () => {
    expect(() => loadControllerConfig(['--broker', 'amqp://127.0.0.1:99999'], {})).toThrow(
      /--broker \(WARREN_BROKER_URL\) must be an amqp:\/\/ or amqps:\/\/ URL/,
    );
    expect(loadControllerConfig(['--broker', 'amqp://warren:50%off@127.0.0.1'], {}).brokerUrl).toBe(
      'amqp://warren:50%off@127.0.0.1',
    );
  });

  it('serves HTTPS with --tls-cert and --tls-key (or their variables), both or neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-tls-config-'));
    try {
      writeFileSync(join(dir, 'c.pem'), 'CERT');
      writeFileSync(join(dir, 'k.pem'), 'KEY');
      expect(loadControllerConfig([], {}).tls).toBeNull();
      const tls = loadControllerConfig(['--tls-cert', join(dir, 'c.pem')], { WARREN_TLS_KEY: join(dir, 'k.pem') }).tls;
      expect({ cert: tls?.cert.toString(), key: tls?.key.toString() }).toEqual({ cert: 'CERT', key: 'KEY' });
      expect(() => loadControllerConfig(['--tls-cert', join(dir, 'c.pem')], {})).toThrow(
        /^--tls-cert and --tls-key go together: give both or neither$/,
      );
      expect(() => loadControllerConfig([], { WARREN_TLS_KEY: join(dir, 'k.pem') })).toThrow(/both or neither/);
      expect(() =>
        loadControllerConfig(['--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'k.pem')], {}),
      ).toThrow(/^--tls-cert \(WARREN_TLS_CERT\) cannot read .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bounds how long a client may take to send a request: 10 s for the headers, 60 s in all', () => {
    expect(loadControllerConfig([], {})).toMatchObject({ httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 60_000 });
    expect(loadControllerConfig(['--http-headers-timeout', '1s'], { WARREN_HTTP_REQUEST_TIMEOUT: '2s' })).toMatchObject(
      { httpHeadersTimeoutMs: 1000, httpRequestTimeoutMs: 2000 },
    );
  });
});
