import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** bytes held while partitioned, each way */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** a side closed while partitioned: its peer never heard of it */
  brokenWhilePartitioned: boolean;
}

/**
 * A TCP relay between clients and a broker that can be partitioned: while partitioned it forwards
 * nothing and closes nothing, as a cut cable or a dropped route does. Bytes sent meanwhile are
 * held, like TCP retransmissions; on heal they are delivered if both ends still hold the
 * connection, and a connection one end gave up on (its AMQP heartbeat timed out) is reset, as
 * the retransmission hitting a closed socket would. A connection attempted while partitioned is
 * accepted but hangs (the SYN never answered, in effect) until heal.
 */
export class PartitionProxy {
  private readonly pairs = new Set<Pair>();
  private partitioned = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Listens on a free loopback port, relaying to `targetPort`. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<PartitionProxy> {
    let proxy: PartitionProxy | null = null;
    const server = createServer({ noDelay: true }, (client) => proxy?.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new PartitionProxy(server, (server.address() as { port: number }).port, {
      host: targetHost,
      port: targetPort,
    });
    return proxy;
  }

  /** The broker URL through this proxy. */
  url(user = 'guest', pass = 'guest'): string {
    return `amqp://${user}:${pass}@127.0.0.1:${this.port}/`;
  }

  /** Connections currently relayed or held. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Stops all traffic, both ways, without closing anything. */
  partition(): void {
    this.partitioned = true;
  }

  /** Restores traffic: held bytes flow, connections an end gave up on are reset, held connects proceed. */
  heal(): void {
    this.partitioned = false;
    for (const p of [...this.pairs]) {
      if (p.brokenWhilePartitioned) {
        this.drop(p);
        continue;
      }
      if (!p.upstream) this.connectUpstream(p);
      this.flush(p);
    }
  }

  /** Closes the listener and every relayed connection. */
  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.drop(p);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.setNoDelay(true);
    const p: Pair = { client, upstream: null, toUpstream: [], toClient: [], brokenWhilePartitioned: false };
    this.pairs.add(p);
    client.on('data', (b: Buffer) => {
      if (this.partitioned || !p.upstream) p.toUpstream.push(b);
      else p.upstream.write(b);
    });
    client.on('error', () => undefined);
    client.on('close', () => this.closedSide(p));
    if (!this.partitioned) this.connectUpstream(p);
  }

  private connectUpstream(p: Pair): void {
    const up = createConnection({ ...this.target, noDelay: true });
    p.upstream = up;
    up.on('connect', () => this.flush(p));
    up.on('data', (b: Buffer) => {
      if (this.partitioned) p.toClient.push(b);
      else p.client.write(b);
    });
    up.on('error', () => undefined);
    up.on('close', () => this.closedSide(p));
  }

  private flush(p: Pair): void {
    if (this.partitioned) return;
    if (p.upstream && !p.upstream.connecting) for (const b of p.toUpstream.splice(0)) p.upstream.write(b);
    for (const b of p.toClient.splice(0)) p.client.write(b);
  }

  private closedSide(p: Pair): void {
    if (!this.pairs.has(p)) return;
    if (this.partitioned) {
      p.brokenWhilePartitioned = true;
      return;
    }
    this.drop(p);
  }

  private drop(p: Pair): void {
    this.pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  }
}
