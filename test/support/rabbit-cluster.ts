import { randomBytes } from 'node:crypto';
import { PrivateBroker } from './private-broker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of {@link startRabbitCluster}. */
export interface RabbitClusterOptions {
  /** nodes in the cluster; default 3 (the smallest size in which a quorum queue survives one node's loss) */
  size?: number;
  /** extra `rabbitmq.conf` lines, given to every node */
  config?: string[];
  /** ms to wait for each step: a node's boot, a join, the cluster showing every node running; default 60 000 */
  timeoutMs?: number;
}

/** One node of a {@link RabbitCluster}: a {@link PrivateBroker} that knows its cluster. */
export class RabbitNode {
  constructor(
    /** the private node underneath (its `ctl`, `pids`, `log`, directories) */
    readonly broker: PrivateBroker,
    private readonly cluster: RabbitCluster,
  ) {}

  /** Erlang node name, `warren-t-<pid>-<hex>@localhost`: what `rabbitmqctl list_queues leader` prints */
  get name(): string {
    return this.broker.nodename;
  }

  /** AMQP port on 127.0.0.1 */
  get port(): number {
    return this.broker.port;
  }

  /** `amqp://guest:guest@127.0.0.1:<port>` (guest is allowed over the loopback, which this is) */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** True while the node's beam runs (it may still be booting or stopping). */
  async running(): Promise<boolean> {
    return (await this.broker.pids()).length > 0;
  }

  /**
   * Stops the node cleanly (`rabbitmqctl stop`: its clients get a connection.close, its quorum
   * queue leaders hand over) and waits until its VM has exited. It stays a cluster member.
   */
  async stop(): Promise<void> {
    await this.broker.stop();
  }

  /**
   * SIGKILLs every OS process of the node (beam, erl_child_setup, inet_gethost…), as a power cut
   * would, and resolves once `/proc` shows none of them. It stays a cluster member.
   */
  async kill(): Promise<void> {
    await this.broker.killHard();
  }

  /**
   * Starts a stopped or killed node again (same name, ports, data) and resolves once the other
   * running nodes list it as running: it rejoined the cluster on its own (its Mnesia remembers the
   * peers), no `join_cluster` needed.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    await this.broker.restart();
    await this.cluster.waitRunning(timeoutMs);
  }
}

/** What `rabbitmqctl cluster_status --formatter json` prints (the fields read here). */
interface ClusterStatus {
  disk_nodes?: string[];
  running_nodes?: string[];
}

/**
 * A cluster of private RabbitMQ nodes on this machine (see {@link startRabbitCluster}): each node
 * its own name, AMQP and distribution ports, data and log directories; one Erlang cookie shared by
 * them and by no one else. The shared broker, its cookie and its node are never touched (the nodes
 * do register their names with the machine's epmd, as every Erlang node does, under their own
 * names).
 */
export class RabbitCluster {
  readonly nodes: RabbitNode[];
  /** ms {@link startRabbitCluster} took: every node booted, joined, and shown running by `cluster_status` */
  startMs = 0;
  private destroyed = false;

  constructor(brokers: PrivateBroker[]) {
    this.nodes = brokers.map((b) => new RabbitNode(b, this));
  }

  /** Each node's URL, in node order (`amqp://guest:guest@127.0.0.1:<port>`). */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The node called `name` (an Erlang node name); throws if none is. */
  node(name: string): RabbitNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in this cluster (${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** The node whose AMQP port `url` names (any user, vhost or query); throws if none. */
  nodeOfUrl(url: string): RabbitNode {
    const port = Number(new URL(url).port);
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node of this cluster listens on ${url.replace(/\/\/[^@]*@/, '//')}`);
    return n;
  }

  /**
   * Runs `rabbitmqctl …args` against the first node that answers (nodes stopped or killed are
   * skipped); resolves with stdout. Throws if no node answers.
   */
  async ctl(...args: string[]): Promise<string> {
    let last: unknown = null;
    for (const n of this.nodes) {
      if (!(await n.running())) continue;
      try {
        return await n.broker.ctl(...args);
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no node of the cluster answered rabbitmqctl ${args.join(' ')}: ${String(last)}`);
  }

  /** Names of the nodes the cluster reports running (`cluster_status`), asked of any node that answers. */
  async runningNodes(): Promise<string[]> {
    const status = JSON.parse(await this.ctl('cluster_status', '--formatter', 'json')) as ClusterStatus;
    return [...(status.running_nodes ?? [])].sort();
  }

  /**
   * Resolves once `cluster_status` lists every node whose VM runs as running (and nothing else):
   * after a start, a join or a restart. Rejects after `timeoutMs`.
   */
  async waitRunning(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const up = (await Promise.all(this.nodes.map(async (n) => ((await n.running()) ? n.name : null))))
        .filter((x): x is string => x !== null)
        .sort();
      const seen = await this.runningNodes().catch(() => []);
      if (up.length > 0 && seen.join(',') === up.join(',')) return;
      if (Date.now() > deadline)
        throw new Error(`cluster shows running [${seen.join(', ')}], expected [${up.join(', ')}]`);
      await sleep(250);
    }
  }

  /**
   * Name of the node leading quorum queue `queue` in vhost `vhost` (`rabbitmqctl list_queues name
   * leader --formatter json`, asked of a running node), or, for a classic queue (no leader), the node
   * holding it (the running node whose `list_queues --local` lists it). Throws if the queue is not
   * listed, or has no leader or home among the running nodes (a quorum queue without a majority, a
   * classic queue whose node is down).
   */
  async leaderOf(queue: string, vhost = '/'): Promise<string> {
    const rows = JSON.parse(await this.ctl('list_queues', '-p', vhost, 'name', 'leader', '--formatter', 'json')) as {
      name: string;
      leader?: string;
    }[];
    const row = rows.find((r) => r.name === queue);
    if (!row) throw new Error(`queue ${queue} not listed in vhost ${vhost}`);
    if (row.leader && this.nodes.some((n) => n.name === row.leader)) return row.leader;
    for (const n of this.nodes) {
      if (!(await n.running())) continue;
      const local = JSON.parse(
        await n.broker.ctl('list_queues', '-p', vhost, '--local', 'name', '--formatter', 'json'),
      ) as { name: string }[];
      if (local.some((r) => r.name === queue)) return n.name;
    }
    throw new Error(`queue ${queue} has no leader or home node running (leader ${JSON.stringify(row.leader)})`);
  }

  /** Leaders of every quorum queue of vhost `vhost` whose name starts with `prefix`, as queue → node name. */
  async leaders(prefix = '', vhost = '/'): Promise<Map<string, string>> {
    const rows = JSON.parse(await this.ctl('list_queues', '-p', vhost, 'name', 'leader', '--formatter', 'json')) as {
      name: string;
      leader?: string;
    }[];
    return new Map(
      rows.filter((r) => r.name.startsWith(prefix) && typeof r.leader === 'string').map((r) => [r.name, r.leader!]),
    );
  }

  /**
   * SIGKILLs every node (the data goes with it, so no clean stop is worth waiting for) and removes
   * every directory. Idempotent; safe after a failed start.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.nodes.map((n) => n.kill().catch(() => undefined)));
    await Promise.all(this.nodes.map((n) => n.broker.destroy()));
  }
}

/**
 * Starts a cluster of `size` (default 3) private RabbitMQ nodes on this machine: boots the nodes
 * side by side (one shared cookie), joins every other node to the first (`rabbitmqctl stop_app;
 * reset; join_cluster <first>; start_app`, one node at a time, as RabbitMQ's clustering guide does:
 * https://www.rabbitmq.com/docs/clustering#creating), and resolves once `cluster_status` shows
 * every node running. Measured here (RabbitMQ 3.10.8, two busy cores): about 15 s. One cluster per
 * spec file (`beforeAll`), and `destroy()` in `afterAll`. On failure everything started is
 * destroyed and the error says which step failed.
 */
export async function startRabbitCluster(opts: RabbitClusterOptions = {}): Promise<RabbitCluster> {
  const started = Date.now();
  const size = opts.size ?? 3;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const cookie = `WARRENTEST${randomBytes(12).toString('hex').toUpperCase()}`;
  const boots = await Promise.allSettled(
    Array.from({ length: size }, () => PrivateBroker.start({ cookie, config: opts.config, startTimeoutMs: timeoutMs })),
  );
  const brokers = boots.filter((b) => b.status === 'fulfilled').map((b) => b.value);
  const failed = boots.find((b) => b.status === 'rejected');
  const cluster = new RabbitCluster(brokers);
  try {
    if (failed) throw failed.reason;
    const [first, ...rest] = cluster.nodes;
    for (const n of rest) {
      await n.broker.ctl('stop_app');
      await n.broker.ctl('reset');
      await n.broker.ctl('join_cluster', first.name);
      await n.broker.ctl('start_app');
    }
    await cluster.waitRunning(timeoutMs);
    const running = await cluster.runningNodes();
    if (running.length !== size) throw new Error(`cluster formed with ${running.length} of ${size} nodes`);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  cluster.startMs = Date.now() - started;
  return cluster;
}
