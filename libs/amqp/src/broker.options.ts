import {
  DEFAULT_NAMESPACE,
  DEFAULT_QUEUE_TYPE,
  NAMESPACE_PATTERN,
  QUEUE_TYPES,
  type QueueType,
} from '@warren/protocol';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, type ConfigOption, fileContents, integer, matching, oneOf } from '@warren/runtime';
import { connectOptionsOf, splitBrokerUrls } from './broker-urls';

/** A URL the connection can use: amqp:// or amqps://, no blank, parsed as the connection parses it. */
function isBrokerUrl(url: string): boolean {
  if (!/^amqps?:\/\/[^\s]+$/.test(url)) return false;
  try {
    connectOptionsOf(url, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Each URL of a comma-separated list must be amqp:// or amqps:// and parse as a URL (a port out of
 * range, say, is refused here rather than at the first connect); the text (it holds a password) is
 * never echoed. Returns the list re-joined without blanks around the commas.
 */
function brokerUrls(t: string | undefined): string {
  const urls = splitBrokerUrls(t ?? '');
  if (urls.length === 0 || !urls.every(isBrokerUrl)) throw new ConfigError('must be an amqp:// or amqps:// URL');
  return urls.join(',');
}

/**
 * The broker password in file `t`: its first line (without the line break), read at boot. Unset is
 * undefined; an unreadable or empty file is a {@link ConfigError} (the text is never echoed).
 */
function passwordFile(t: string | undefined): string | undefined {
  if (t === undefined) return undefined;
  let body: string;
  try {
    body = readFileSync(resolve(t), 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read ${JSON.stringify(t)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const password = body.split('\n')[0].replace(/\r$/, '');
  if (password === '') throw new ConfigError(`${JSON.stringify(t)} holds no password on its first line`);
  return password;
}

/**
 * The broker URL list a daemon connects with: `urls` (`--broker`) as they are when `password` (from
 * `--broker-password-file`) is undefined, else each URL with that password set for its user.
 * Throws {@link ConfigError} when a URL names no user, or already carries a password (one place only).
 */
export function withBrokerPassword(urls: string, password: string | undefined): string {
  if (password === undefined) return urls;
  const setting = '--broker-password-file (WARREN_BROKER_PASSWORD_FILE)';
  return splitBrokerUrls(urls)
    .map((url) => {
      const u = new URL(url);
      if (u.username === '')
        throw new ConfigError(`${setting} needs the user in every --broker URL: amqps://USER@host, got none`);
      if (u.password !== '')
        throw new ConfigError(
          `${setting} is given, and a --broker URL has a password too: give it in one place (without --broker, the default URL amqp://guest:guest@127.0.0.1:5672 is used: give --broker amqp://USER@host)`,
        );
      u.password = encodeURIComponent(password);
      return u.toString();
    })
    .join(',');
}

/**
 * How a daemon (controller or agent) reaches the broker: `--broker` (several URLs, nodes of one
 * cluster, tried in turn), `--broker-password-file` (the password kept out of the command line,
 * which every local user sees in `ps`; apply it with {@link withBrokerPassword}) and the PEM files
 * for amqps:// (`--broker-ca`, `--broker-cert`, `--broker-key`, read at boot). Entries of a
 * `@warren/runtime` option table.
 */
export const BROKER_OPTIONS = {
  broker: {
    flags: '--broker <url>',
    env: 'WARREN_BROKER_URL',
    description:
      'broker URL, amqp:// or amqps://; several (the nodes of a cluster) separated by commas are tried in turn',
    default: 'amqp://guest:guest@127.0.0.1:5672',
    parse: brokerUrls,
  },
  brokerPasswordFile: {
    flags: '--broker-password-file <file>',
    env: 'WARREN_BROKER_PASSWORD_FILE',
    description:
      "file whose first line is the broker user's password, for a --broker URL naming the user only (keeps it out of ps)",
    parse: passwordFile,
  },
  brokerCa: {
    flags: '--broker-ca <file>',
    env: 'WARREN_BROKER_CA',
    description: "PEM CA certificate the broker's TLS certificate must chain to (amqps://; default: the system CAs)",
    parse: fileContents,
  },
  brokerCert: {
    flags: '--broker-cert <file>',
    env: 'WARREN_BROKER_CERT',
    description: 'PEM client certificate, for a broker that verifies peers (with --broker-key)',
    parse: fileContents,
  },
  brokerKey: {
    flags: '--broker-key <file>',
    env: 'WARREN_BROKER_KEY',
    description: 'PEM private key of --broker-cert',
    parse: fileContents,
  },
} satisfies Record<string, ConfigOption>;

/** `--namespace`: the prefix of every exchange and queue name, so installations can share a broker. */
export const NAMESPACE_OPTION = {
  flags: '--namespace <name>',
  env: 'WARREN_NAMESPACE',
  description: 'prefix of every exchange and queue name',
  default: DEFAULT_NAMESPACE,
  parse: matching(NAMESPACE_PATTERN, 'must be letters, digits, . _ -, at most 63 characters'),
} satisfies ConfigOption;

/**
 * `--amqp-heartbeat`: seconds, the heartbeat timeout proposed to the broker; 0 turns heartbeats
 * off (RabbitMQ's docs advise against it: a silent network then goes unnoticed).
 */
export const AMQP_HEARTBEAT_OPTION = {
  flags: '--amqp-heartbeat <sec>',
  env: 'WARREN_AMQP_HEARTBEAT',
  description: 'AMQP heartbeat in seconds (0 = off, not advised)',
  default: '10',
  parse: integer(0, 600, 'must be an integer number of seconds from 0 to 600'),
} satisfies ConfigOption;

/**
 * `--queue-type classic|quorum`: the type of every durable queue Warren owns (agent inboxes and
 * control queues, `<ns>.results`, `<ns>.undelivered`); see `QueueType` in `@warren/protocol`.
 * Controllers and agents of one installation must agree: a queue's type is fixed when it is
 * declared, and a process meeting the other type logs it once and stays not ready (see
 * docs/scaling.md, "Queue type: classic or quorum"). Anything else is a {@link ConfigError}.
 */
export const QUEUE_TYPE_OPTION = {
  flags: '--queue-type <type>',
  env: 'WARREN_QUEUE_TYPE',
  description:
    "type of Warren's durable queues: classic (one broker node) or quorum (replicated over a RabbitMQ cluster); the same for every controller and agent of an installation",
  default: DEFAULT_QUEUE_TYPE,
  parse: (t: string | undefined) => oneOf(QUEUE_TYPES)(t) as QueueType,
} satisfies ConfigOption;
