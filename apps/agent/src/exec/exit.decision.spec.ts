import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decideExit, type KillDecision, readLeaderStatus } from './exit.decision';

const timeout = (...sent: KillDecision['sent']): KillDecision => ({
  state: 'timed_out',
  reason: 'killed after 200 ms timeout',
  sent,
});
const TERM = { signal: 'SIGTERM', caught: false } as const;
const TERM_CAUGHT = { signal: 'SIGTERM', caught: true } as const;
const KILL = { signal: 'SIGKILL', caught: false } as const;

describe('decideExit', () => {
  it('gives a shell that exited by itself its own state, even after the agent decided to kill it', () => {
    // The race of issue 12: the timer fired as `sleep 0.195; echo done` finished; our SIGKILL found a zombie.
    expect(decideExit({ code: 0, signal: null }, timeout(KILL))).toEqual({ state: 'succeeded', reason: null });
    expect(decideExit({ code: 0, signal: null }, timeout(TERM))).toEqual({ state: 'succeeded', reason: null });
    expect(decideExit({ code: 2, signal: null }, timeout(TERM, KILL))).toEqual({ state: 'failed', reason: null });
  });

  it("is timed_out or cancelled when the agent's signal ended the shell, naming it", () => {
    expect(decideExit({ code: null, signal: 'SIGTERM' }, timeout(TERM))).toEqual({
      state: 'timed_out',
      reason: 'killed after 200 ms timeout',
    });
    const cancel: KillDecision = { state: 'cancelled', reason: 'cancelled by alice', sent: [TERM, KILL] };
    expect(decideExit({ code: null, signal: 'SIGKILL' }, cancel)).toEqual({
      state: 'cancelled',
      reason: 'cancelled by alice',
    });
  });

  it('is timed_out when the shell trapped our SIGTERM and exited in answer, naming the signal and the status', () => {
    expect(decideExit({ code: 3, signal: null }, timeout(TERM_CAUGHT))).toEqual({
      state: 'timed_out',
      reason: 'killed after 200 ms timeout (it exited 3 on SIGTERM)',
    });
  });

  it('is failed when a signal the agent did not send ended the shell', () => {
    expect(decideExit({ code: null, signal: 'SIGKILL' }, timeout(TERM))).toEqual({
      state: 'failed',
      reason: 'killed by SIGKILL',
    });
    expect(decideExit({ code: null, signal: 'SIGSEGV' }, null)).toEqual({
      state: 'failed',
      reason: 'killed by SIGSEGV',
    });
  });
});

describe('readLeaderStatus', () => {
  it('reads whether a child traps SIGTERM, and whether it has exited before it is reaped', async () => {
    const plain = spawn('/bin/sh', ['-c', 'sleep 5; true'], { stdio: 'ignore' });
    const trapping = spawn('/bin/sh', ['-c', "trap 'exit 3' TERM; echo ready; sleep 5 & wait"], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((r) => trapping.stdout!.once('data', r));
    expect(readLeaderStatus(plain.pid!)).toMatchObject({ exited: false });
    expect(readLeaderStatus(plain.pid!).catches('SIGTERM')).toBe(false);
    expect(readLeaderStatus(trapping.pid!).catches('SIGTERM')).toBe(true);
    expect(readLeaderStatus(trapping.pid!).catches('SIGUSR1')).toBe(false);
    const exited = new Promise((r) => plain.once('exit', r));
    process.kill(plain.pid!, 'SIGKILL');
    // Between its death and Node's reaping it is a zombie; reading it synchronously sees that.
    const deadline = Date.now() + 2_000;
    while (!readLeaderStatus(plain.pid!).exited && Date.now() < deadline)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    expect(readLeaderStatus(plain.pid!).exited).toBe(true);
    await exited;
    trapping.kill('SIGKILL');
  });
});
