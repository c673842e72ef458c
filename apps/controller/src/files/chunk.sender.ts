import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import {
  APP_ID,
  CHUNK_HEADERS,
  CHUNK_MESSAGE_TYPE,
  chunkCount,
  chunksExchange,
  type ReadyMessage,
} from '@warren/protocol';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { MetricsService } from '../metrics/metrics.service';
import { FILE_STORE, type FileStore } from '../store/file-store.port';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';

/** ms a pass waits after the first `ready` for others of the same task, so that one pass serves them all. */
export const GATHER_MS = 20;

/**
 * Most hosts one publish names (routing key + `BCC`): the header list must fit in one frame
 * (RabbitMQ's frame_max, 128 KiB by default; 200 host ids of up to 255 characters is 51 KB).
 */
export const MAX_HOSTS_PER_PUBLISH = 200;

/** Most chunk publishes unconfirmed at once in a pass: memory ≤ 8 × 512 KiB, and the broker's flow control paces it. */
export const MAX_UNCONFIRMED = 8;

/** Invocations remembered as asked for (and served): a host's ready past this many is seen as new again. */
export const MAX_REMEMBERED_READIES = 100_000;

/** The sends of one task: hosts waiting for the next pass, and the pass running now. */
interface TaskSends {
  /** host → the invocation that asked */
  waiting: Map<string, string>;
  running: boolean;
  timer: NodeJS.Timeout | null;
}

/** What a pass needs of its task. */
interface PassPlan {
  task: TaskRecord;
  sha256: string;
  size: number;
}

/**
 * Sends the chunks of a put's or stdin's file to the agents that asked (`ready`, see
 * libs/protocol files.ts). Per task, the hosts that asked within {@link GATHER_MS}, or while a pass
 * was running, are served by one **pass**: each chunk in order is read from the {@link FileStore}
 * (any controller can serve a task: the bytes are in the shared database) and published ONCE to
 * `<ns>.chunks` with routing key = the first host and header `BCC` = the others (RabbitMQ
 * sender-selected distribution; at most {@link MAX_HOSTS_PER_PUBLISH} per publish, more publishes
 * for more hosts), persistent, confirmed, at most {@link MAX_UNCONFIRMED} unconfirmed at once,
 * expiring once the invocation could no longer be running (task timeout + delivery timeout).
 * A `ready` whose invocation is not that host's in that task, or whose hash is not the task's file,
 * is dropped with a warning (a host may only read the file it was sent), and so is a second ready of
 * one invocation (an agent asks once). A pass that fails (the broker away) is logged; its agents
 * fail their invocation when no chunk comes (`chunks … not received`).
 */
@Injectable()
export class ChunkSender implements OnModuleDestroy {
  private readonly tasks = new Map<string, TaskSends>();
  private readonly log: Logger;
  private stopped = false;
  /** passes under way, for shutdown */
  private readonly passes = new Set<Promise<void>>();
  /**
   * `host\ninvocationId` of each ready taken (oldest first): an agent asks once per invocation, so
   * another ready for it (a storm, a replay) is dropped before it costs a read or a pass. Keyed by
   * the signing host too, so a host naming another's invocation cannot use up that one's ready.
   */
  private readonly asked = new Set<string>();

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(FILE_STORE) private readonly files: FileStore,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'chunks' });
  }

  /**
   * A verified `ready` (its signer is `m.host`'s accepted key): checks that the invocation is that
   * host's in that task and the hash the task's file, then queues the host for the task's next
   * pass. Resolves once queued (or dropped); never rejects.
   */
  async ready(m: ReadyMessage): Promise<void> {
    const ids = { taskId: m.taskId, host: m.host, correlationId: m.invocationId };
    const key = `${m.host}\n${m.invocationId}`;
    if (this.asked.has(key)) return void this.log.debug(ids, 'dropped a repeated ready: its invocation was served');
    this.asked.add(key);
    if (this.asked.size > MAX_REMEMBERED_READIES) this.asked.delete(this.asked.values().next().value as string);
    // Only a ready that is served stays remembered: a refused one does not stand for the invocation.
    const forget = () => void this.asked.delete(key);
    try {
      const owner = await this.store.invocationOwner(m.invocationId);
      if (!owner || owner.taskId !== m.taskId || owner.host !== m.host) {
        forget();
        return void this.log.warn(ids, "dropped a ready for an invocation that is not this host's");
      }
      const task = await this.store.getTask(m.taskId);
      const sha = task ? fileOf(task) : null;
      if (sha !== m.sha256) {
        forget();
        return void this.log.warn({ ...ids, sha256: m.sha256 }, "dropped a ready for a file that is not the task's");
      }
    } catch (err) {
      forget();
      return void this.log.error({ ...ids, err: (err as Error).message }, 'reading the task of a ready failed');
    }
    if (this.stopped) return;
    let sends = this.tasks.get(m.taskId);
    if (!sends) {
      sends = { waiting: new Map(), running: false, timer: null };
      this.tasks.set(m.taskId, sends);
    }
    sends.waiting.set(m.host, m.invocationId);
    this.log.debug({ ...ids, sha256: m.sha256 }, 'host asked for the chunks');
    if (!sends.running && !sends.timer) {
      sends.timer = setTimeout(() => this.startPass(m.taskId), GATHER_MS);
    }
  }

  private startPass(taskId: string): void {
    const sends = this.tasks.get(taskId);
    if (!sends) return;
    sends.timer = null;
    if (this.stopped || sends.waiting.size === 0) return void this.tasks.delete(taskId);
    const hosts = [...sends.waiting.keys()];
    sends.waiting.clear();
    sends.running = true;
    const pass = this.pass(taskId, hosts).finally(() => {
      this.passes.delete(pass);
      sends.running = false;
      // Hosts that asked while it ran get the next pass at once: they have waited already.
      if (sends.waiting.size > 0 && !this.stopped) this.startPass(taskId);
      else this.tasks.delete(taskId);
    });
    this.passes.add(pass);
  }

  /** One pass: every chunk of the task's file, in order, to `hosts`. Never rejects. */
  private async pass(taskId: string, hosts: string[]): Promise<void> {
    const started = this.clock.now();
    let plan: PassPlan | null = null;
    let published = 0;
    try {
      plan = await this.planOf(taskId);
      const groups: string[][] = [];
      for (let i = 0; i < hosts.length; i += MAX_HOSTS_PER_PUBLISH)
        groups.push(hosts.slice(i, i + MAX_HOSTS_PER_PUBLISH));
      const inFlight = new Set<Promise<void>>();
      const n = chunkCount(plan.size);
      let failure: Error | null = null;
      for (let index = 0; index < n && !failure; index++) {
        if (this.stopped) throw new Error('the controller is shutting down');
        const chunk = await this.files.readChunk(plan.sha256, index);
        if (!chunk) throw new Error(`chunk ${index} of file ${plan.sha256} is not in the database`);
        for (const group of groups) {
          while (inFlight.size >= MAX_UNCONFIRMED) await Promise.race(inFlight);
          if (failure) break;
          const p: Promise<void> = this.publish(plan, group, index, chunk).then(
            () => {
              inFlight.delete(p);
              published++;
              this.metrics.chunksPublished();
            },
            (err: Error) => {
              inFlight.delete(p);
              failure ??= err;
            },
          );
          inFlight.add(p);
        }
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
      this.log.info(
        {
          taskId,
          sha256: plan.sha256,
          hosts: hosts.length,
          chunks: n,
          publishes: published,
          ms: this.clock.now() - started,
        },
        'file chunks sent',
      );
    } catch (err) {
      this.log.error(
        { taskId, sha256: plan?.sha256, hosts: hosts.length, publishes: published, err: (err as Error).message },
        'sending file chunks failed; those hosts fail the invocation when no chunk comes',
      );
    }
  }

  private async planOf(taskId: string): Promise<PassPlan> {
    const task = await this.store.getTask(taskId);
    const sha = task ? fileOf(task) : null;
    if (!task || !sha) throw new Error(`task ${taskId} sends no file`);
    const size = task.transfer?.op === 'put' ? task.transfer.size : (task.stdin?.size ?? 0);
    return { task, sha256: sha, size };
  }

  /** One chunk to a group of hosts: routing key the first, `BCC` the others; resolves once confirmed. */
  private publish(plan: PassPlan, hosts: string[], index: number, chunk: Buffer): Promise<void> {
    const [first, ...rest] = hosts;
    const { task } = plan;
    return this.broker.publisher.publish(chunksExchange(this.config.namespace), first, chunk, {
      persistent: true,
      // The chunk is of no use once its invocation could no longer be running.
      expiration: String(task.timeoutMs + task.deliveryTimeoutMs),
      type: CHUNK_MESSAGE_TYPE,
      contentType: 'application/octet-stream',
      appId: APP_ID,
      headers: {
        ...(rest.length > 0 ? { BCC: rest } : {}),
        [CHUNK_HEADERS.task]: task.id,
        [CHUNK_HEADERS.file]: plan.sha256,
        [CHUNK_HEADERS.index]: index,
      },
    });
  }

  /** Stops taking readies and waits for the passes under way (their publishes fail once the broker closes). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const s of this.tasks.values()) if (s.timer) clearTimeout(s.timer);
    await Promise.all([...this.passes]);
    this.tasks.clear();
  }
}

/** The SHA-256 of the file a task sends (its put's or its stdin's), or null when it sends none. */
function fileOf(task: TaskRecord): string | null {
  if (task.transfer?.op === 'put') return task.transfer.file;
  return task.stdin?.file ?? null;
}
