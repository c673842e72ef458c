import { randomBytes } from 'node:crypto';
import { encodeCapture, type OutputCapture } from '@warren/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { type OpenStore, task, useStore } from './task-store.contract.fixtures';
import type { TaskStore } from './task-store.port';

const EMPTY = encodeCapture(Buffer.alloc(0), 0);

/** Output bytes kept exactly, with their text for people, on every adapter. */
export function describeExactOutput(open: OpenStore): void {
  describe('exact output', () => {
    const ctx = useStore(open, (s) =>
      s.createTask(task('t1', 1_000, { command: 'head -c 4096 /dev/urandom', hostCount: 1 }), [
        { id: 'i1', host: 'h1', deadlineAt: 7_000 },
      ]),
    );
    let store: TaskStore;
    beforeEach(() => {
      store = ctx.store;
    });

    const finish = (stdout: OutputCapture, stderr: OutputCapture = EMPTY) =>
      store.applyUpdates(
        [
          {
            kind: 'result',
            invocationId: 'i1',
            host: 'h1',
            state: 'succeeded',
            exitCode: 0,
            signal: null,
            stdout,
            stderr,
            startedAt: 2_000,
            finishedAt: 3_000,
            durationMs: 1_000,
            reason: null,
          },
        ],
        3_000,
      );

    it('keeps random bytes exactly, says they are not UTF-8, and keeps their text for people', async () => {
      const bytes = randomBytes(4096);
      await finish(encodeCapture(bytes, 4096));
      const out = await store.getOutput('t1', 'h1', 'stdout');
      expect(out).toMatchObject({ state: 'succeeded', utf8: false, totalBytes: 4096, truncated: false });
      expect(out!.bytes.equals(bytes)).toBe(true);
      const [inv] = await store.getInvocations('t1');
      expect(inv).toMatchObject({ stdoutUtf8: false, stderrUtf8: true, stdoutBytes: 4096 });
      expect(inv.stdout).toBe(bytes.toString('utf8'));
    });

    it('keeps NUL bytes in UTF-8 output, as bytes and as text', async () => {
      const bytes = Buffer.from('a\u0000b\u0000\n');
      await finish(encodeCapture(bytes, bytes.length), { data: 'x\u0000y', bytes: 3, truncated: false });
      expect((await store.getOutput('t1', 'h1', 'stdout'))!.bytes).toEqual(bytes);
      expect(await store.getOutput('t1', 'h1', 'stderr')).toMatchObject({ bytes: Buffer.from('x\u0000y'), utf8: null });
      expect((await store.getInvocations('t1'))[0]).toMatchObject({
        stdout: 'a\u0000b\u0000\n',
        stderr: 'x\u0000y',
        stdoutUtf8: true,
      });
    });

    it('serves UTF-8 output and bytes that came as base64 exactly', async () => {
      await finish(encodeCapture(Buffer.from('héllo\n'), 7), encodeCapture(Buffer.alloc(300, 1), 300));
      expect((await store.getOutput('t1', 'h1', 'stdout'))!.bytes).toEqual(Buffer.from('héllo\n'));
      expect((await store.getOutput('t1', 'h1', 'stderr'))!.bytes).toEqual(Buffer.alloc(300, 1));
      expect((await store.getInvocations('t1'))[0]).toMatchObject({
        stdout: 'héllo\n',
        stderr: '\u0001'.repeat(300),
        stdoutUtf8: true,
        stderrUtf8: true,
      });
    });

    it('keeps the first bytes of a character the cap cut, and leaves it out of the text', async () => {
      const kept = Buffer.from('ab€').subarray(0, 4);
      await finish(encodeCapture(kept, 10));
      expect(await store.getOutput('t1', 'h1', 'stdout')).toMatchObject({
        utf8: true,
        truncated: true,
        totalBytes: 10,
      });
      expect((await store.getOutput('t1', 'h1', 'stdout'))!.bytes).toEqual(kept);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ stdout: 'ab', stdoutTruncated: true });
    });

    it('keeps invalid bytes the cap cut, and their text for people', async () => {
      const kept = Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82]);
      await finish(encodeCapture(kept, 9));
      expect((await store.getOutput('t1', 'h1', 'stdout'))!.bytes).toEqual(kept);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ stdout: 'a\uFFFDb', stdoutUtf8: false });
    });

    it('says UTF-8 is unknown for output from an agent before exact capture', async () => {
      await finish({ data: 'a\uFFFDb', bytes: 3, truncated: false });
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ stdout: 'a\uFFFDb', stdoutUtf8: null });
      expect(await store.getOutput('t1', 'h1', 'stdout')).toMatchObject({ utf8: null, bytes: Buffer.from('a\uFFFDb') });
    });

    it('answers null for a host or task it does not have, and empty output before the result', async () => {
      expect(await store.getOutput('t1', 'h2', 'stdout')).toBeNull();
      expect(await store.getOutput('nope', 'h1', 'stderr')).toBeNull();
      expect(await store.getOutput('t1', 'h1', 'stdout')).toEqual({
        state: 'pending',
        bytes: Buffer.alloc(0),
        utf8: null,
        totalBytes: 0,
        truncated: false,
      });
    });
  });
}
