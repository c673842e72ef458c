import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Consumer } from '@warren/amqp';
import { decodePresence, type PresenceMessage } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ROOT_LOGGER } from '../logger';

/** What `GET /v1/hosts` shows of one agent. */
export interface HostView {
  host: string;
  status: 'online' | 'offline';
  labels: Record<string, string>;
  version: string;
  running: number;
  concurrency: number;
  /** ISO time of the last heartbeat or goodbye */
  lastSeen: string;
}

/** A host is offline after this many missed heartbeat intervals. */
const MISSED_HEARTBEATS = 3;

/**
 * Known agents, from their presence heartbeats. In memory: after a controller restart the fleet
 * reappears within one heartbeat interval.
 */
@Injectable()
export class HostsRegistry implements OnModuleDestroy {
  private readonly hosts = new Map<string, { last: PresenceMessage; receivedAt: number }>();
  private consumer: Consumer | null = null;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'presence' });
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: this.broker.presenceQueue,
      prefetch: 200,
      logger: this.log,
      handler: (d) => {
        const decoded = decodePresence(d.content);
        d.ack();
        if (!decoded.ok) return void this.log.warn({ reason: decoded.reason }, 'rejected presence message');
        this.record(decoded.message, Date.now());
      },
    });
    await this.consumer.start();
  }

  /** Records a heartbeat or goodbye received at `now`. */
  record(p: PresenceMessage, now: number): void {
    const before = this.hosts.get(p.host);
    const wasOnline = before ? this.statusOf(before.last, before.receivedAt, now) === 'online' : false;
    this.hosts.set(p.host, { last: p, receivedAt: now });
    if (p.status === 'goodbye') this.log.info({ host: p.host }, 'agent said goodbye');
    else if (!wasOnline) this.log.info({ host: p.host, version: p.version, labels: p.labels }, 'agent online');
  }

  private statusOf(p: PresenceMessage, receivedAt: number, now: number): 'online' | 'offline' {
    if (p.status === 'goodbye') return 'offline';
    return now - receivedAt <= MISSED_HEARTBEATS * p.intervalMs ? 'online' : 'offline';
  }

  list(now = Date.now()): HostView[] {
    return [...this.hosts.values()]
      .map(({ last, receivedAt }) => ({
        host: last.host,
        status: this.statusOf(last, receivedAt, now),
        labels: last.labels,
        version: last.version,
        running: last.status === 'goodbye' ? 0 : last.running,
        concurrency: last.concurrency,
        lastSeen: new Date(receivedAt).toISOString(),
      }))
      .sort((a, b) => a.host.localeCompare(b.host));
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer?.close();
  }
}
