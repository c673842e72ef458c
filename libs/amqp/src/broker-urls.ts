import type { Options } from 'amqplib';

/** Where a comma-separated list splits: only before another URL, so a raw comma in a password survives. */
const URL_SEPARATOR = /,\s*(?=amqps?:\/\/)/i;

/**
 * The broker URLs of `text`: one URL, or several separated by commas (`amqp://a:5672,amqp://b:5672`,
 * the nodes of a cluster, tried in turn). Surrounding spaces are dropped; empty text gives `[]`.
 */
export function splitBrokerUrls(text: string | readonly string[]): string[] {
  const all = typeof text === 'string' ? text.split(URL_SEPARATOR) : text;
  return all.map((u) => u.trim()).filter((u) => u !== '');
}

/**
 * Percent-decodes a URL's user or password as amqplib does for a URL string: UTF-8 escapes where
 * they are valid (`p%C3%A9` is `pé`), else its legacy `unescape` (`50%off` stays `50%off`, `p%E9` is
 * `pé` in Latin-1), so that every password that worked as text still works and none throws.
 */
function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return unescape(text);
  }
}

/**
 * One URL as amqplib's `Options.Connect`, the form of `connect` whose fields amqplib reads at every
 * attempt. The query parameters amqplib would read from a URL string are carried over; `heartbeatSec`
 * applies when the URL sets no `heartbeat`. Throws `TypeError` for text that is not a URL.
 */
export function connectOptionsOf(url: string, heartbeatSec: number): Options.Connect {
  const u = new URL(url);
  const q = u.searchParams;
  const int = (name: string) => (q.has(name) ? Number.parseInt(q.get(name)!, 10) : undefined);
  // amqplib defaults to guest/guest only when both are absent, as it does for a URL string.
  const anyCredential = u.username !== '' || u.password !== '';
  return {
    protocol: u.protocol.replace(/:$/, ''),
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? undefined : Number(u.port),
    username: anyCredential ? decodeUserinfo(u.username) : undefined,
    password: anyCredential ? decodeUserinfo(u.password) : undefined,
    // amqplib unescapes the vhost itself; '' means its default, '/'.
    vhost: u.pathname.slice(1),
    heartbeat: int('heartbeat') ?? heartbeatSec,
    frameMax: int('frameMax'),
    channelMax: int('channelMax'),
    maxFrameSize: int('maxFrameSize'),
    locale: q.get('locale') ?? undefined,
  };
}

/**
 * The broker URLs in turn: `current` is tried, `advance` moves to the next after a failure or a lost
 * connection, wrapping round. With one URL it is always that one.
 */
export class BrokerUrlRing {
  private index = 0;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new TypeError('at least one broker URL is required');
  }

  get current(): string {
    return this.urls[this.index];
  }

  advance(): string {
    this.index = (this.index + 1) % this.urls.length;
    return this.current;
  }
}
