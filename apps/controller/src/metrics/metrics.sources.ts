import { Inject, Injectable } from '@nestjs/common';
import { BrokerService } from '../broker/broker.service';
import { ResultsBacklog } from '../broker/results-backlog';
import { EventStreamSlots } from '../events/event-stream.slots';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HostsRegistry } from '../hosts/hosts.registry';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { costlyMatching } from '../tasks/glob.matching';
import { MetricsService } from './metrics.service';

/**
 * Connects {@link MetricsService} to what it reads at scrape time (the task store, the presence
 * registry, the broker connection, the results queue's backlog), to the connection's events and to the store's commits. Built by Nest with the other
 * providers, before the connection starts, so that it hears the first `connected`.
 */
@Injectable()
export class MetricsSources {
  constructor(
    metrics: MetricsService,
    @Inject(TASK_STORE) store: TaskStore,
    broker: BrokerService,
    hosts: HostsRegistry,
    backlog: ResultsBacklog,
    activity: TaskActivityNotifier,
    slots: EventStreamSlots,
  ) {
    activity.onApplied((changes) => metrics.invocationsChanged(changes));
    const conn = broker.connection;
    conn.on('connected', () => metrics.brokerConnectedEvent());
    conn.on('reconnect-failed', () => metrics.brokerConnectFailed());
    metrics.bind({
      activity: () => store.activity(),
      hosts: () => {
        const online = hosts.onlineHosts().length;
        return { online, offline: hosts.known().length - online };
      },
      brokerConnected: () => broker.connected,
      resultsQueueDepth: () => backlog.depth(),
      globMatching: () => ({ running: costlyMatching.running, waiting: costlyMatching.waiting }),
      eventStreams: () => ({ open: slots.open, max: slots.max, refused: slots.refused }),
      heartbeatsWrongProtocol: () => hosts.mismatches.count,
    });
  }
}
