import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { connectOptionsOf } from './broker-urls';
import { BROKER_OPTIONS, QUEUE_TYPE_OPTION, withBrokerPassword } from './broker.options';

const file = (body: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'warren-pw-')), 'pw');
  writeFileSync(path, body, { mode: 0o600 });
  return path;
};
const readPassword = BROKER_OPTIONS.brokerPasswordFile.parse;

describe('--broker-password-file', () => {
  it("reads the file's first line, without its line break", () => {
    expect(readPassword(file('s3cr3t\n'))).toBe('s3cr3t');
    expect(readPassword(file('p a:s@s/w%rd\r\nignored\n'))).toBe('p a:s@s/w%rd');
    expect(readPassword(undefined)).toBeUndefined();
  });

  it('refuses an empty or unreadable file without echoing anything of it', () => {
    expect(() => readPassword(file('\nsecond-line'))).toThrow(ConfigError);
    expect(() => readPassword('/nonexistent/pw')).toThrow(/cannot read "\/nonexistent\/pw": ENOENT/);
  });

  it('sets the password for the user of every URL, which the connection decodes back exactly', () => {
    const urls = withBrokerPassword('amqps://web1@n1:5671/warren,amqps://web1@n2:5671/warren', 'p a:s@s/w%rd');
    for (const url of urls.split(/,(?=amqps:)/)) {
      const o = connectOptionsOf(url, 10);
      expect(o).toMatchObject({ username: 'web1', password: 'p a:s@s/w%rd', vhost: 'warren' });
    }
    expect(withBrokerPassword('amqp://guest:guest@h', undefined)).toBe('amqp://guest:guest@h');
  });

  it('refuses a URL without a user, or one that carries a password as well', () => {
    expect(() => withBrokerPassword('amqps://mq:5671', 'pw')).toThrow(/needs the user/);
    expect(() => withBrokerPassword('amqps://web1:other@mq:5671', 'pw')).toThrow(/one place/);
  });
});

describe('--queue-type', () => {
  const parse = QUEUE_TYPE_OPTION.parse;

  it('takes classic or quorum, classic by default', () => {
    expect(parse('classic')).toBe('classic');
    expect(parse('quorum')).toBe('quorum');
    expect(parse(QUEUE_TYPE_OPTION.default)).toBe('classic');
    expect(QUEUE_TYPE_OPTION.env).toBe('WARREN_QUEUE_TYPE');
  });

  it('refuses any other value, naming the two it takes', () => {
    for (const bad of ['Quorum', 'stream', '', ' quorum'])
      expect(() => parse(bad)).toThrow(new ConfigError(`must be one of classic, quorum, got ${JSON.stringify(bad)}`));
    expect(() => parse(undefined)).toThrow(ConfigError);
  });
});
