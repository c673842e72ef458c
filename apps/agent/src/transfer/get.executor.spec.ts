import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GetTransfer } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { sleep, until } from '../inbox/inbox.fixtures';
import { DEFAULT_FILES_MAX_BYTES } from '../policy/files.policy';
import { compilePathGlob } from '../policy/path.glob';
import { GET_WINDOW, startGet } from './get.executor';
import { grantOf, randomFile, sha256, useTransferHarness } from './transfer.fixtures';

const get = (path: string, maxBytes = 10 * 1024 * 1024): GetTransfer => ({
  op: 'get',
  path,
  maxBytes,
  chunkReplyTo: 'ns.fetched',
});
const POLICY = { files: { write: [], read: [], maxBytes: DEFAULT_FILES_MAX_BYTES } };

describe('startGet: a file sent back in signed chunks', () => {
  const h = useTransferHarness();

  it('sends the file in 512 KiB fileChunk replies to chunkReplyTo, then succeeds with its hash and size', async () => {
    const bytes = randomFile(2 * 512 * 1024 + 77);
    const path = join(h.dir, 'app.log');
    writeFileSync(path, bytes);
    const o = await startGet(h.deps, h.ids, get(path), grantOf(), POLICY).outcome;
    expect(o).toMatchObject({
      state: 'succeeded',
      reason: null,
      file: { sha256: sha256(bytes), size: bytes.length, changed: false },
    });
    expect(h.chunkReplies.map((c) => [c.routingKey, c.message.kind, c.message.index])).toEqual([
      ['ns.fetched', 'fileChunk', 0],
      ['ns.fetched', 'fileChunk', 1],
      ['ns.fetched', 'fileChunk', 2],
    ]);
    const joined = Buffer.concat(h.chunkReplies.map((c) => Buffer.from(c.message.data, 'base64')));
    expect(joined.equals(bytes)).toBe(true);
    expect(h.chunkReplies[0].message).toMatchObject({ invocationId: 'inv-1', taskId: 't_1', host: 'web1' });
  });

  it('keeps at most 8 chunks unconfirmed', async () => {
    const path = join(h.dir, 'big');
    writeFileSync(path, randomFile(20 * 512 * 1024));
    const held: ((ok: boolean) => void)[] = [];
    h.deps.replies.sendChunk = () => new Promise((r) => held.push(r));
    let settled = false;
    const run = startGet(h.deps, h.ids, get(path), grantOf(), POLICY);
    void run.outcome.then(() => (settled = true));
    await until(() => held.length === GET_WINDOW);
    await sleep(150);
    expect(held).toHaveLength(GET_WINDOW); // no ninth before a confirm
    held.shift()!(true);
    await until(() => held.length === GET_WINDOW);
    while (!settled) {
      held.splice(0).forEach((r) => r(true));
      await sleep(5);
    }
    expect(await run.outcome).toMatchObject({ state: 'succeeded', file: { size: 20 * 512 * 1024 } });
  });

  it('a cancel stops it between chunks: cancelled', async () => {
    const path = join(h.dir, 'big');
    writeFileSync(path, randomFile(20 * 512 * 1024));
    const held: ((ok: boolean) => void)[] = [];
    h.deps.replies.sendChunk = () => new Promise((r) => held.push(r));
    const run = startGet(h.deps, h.ids, get(path), grantOf(), POLICY);
    await until(() => held.length === GET_WINDOW);
    run.cancel('cancelled by alice');
    held.splice(0).forEach((r) => r(true));
    expect(await run.outcome).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice' });
    expect(held.length).toBeLessThanOrEqual(1); // at most the chunk already read
  });

  it('follows a symlink to a regular file files.read also allows', async () => {
    const path = join(h.dir, 'real');
    writeFileSync(path, 'x');
    symlinkSync(path, join(h.dir, 'link'));
    const inDir = { files: { ...POLICY.files, read: [compilePathGlob(`${h.dir}/**`)] } };
    const o = await startGet(h.deps, h.ids, get(join(h.dir, 'link')), grantOf(), inDir).outcome;
    expect(o).toMatchObject({ state: 'succeeded', file: { size: 1 } });
  });

  it('a symlink (at the file or on its way) to a file files.read does not allow: failed, nothing sent', async () => {
    // Someone who may write in a readable directory (a service's own log directory) plants links
    // to a file outside it: the agent, reading as root, must not send that file.
    const secret = join(h.dir, 'secret');
    mkdirSync(secret);
    writeFileSync(join(secret, 'shadow'), 'root:$6$hash');
    const logs = join(h.dir, 'logs');
    mkdirSync(logs);
    symlinkSync(join(secret, 'shadow'), join(logs, 'app.log'));
    symlinkSync(secret, join(logs, 'dir'));
    const only = { files: { ...POLICY.files, read: [compilePathGlob(`${logs}/**`)] } };
    for (const path of [join(logs, 'app.log'), join(logs, 'dir', 'shadow')]) {
      const o = await startGet(h.deps, h.ids, get(path), grantOf(), only).outcome;
      expect(o).toMatchObject({
        state: 'failed',
        reason: `policy: ${path} resolves to ${join(secret, 'shadow')}, and files.read allows no path matching it`,
      });
    }
    expect(h.chunkReplies).toEqual([]);
  });

  it.each([
    ['a missing file', 'missing', () => undefined, (p: string) => `no such file or directory (ENOENT) reading ${p}`],
    ['a directory', 'dir', (p: string) => mkdirSync(p), (p: string) => `is a directory (EISDIR) reading ${p}`],
    ['a FIFO', 'fifo', (p: string) => void execFileSync('mkfifo', [p]), (p: string) => `${p} is not a regular file`],
  ])('%s fails with the reason in words, nothing sent', async (_what, name, make, reason) => {
    const path = join(h.dir, name);
    make(path);
    const o = await startGet(h.deps, h.ids, get(path), grantOf(), POLICY).outcome;
    expect(o).toMatchObject({ state: 'failed', reason: reason(path) });
    expect(h.chunkReplies).toEqual([]);
  });

  it("a file over the get's cap, or over the policy's files.maxBytes, fails unread", async () => {
    const path = join(h.dir, 'f');
    writeFileSync(path, randomFile(1000));
    expect(await startGet(h.deps, h.ids, get(path, 999), grantOf(), POLICY).outcome).toMatchObject({
      state: 'failed',
      reason: 'file is 1000 bytes, over the cap of 999',
    });
    const tight = { files: { ...POLICY.files, maxBytes: 500 } };
    expect(await startGet(h.deps, h.ids, get(path), grantOf(), tight).outcome).toMatchObject({
      state: 'failed',
      reason: 'file is 1000 bytes, over the cap of 500',
    });
    expect(h.chunkReplies).toEqual([]);
  });

  it('a chunk the broker does not take fails it', async () => {
    const path = join(h.dir, 'f');
    writeFileSync(path, randomFile(1000));
    h.chunkOk = false;
    expect(await startGet(h.deps, h.ids, get(path), grantOf(), POLICY).outcome).toMatchObject({
      state: 'failed',
      reason: `a chunk of ${path} was not taken by the broker`,
    });
  });

  it('an empty file: no chunk, succeeded with the hash of nothing', async () => {
    const path = join(h.dir, 'empty');
    writeFileSync(path, '');
    expect(await startGet(h.deps, h.ids, get(path), grantOf(), POLICY).outcome).toMatchObject({
      state: 'succeeded',
      file: { sha256: sha256(Buffer.alloc(0)), size: 0, changed: false },
    });
    expect(h.chunkReplies).toEqual([]);
  });
});
