import { describe, expect, it, vi } from 'vitest';
import type { ControllerClient } from '../http/controller.client';
import { answerOf, EXIT_INTERRUPTED, guardWatch, type InterruptChoice, type InterruptHub } from './interrupt';

/** A hub whose Ctrl-C and answers the test drives. */
function fakeHub(answers: (InterruptChoice | null)[]) {
  const handlers: (() => void)[] = [];
  const exits: number[] = [];
  const hub: InterruptHub = {
    onInterrupt(h) {
      handlers.push(h);
      return () => handlers.splice(handlers.indexOf(h), 1);
    },
    ask: () => Promise.resolve(answers.shift() ?? null),
    exit(code) {
      exits.push(code);
    },
  };
  return { hub, handlers, exits, press: () => handlers.at(-1)?.() };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('Ctrl-C while watching a task', () => {
  it('reads c as cancel, d and a second Ctrl-C as detach, and ignores any other key', () => {
    expect(answerOf('c')).toBe('cancel');
    expect(answerOf('C')).toBe('cancel');
    expect(answerOf('d')).toBe('detach');
    expect(answerOf('\u0003')).toBe('detach');
    expect(answerOf('\u0003\u0003')).toBe('detach');
    const strays = [
      '',
      '\r',
      ' ',
      'x',
      'cd',
      '\rc',
      'echo done\n',
      'ls\ncd /tmp\n', // typed ahead or pasted: not one key
      '\u001b[A',
      '\u001bOD',
      '\u001b',
      '\u001b[I', // arrows, focus
      '\u001b[?1;2c',
      '\u001b[>0;276;0c', // device attributes reports (end in c)
      '\u001b]11;rgb:1c1c/1c1c/1c1c\u0007',
      '\u001b]11;rgb:dcdc/dcdc/dcdc\u001b\\', // colour reports (hold c and d)
      'x\u001b[Bd',
    ];
    for (const stray of strays) expect([stray, answerOf(stray)]).toEqual([stray, null]);
    expect(answerOf('\u001b[Ac')).toBe('cancel'); // an arrow key and then c, read together
  });

  it('cancel: asks the controller to cancel the task and keeps watching', async () => {
    const { hub, press, exits } = fakeHub(['cancel']);
    const cancelTask = vi.fn().mockResolvedValue({ cancelled: ['web2'], killing: ['web1'] });
    let err = '';
    guardWatch(hub, 't_1', { cancelTask } as unknown as ControllerClient, { write: (s: string) => (err += s) });
    press();
    await flush();
    await flush();
    expect(cancelTask).toHaveBeenCalledWith('t_1');
    expect(exits).toEqual([]);
    expect(err).toMatch(/cancelling t_1: 1 not started, 1 being killed/);
  });

  it('detach (or no terminal to ask on): prints how to look later and exits 130, cancelling nothing', async () => {
    for (const answer of ['detach', null] as const) {
      const { hub, press, exits } = fakeHub([answer]);
      const cancelTask = vi.fn();
      let err = '';
      guardWatch(hub, 't_2', { cancelTask } as unknown as ControllerClient, { write: (s: string) => (err += s) });
      press();
      await flush();
      expect(exits).toEqual([EXIT_INTERRUPTED]);
      expect(cancelTask).not.toHaveBeenCalled();
      expect(err).toMatch(/detached; task t_2 keeps running\. See it with: warren check t_2 --wait/);
    }
  });

  it('says why when the cancel fails, and a later Ctrl-C asks again', async () => {
    const { hub, press, exits } = fakeHub(['cancel', 'cancel']);
    const cancelTask = vi
      .fn()
      .mockRejectedValueOnce(new Error('controller unreachable'))
      .mockResolvedValue({ cancelled: [], killing: ['web1'] });
    let err = '';
    guardWatch(hub, 't_3', { cancelTask } as unknown as ControllerClient, { write: (s: string) => (err += s) });
    press();
    await flush();
    await flush();
    expect(err).toMatch(/cancel failed: controller unreachable/);
    press();
    await flush();
    await flush();
    expect(cancelTask).toHaveBeenCalledTimes(2);
    expect(exits).toEqual([]);
  });

  it('withdraws an unanswered question when the watch ends (the task finished), and ignores a late answer', async () => {
    let answer: (c: InterruptChoice | null) => void = () => undefined;
    let signal: AbortSignal | undefined;
    const exits: number[] = [];
    const handlers: (() => void)[] = [];
    const hub: InterruptHub = {
      onInterrupt: (h) => (handlers.push(h), () => handlers.splice(handlers.indexOf(h), 1)),
      ask: (_q, s) => ((signal = s), new Promise((r) => (answer = r))),
      exit: (code) => void exits.push(code),
    };
    const cancelTask = vi.fn();
    const release = guardWatch(hub, 't_5', { cancelTask } as unknown as ControllerClient, { write: () => undefined });
    handlers[0]();
    expect(signal?.aborted).toBe(false);
    release();
    expect(signal?.aborted).toBe(true);
    answer('detach');
    await flush();
    expect(exits).toEqual([]);
    expect(cancelTask).not.toHaveBeenCalled();
  });

  it('stops listening once released', () => {
    const { hub, handlers } = fakeHub([]);
    const release = guardWatch(hub, 't_4', {} as ControllerClient, { write: () => undefined });
    expect(handlers).toHaveLength(1);
    release();
    expect(handlers).toHaveLength(0);
  });
});
