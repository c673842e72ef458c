import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskView } from '@warren/api';
import { CHUNK_HEADERS, FILE_CHUNK_BYTES } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, Warren } from './harness';
import {
  ChunkInterceptor,
  createTask,
  deleteChunkQueues,
  filesPolicy,
  finished,
  randomFile,
  resultOf,
  sha256,
  upload,
} from './files.harness';

/** Temporary files of a put beside `dest` (`.<basename>.warren-<invocationId>.tmp`). */
const tempsBeside = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((n) => /\.warren-.*\.tmp$/.test(n)) : [];

/** The chunk of `index` among the held ones. */
const chunk = (held: ChunkInterceptor['held'], index: number) => {
  const m = held.find((x) => Number(x.properties.headers?.[CHUNK_HEADERS.index]) === index);
  if (!m)
    throw new Error(`chunk ${index} not held (held: ${held.map((x) => x.properties.headers?.[CHUNK_HEADERS.index])})`);
  return m;
};

/**
 * The failure paths of a put, with the real controller, broker and agents: a chunk altered on the
 * broker, an agent SIGKILLed mid-transfer, a destination the policy refuses, a host that is offline.
 * Chunks are taken off their way to a host by a {@link ChunkInterceptor} (its chunk queue unbound,
 * a test queue bound in its place), which makes each of these deterministic.
 */
describe('file transfer failures', () => {
  const w = new Warren();
  const hosts = ['t1', 'k1', 'p1', 'o1'];
  const destRoot = () => join(w.dir, 'dest');
  const policies = new Map<string, string>();

  beforeAll(async () => {
    await w.startController();
    for (const h of hosts) {
      mkdirSync(join(destRoot(), h), { recursive: true });
      const policy = filesPolicy(w, `policy-${h}`, {
        write: [`${destRoot()}/${h}/**`],
        read: [`${destRoot()}/${h}/**`],
      });
      policies.set(h, policy);
      await w.startAgent(h, {}, ['--policy', policy]);
    }
  }, 90_000);

  afterAll(async () => {
    await deleteChunkQueues(w, hosts);
    await w.teardown();
  });

  it('refuses a chunk altered on the broker: the host fails naming it, and nothing appears at the destination', async () => {
    const bytes = randomFile(4 * FILE_CHUNK_BYTES);
    const file = await upload(w, bytes, 'tamper.bin');
    const dest = join(destRoot(), 't1', 'tamper.bin');
    const spy = new ChunkInterceptor(w, 't1');
    await spy.start();
    try {
      const id = await createTask(w, { put: { file: file.sha256, dest }, hosts: ['t1'] });
      await spy.waitFor(4);
      const altered = Buffer.from(chunk(spy.held, 1).content);
      altered[1234] ^= 0xff;
      for (const i of [0, 1, 2, 3]) await spy.forward(chunk(spy.held, i), i === 1 ? altered : undefined);
      const task = await finished(w, id);
      expect(resultOf(task, 't1')).toMatchObject({
        state: 'failed',
        reason: expect.stringMatching(/chunk 1 does not match the signed manifest/),
      });
      expect(existsSync(dest)).toBe(false);
      expect(tempsBeside(join(destRoot(), 't1'))).toEqual([]);
    } finally {
      await spy.restore();
    }
    // Positive control: the same put, its chunks untouched, succeeds.
    const again = await finished(w, await createTask(w, { put: { file: file.sha256, dest }, hosts: ['t1'] }));
    expect(resultOf(again, 't1')).toMatchObject({ state: 'succeeded', file: { sha256: sha256(bytes), changed: true } });
  });

  it('an agent SIGKILLed mid-transfer leaves no file and no temporary file after its restart, and the host ends lost', async () => {
    const bytes = randomFile(8 * FILE_CHUNK_BYTES);
    const file = await upload(w, bytes, 'killed.bin');
    const dir = join(destRoot(), 'k1');
    const dest = join(dir, 'killed.bin');
    const spy = new ChunkInterceptor(w, 'k1');
    await spy.start();
    const id = await createTask(w, { put: { file: file.sha256, dest }, hosts: ['k1'], timeoutMs: 60_000 });
    try {
      await spy.waitFor(8);
      for (const i of [0, 1, 2]) await spy.forward(chunk(spy.held, i));
      // Mid-transfer: the temporary file holds the first three chunks, the other five never come.
      await until(() => {
        const [temp] = tempsBeside(dir);
        return temp !== undefined && statSync(join(dir, temp)).size >= 3 * FILE_CHUNK_BYTES;
      });
      await w.agents.get('k1')!.stop('SIGKILL');
      expect(tempsBeside(dir)).toHaveLength(1); // it was there when the agent died
    } finally {
      await spy.restore();
    }
    await w.startAgent('k1', {}, ['--policy', policies.get('k1')!]);
    await until(() => tempsBeside(dir).length === 0, 15_000);
    expect(existsSync(dest)).toBe(false);
    const task = await finished(w, id);
    expect(resultOf(task, 'k1').state).toBe('lost');
  });

  it('a destination outside files.write is rejected with the policy reason, and nothing is written', async () => {
    const file = await upload(w, Buffer.from('no\n'), 'denied.txt');
    const dest = `/etc/warren-e2e-${w.ns}`;
    const task = await finished(w, await createTask(w, { put: { file: file.sha256, dest }, hosts: ['p1'] }));
    expect(resultOf(task, 'p1')).toMatchObject({
      state: 'rejected',
      rejectCode: 'policy',
      reason: `policy: files.write allows no path matching ${dest}`,
    });
    expect(existsSync(dest)).toBe(false);
    const get = await finished(w, await createTask(w, { get: { path: '/etc/hostname' }, hosts: ['p1'] }));
    expect(resultOf(get, 'p1')).toMatchObject({
      state: 'rejected',
      rejectCode: 'policy',
      reason: expect.stringMatching(/^policy: files\.read allows no path matching \/etc\/hostname/),
    });
  });

  it('a host whose agent is offline ends undelivered (warren cp --wait exits 1)', async () => {
    await w.agents.get('o1')!.stop('SIGTERM');
    const src = join(w.dir, 'offline.txt');
    writeFileSync(src, 'offline\n');
    const dest = join(destRoot(), 'o1', 'offline.txt');
    const r = await w.cli(['cp', src, '--dest', dest, '--hosts', 'o1', '--delivery-timeout', '2s', '--wait', '--json']);
    expect(r.code).toBe(1);
    const task = JSON.parse(r.stdout) as TaskView;
    expect(resultOf(task, 'o1')).toMatchObject({ state: 'undelivered', file: null });
    expect(existsSync(dest)).toBe(false);
  });
});

describe('an upload over the controller limit', () => {
  const w = new Warren();

  beforeAll(() => w.startController({ WARREN_MAX_FILE_SIZE: String(1024 * 1024) }), 60_000);
  afterAll(() => w.teardown());

  it('warren cp of a file over WARREN_MAX_FILE_SIZE exits 2 naming the file and the limit, and sends no task', async () => {
    const src = join(w.dir, 'too-big.bin');
    writeFileSync(src, randomFile(2 * 1024 * 1024));
    const r = await w.cli(['cp', src, '--dest', '/srv/too-big.bin', '--hosts', 'nohost']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`warren: ${src} (2.0 MiB) is larger than the controller accepts`);
    expect(r.stderr).toContain('--max-file-size or WARREN_MAX_FILE_SIZE');
    expect((await w.api('GET', '/v1/tasks?limit=10')).body).toMatchObject({ tasks: [] });
  });
});
