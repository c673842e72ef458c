import { describe, expect, it } from 'vitest';
import { FakeChunk, useTransferHarness } from './transfer.fixtures';

describe('ChunkRouter: each chunk to its transfer, each delivery acked once', () => {
  const h = useTransferHarness();
  const file = 'f'.repeat(64);

  it('routes a chunk by task id and file hash, and acks it once the transfer has taken it', async () => {
    const got: [number, string][] = [];
    let release!: () => void;
    const written = new Promise<void>((r) => (release = r));
    h.router.register('t_1', file, {
      accept: async (i, b) => {
        await written;
        got.push([i, b.toString()]);
      },
    });
    const d = new FakeChunk(Buffer.from('abc'), 't_1', file, 3);
    const handled = h.router.handle(d as never);
    await new Promise((r) => setTimeout(r, 20));
    expect(d.acked).toBe(0); // not before the write
    release();
    await handled;
    expect([d.acked, got]).toEqual([1, [[3, 'abc']]]);
  });

  it('acks and drops a chunk for no active transfer: another task, another file, or after unregistering', async () => {
    const got: number[] = [];
    const unregister = h.router.register('t_1', file, { accept: async (i) => void got.push(i) });
    expect((await h.feed(Buffer.from('x'), 0, file, 't_2')).acked).toBe(1);
    expect((await h.feed(Buffer.from('x'), 0, 'e'.repeat(64))).acked).toBe(1);
    unregister();
    expect(h.router.active).toBe(0);
    expect((await h.feed(Buffer.from('x'), 0, file)).acked).toBe(1);
    const bare = new FakeChunk(Buffer.from('x'), 't_1', file, 0);
    bare.properties.headers = {};
    await h.router.handle(bare as never);
    expect([got, bare.acked]).toEqual([[], 1]);
  });

  it('acks a chunk whose transfer throws', async () => {
    h.router.register('t_1', file, {
      accept: () => Promise.reject(new Error('boom')),
    });
    expect((await h.feed(Buffer.from('x'), 0, file)).acked).toBe(1);
  });
});
