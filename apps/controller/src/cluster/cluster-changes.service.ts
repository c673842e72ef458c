import { Inject, Injectable } from '@nestjs/common';
import { Consumer } from '@warren/amqp';
import { changesExchange } from '@warren/protocol';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HostKeysStore } from '../hosts/host-keys.store';
import { CompletionNotifier } from '../tasks/completion.notifier';
import { ChangesRelay } from './changes.relay';

/** ms; local commits are announced to the other controllers at most this often (coalesced) */
export const CHANGES_TICK_MS = 15;
/** ms; every accepted host key is read again this often, should an announcement have been lost */
export const HOST_KEYS_RELOAD_MS = 30_000;

/**
 * Makes several controllers on one database behave as one (see {@link ChangesRelay} for the
 * mechanism and why): what this controller commits (tasks changed and completed, host keys
 * changed) is announced on the changes fanout; what another announces wakes this one's waiting
 * requests ({@link CompletionNotifier}) and rolling scheduler
 * ({@link TaskActivityNotifier.changed}, not `applied`: the committer's metrics counted it), and
 * reloads the host keys it names. With a single controller the messages only come back to it and
 * are ignored. AppModule starts it before the broker connects and stops it with the consumers.
 */
@Injectable()
export class ClusterChanges {
  private readonly relay: ChangesRelay;
  private readonly log: Logger;
  private consumer: Consumer | null = null;
  private reloader: NodeJS.Timeout | null = null;
  /** true while handing another controller's news to the notifiers: what they report then is not ours to announce */
  private relaying = false;
  private readonly unlisten: (() => void)[];

  constructor(
    private readonly broker: BrokerService,
    private readonly activity: TaskActivityNotifier,
    private readonly completion: CompletionNotifier,
    private readonly hostKeys: HostKeysStore,
    config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'cluster' });
    const exchange = changesExchange(config.namespace);
    this.relay = new ChangesRelay({
      instanceId: broker.instanceId,
      tickMs: CHANGES_TICK_MS,
      // Transient, unconfirmed: a lost wake-up only delays (waits and SSE sessions re-read the store).
      send: (body) =>
        broker.publisher.publishIfConnected(exchange, '', body, { persistent: false, contentType: 'application/json' }),
      sink: {
        changed: (ids) => this.relayed(() => this.activity.changed(ids)),
        completed: (ids) => this.relayed(() => this.completion.notify(ids, true)),
        hostKeys: (hosts) => {
          for (const host of hosts)
            this.hostKeys
              .reload(host)
              .catch((err: Error) => this.log.warn({ host, err: err.message }, 'host key not reloaded'));
        },
      },
      logger: this.log,
    });
    this.unlisten = [
      activity.onChanged((ids) => this.relaying || this.relay.noteTasks(ids)),
      completion.onNotified((ids) => this.relaying || this.relay.noteTasks([], ids)),
      hostKeys.onChanged((host) => this.relay.noteHostKeys([host])),
    ];
  }

  private relayed(tell: () => void): void {
    this.relaying = true;
    try {
      tell();
    } finally {
      this.relaying = false;
    }
  }

  /** Attaches the consumer of this controller's changes queue and starts the periodic host-key reload. */
  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: this.broker.changesQueue,
      prefetch: 100,
      logger: this.log,
      handler: (d) => {
        d.ack(); // a wake-up is a hint: nothing to redeliver
        this.relay.receive(d.content);
      },
    });
    await this.consumer.start();
    this.reloader = setInterval(
      () =>
        void this.hostKeys
          .reloadAll()
          .catch((err: Error) => this.log.warn({ err: err.message }, 'host keys not reloaded')),
      HOST_KEYS_RELOAD_MS,
    );
    this.reloader.unref();
  }

  /** Sends what is still noted, stops listening and consuming (AppModule calls it at shutdown). */
  async stop(): Promise<void> {
    if (this.reloader) clearInterval(this.reloader);
    for (const off of this.unlisten) off();
    this.relay.close();
    await this.consumer?.close();
  }
}
