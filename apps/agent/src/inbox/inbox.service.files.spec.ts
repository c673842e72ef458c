import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandMessage, FILE_CHUNK_BYTES, type PutTransfer } from '@warren/protocol';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../policy/policy.loader';
import { putTempPath } from '../transfer/put.executor';
import { stdinDir } from '../transfer/stdin.executor';
import { chunksOf, FakeChunk, manifestOf, randomFile, sha256 } from '../transfer/transfer.fixtures';
import { INTERRUPTED_REASON, InboxRecovery } from './inbox.recovery';
import { until, useInboxHarness } from './inbox.fixtures';

describe('InboxService: file transfers (protocol 2)', () => {
  const h = useInboxHarness();
  const { command, deliver, results } = h;

  /** An inbox whose policy lets puts and gets use the test's folder (and caps files at `maxBytes`). */
  const filesInbox = (maxBytes = '100MiB') => {
    h.policy = parsePolicy(
      `allowRoot: true\nfiles:\n  write: ['${h.dir}/**']\n  read: ['${h.dir}/**']\n  maxBytes: ${maxBytes}\n`,
      'lab.yaml',
      { agentMaxOutputBytes: 4096 },
    );
    return h.make(2);
  };
  const put = (dest: string, bytes: Buffer, over: Partial<CommandMessage> = {}): CommandMessage =>
    command({
      v: 2,
      command: `put ${dest}`,
      transfer: { op: 'put', file: manifestOf(bytes), dest, mode: 0o600, owner: null, group: null, mkdir: false },
      ...over,
    });
  const feedAll = async (bytes: Buffer, task = 't_1') => {
    const chunks = chunksOf(bytes);
    for (let i = 0; i < chunks.length; i++) await h.chunks.handle(new FakeChunk(chunks[i], task, sha256(bytes), i));
  };
  const kinds = () => h.sent.map((s) => s.message.kind);

  it('refuses a put, a get or a stdin the policy does not allow: rejected, code policy, never run', async () => {
    const inbox = filesInbox('1KiB');
    const denied = put('/etc/shadow', Buffer.from('x'));
    const big = put(join(h.dir, 'big'), randomFile(2048));
    const get = command({
      v: 2,
      command: 'get /etc/passwd',
      transfer: { op: 'get', path: '/etc/passwd', maxBytes: 1000, chunkReplyTo: 'ns.fetched' },
    });
    const stdin = command({ v: 2, command: 'cat', stdin: manifestOf(randomFile(2048)) });
    const owner = put(join(h.dir, 'x'), Buffer.from('x'), {});
    owner.transfer = { ...(owner.transfer as PutTransfer), owner: 'nobody' };
    for (const c of [denied, big, get, stdin, owner]) expect(deliver(inbox, c).settled).toBe('ack');
    expect(results().map((r) => [r.state, r.code, r.reason])).toEqual([
      ['rejected', 'policy', 'policy: files.write allows no path matching /etc/shadow'],
      ['rejected', 'policy', 'policy: the file is 2048 bytes, over files.maxBytes (1024)'],
      ['rejected', 'policy', 'policy: files.read allows no path matching /etc/passwd'],
      ['rejected', 'policy', 'policy: stdin is 2048 bytes, over files.maxBytes (1024)'],
      ['rejected', 'policy', 'policy: owner nobody is not allowed (allowed: root)'],
    ]);
    expect(kinds()).not.toContain('started');
  });

  it('the default policy (no files section) allows no put anywhere', () => {
    const c = put(join(h.dir, 'f'), Buffer.from('x'));
    deliver(h.inbox, c);
    expect(results()[0]).toMatchObject({
      state: 'rejected',
      code: 'policy',
      reason: `policy: files.write allows no path matching ${join(h.dir, 'f')}`,
    });
  });

  it('a put: journaled, started confirmed, spawning marked, ready, chunks written, result with file', async () => {
    const inbox = filesInbox();
    const bytes = randomFile(FILE_CHUNK_BYTES + 10);
    const dest = join(h.dir, 'motd');
    const c = put(dest, bytes);
    expect(deliver(inbox, c).settled).toBe('ack');
    await until(() => kinds().includes('ready'));
    expect(kinds()).toEqual(['started', 'ready']);
    expect(h.sent[1]).toMatchObject({
      routingKey: 'ns.results',
      message: { kind: 'ready', invocationId: c.invocationId, sha256: sha256(bytes), v: 2 },
    });
    expect(h.journal.tempFiles()).toEqual([
      { invocationId: c.invocationId, path: putTempPath(dest, c.invocationId), finished: false },
    ]);
    await feedAll(bytes);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({
      state: 'succeeded',
      file: { sha256: sha256(bytes), size: bytes.length, changed: true },
    });
    expect(sha256(readFileSync(dest))).toBe(sha256(bytes));
    expect(h.journal.outcomeOf(c.invocationId)).toMatchObject({ state: 'succeeded' });

    // The same file again: unchanged, no ready, nothing received.
    const again = put(dest, bytes);
    deliver(inbox, again);
    await until(() => results().length === 2);
    expect(results()[1]).toMatchObject({ state: 'succeeded', file: { changed: false } });
    expect(kinds().filter((k) => k === 'ready')).toHaveLength(1);
  });

  it('a cancel of a running put: cancelled, its temp file unlinked, nothing at the destination', async () => {
    const inbox = filesInbox();
    const bytes = randomFile(3 * FILE_CHUNK_BYTES);
    const dest = join(h.dir, 'big');
    const c = put(dest, bytes);
    deliver(inbox, c);
    await until(() => kinds().includes('ready'));
    await h.chunks.handle(new FakeChunk(chunksOf(bytes)[0], 't_1', sha256(bytes), 0));
    expect(existsSync(putTempPath(dest, c.invocationId))).toBe(true);
    const outcome = inbox.cancel({
      taskId: 't_1',
      invocationIds: [c.invocationId],
      expiresAt: c.expiresAt,
      replyTo: 'ns.results',
      requestedBy: 'alice',
    });
    expect(outcome).toEqual({ [c.invocationId]: 'killed' });
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice' });
    expect(readdirSync(h.dir).filter((f) => f.includes('big'))).toEqual([]);
  });

  it('a get: fileChunk replies to chunkReplyTo, then the result with the file', async () => {
    const inbox = filesInbox();
    const bytes = randomFile(FILE_CHUNK_BYTES * 2 + 3);
    const path = join(h.dir, 'app.log');
    writeFileSync(path, bytes);
    const c = command({
      v: 2,
      command: `get ${path}`,
      transfer: { op: 'get', path, maxBytes: 10_000_000, chunkReplyTo: 'ns.fetched' },
    });
    deliver(inbox, c);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({
      state: 'succeeded',
      file: { sha256: sha256(bytes), size: bytes.length, changed: false },
    });
    expect(h.chunksSent.map((s) => [s.routingKey, s.message.index])).toEqual([
      ['ns.fetched', 0],
      ['ns.fetched', 1],
      ['ns.fetched', 2],
    ]);
  });

  it('stdin: 1 MiB reaches the command on fd 0 (sha256sum prints its hash), and the file is unlinked after', async () => {
    const inbox = filesInbox();
    const bytes = randomFile(1024 * 1024);
    const c = command({ v: 2, command: 'sha256sum', stdin: manifestOf(bytes) });
    deliver(inbox, c);
    await until(() => kinds().includes('ready'));
    const path = join(stdinDir(h.dir), c.invocationId);
    expect(h.journal.tempFiles().map((t) => t.path)).toEqual([path]);
    await feedAll(bytes);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      file: { sha256: sha256(bytes), size: bytes.length, changed: false },
    });
    expect(results()[0].stdout.data).toBe(`${sha256(bytes)}  -\n`);
    expect(existsSync(path)).toBe(false);
  });

  it('stdin run as another user: the agent opens the file, so the user needs no access to it', async () => {
    h.policy = parsePolicy(`users: [nobody]\nfiles:\n  maxBytes: 1MiB\n`, 'lab.yaml', { agentMaxOutputBytes: 4096 });
    const inbox = h.make(1);
    const bytes = Buffer.from('hello from stdin\n');
    deliver(inbox, command({ v: 2, command: 'id -un; cat', stdin: manifestOf(bytes) }));
    await until(() => kinds().includes('ready'));
    await feedAll(bytes);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'nobody\nhello from stdin\n' } });
  });

  it('a stdin chunk that does not match: failed before anything runs, the file unlinked', async () => {
    const inbox = filesInbox();
    const marker = join(h.dir, 'ran');
    const bytes = Buffer.from('abc');
    const c = command({ v: 2, command: `touch ${marker}`, stdin: manifestOf(bytes) });
    deliver(inbox, c);
    await until(() => kinds().includes('ready'));
    await h.chunks.handle(new FakeChunk(Buffer.from('abd'), 't_1', sha256(bytes), 0));
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({
      state: 'failed',
      reason: 'chunk 0 does not match the signed manifest',
      startedAt: null,
    });
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(stdinDir(h.dir))).toEqual([]);
  });

  it('a protocol 1 command and a protocol 2 command without transfer or stdin both still run', async () => {
    const v1 = command({ v: 1, command: 'echo one' });
    const v2 = command({ v: 2, command: 'echo two' });
    deliver(h.inbox, v1);
    deliver(h.inbox, v2);
    await until(() => results().length === 2);
    expect(
      results()
        .map((r) => [r.state, r.stdout.data, r.file])
        .sort(),
    ).toEqual([
      ['succeeded', 'one\n', undefined],
      ['succeeded', 'two\n', undefined],
    ]);
  });

  it('after a restart: temp files of unfinished puts and stdin files are removed, then the interrupted report goes out', async () => {
    const now = Date.now();
    const route = { taskId: 't_1', replyTo: 'ns.results' };
    const dest = join(h.dir, 'motd');
    const temp = putTempPath(dest, 'put-1');
    h.journal.append('put-1', now + 60_000, route);
    h.journal.markSpawning('put-1');
    h.journal.recordTemp('put-1', temp);
    writeFileSync(temp, 'half a file');
    mkdirSync(stdinDir(h.dir));
    const stdinFile = join(stdinDir(h.dir), 'run-1');
    writeFileSync(stdinFile, 'half a stdin');
    writeFileSync(dest, 'the old file');
    h.reopenJournal();
    const sent: { kind: string; invocationId: string }[] = [];
    const replies = { sendConfirmed: (m: never) => (sent.push(m), Promise.resolve(true)) };
    const recovery = new InboxRecovery(
      'web1',
      h.journal,
      replies,
      new SystemClock(),
      pino({ level: 'silent' }),
      stdinDir(h.dir),
    );
    expect(recovery.recover()).toEqual({ reported: 1, resent: 0 });
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(stdinFile)).toBe(false);
    expect(readFileSync(dest, 'utf8')).toBe('the old file'); // never the destination
    expect(sent).toMatchObject([{ kind: 'interrupted', invocationId: 'put-1', reason: INTERRUPTED_REASON }]);
  });
});
