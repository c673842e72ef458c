import * as amqplib from 'amqplib';
import { type BackoffOptions, DEFAULT_BACKOFF } from '@warren/runtime';
import { agentQueue } from '@warren/protocol';
import { sleep, until, type Warren } from '../harness';
import type { PrivateBroker } from '../../support/private-broker';

/** How a fleet of agents came back after a broker outage. Times are ms after the broker accepted connections again. */
export interface ReconnectReport {
  agents: number;
  /** ms from the first agent noticing the loss to the broker accepting connections again */
  outageMs: number;
  /** ms until the broker listed a consumer on every agent's queue */
  allConsumingMs: number;
  /** each agent's `amqp connected` log line, sorted */
  connectedMs: number[];
  /** most agents connecting within any {@link HERD_WINDOW_MS} */
  peakInWindow: number;
  /** connection attempts each agent made from the loss until it was back (failed ones + the good one) */
  attempts: { mean: number; max: number };
  /** agents that tried more often than the backoff allows in the time they were away (a fixed-interval retry would) */
  overBudget: number;
  /** agents caught in the middle of a reconnect when the broker went down */
  midReconnect: number;
}

/** ms; the window a thundering herd would fall into (every client retrying on the same tick) */
export const HERD_WINDOW_MS = 250;

interface LogLine {
  time: number;
  msg: string;
}

function linesSince(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      const j = JSON.parse(raw) as { time?: string | number; msg?: string };
      if (j.msg && j.time !== undefined)
        out.push({ time: typeof j.time === 'number' ? j.time : Date.parse(j.time), msg: j.msg });
    } catch {
      // not a log line
    }
  }
  return out;
}

/**
 * Most attempts a client following `backoff` can make within `ms` of losing its connection: the
 * first is immediate, and each delay is at least half its cap. A client retrying at a fixed short
 * interval would make many more.
 */
export function maxAttemptsWithin(ms: number, backoff: BackoffOptions = DEFAULT_BACKOFF): number {
  let attempts = 1;
  let t = 0;
  for (let i = 0; ; i++) {
    t += Math.min(backoff.maxMs, backoff.initialMs * 2 ** i) / 2;
    if (t > ms) return attempts;
    attempts++;
  }
}

/** Most items of sorted `times` within any window of `windowMs`. */
export function peakWithin(times: number[], windowMs: number): number {
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi] - times[lo] > windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/**
 * Takes the broker down with `down` (a clean stop or a SIGKILL), starts it again, and measures how
 * the agents of `hosts` come back: the broker's own view (a consumer on each agent's queue, polled)
 * and the agents' (their `amqp connected` log lines, for the spread).
 */
export async function bounceAndMeasure(
  broker: PrivateBroker,
  w: Warren,
  hosts: string[],
  down: () => Promise<void>,
  timeoutMs = 60_000,
): Promise<ReconnectReport> {
  const offsets = new Map(hosts.map((h) => [h, w.agents.get(h)!.output.length]));
  await down();
  await broker.restart();
  const upAt = Date.now();
  const consumingAt = new Map<string, number>();
  const conn = await amqplib.connect(broker.url(), { noDelay: true });
  try {
    const ch = await conn.createChannel();
    while (consumingAt.size < hosts.length && Date.now() - upAt < timeoutMs) {
      for (const h of hosts) {
        if (consumingAt.has(h)) continue;
        const q = await ch.checkQueue(agentQueue(w.ns, h));
        if (q.consumerCount > 0) consumingAt.set(h, Date.now() - upAt);
      }
      await sleep(50);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
  if (consumingAt.size < hosts.length) {
    const missing = hosts.filter((h) => !consumingAt.has(h));
    throw new Error(
      `${missing.length} agents not consuming ${timeoutMs} ms after the broker came back: ${missing.join(' ')}`,
    );
  }
  // The broker lists the consumer a moment before the agent logs it: give the log lines time to arrive.
  const back = (h: string) =>
    linesSince(w.agents.get(h)!.output.slice(offsets.get(h))).some((l) => l.msg === 'amqp connected');
  await until(() => hosts.every(back), 5_000).catch(() => undefined);
  const connected: number[] = [];
  const attempts: number[] = [];
  let firstLoss = Infinity;
  let overBudget = 0;
  let midReconnect = 0;
  for (const h of hosts) {
    const all = w.agents.get(h)!.output;
    const log = all.slice(offsets.get(h));
    const lines = linesSince(log);
    // An agent caught in the middle of a reconnect when the broker went down logs no loss, only failed attempts.
    const lost = lines.find(
      (l) => l.msg === 'amqp connection lost; reconnecting' || l.msg === 'amqp connect failed; retrying',
    );
    const back = lost && lines.find((l) => l.msg === 'amqp connected' && l.time >= lost.time);
    if (!lost || !back) {
      throw new Error(
        `agent ${h}: no 'amqp connection lost' then 'amqp connected' in its log; before the outage:\n${all.slice(Math.max(0, offsets.get(h)! - 3000), offsets.get(h))}\nsince:\n${log.slice(-6000)}`,
      );
    }
    if (lost.msg !== 'amqp connection lost; reconnecting') {
      midReconnect++;
      const before = linesSince(all.slice(0, offsets.get(h)))
        .filter((l) => l.msg.startsWith('amqp'))
        .slice(-5);
      console.log(
        `[faults] agent ${h} was already reconnecting when the broker went down; its last connection events: ${JSON.stringify(before)}`,
      );
    }
    firstLoss = Math.min(firstLoss, lost.time);
    connected.push(back.time - upAt);
    const n =
      lines.filter((l) => l.msg === 'amqp connect failed; retrying' && l.time >= lost.time && l.time <= back.time)
        .length + 1;
    attempts.push(n);
    if (n > maxAttemptsWithin(back.time - lost.time + 5)) overBudget++;
  }
  connected.sort((a, b) => a - b);
  return {
    agents: hosts.length,
    outageMs: upAt - firstLoss,
    allConsumingMs: Math.max(...consumingAt.values()),
    connectedMs: connected,
    peakInWindow: peakWithin(connected, HERD_WINDOW_MS),
    attempts: {
      mean: Math.round((attempts.reduce((a, b) => a + b, 0) / attempts.length) * 10) / 10,
      max: Math.max(...attempts),
    },
    overBudget,
    midReconnect,
  };
}

/** One quotable line. */
export function describeReconnect(label: string, r: ReconnectReport): string {
  const pick = (q: number) => r.connectedMs[Math.min(r.connectedMs.length - 1, Math.floor(q * r.connectedMs.length))];
  const line =
    `[faults] reconnect ${label}: agents=${r.agents} outage=${r.outageMs}ms all-consuming=${r.allConsumingMs}ms ` +
    `connected first/median/p90/last=${pick(0)}/${pick(0.5)}/${pick(0.9)}/${pick(1)}ms peak-in-${HERD_WINDOW_MS}ms=${r.peakInWindow} ` +
    `attempts mean/max=${r.attempts.mean}/${r.attempts.max} over-budget=${r.overBudget}${r.midReconnect ? ` mid-reconnect=${r.midReconnect}` : ''}`;
  console.log(line);
  return line;
}
