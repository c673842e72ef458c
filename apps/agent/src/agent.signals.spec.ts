import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Agent } from './agent';
import { type AgentProcess, runAgent } from './agent.signals';
import type { ProcessRunner } from './exec/process.runner';

/** A process whose signals are emitted by hand and whose exit is recorded. */
class FakeProcess extends EventEmitter implements AgentProcess {
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
  signal(sig: NodeJS.Signals): void {
    this.emit(sig, sig);
  }
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** An agent whose start and stop resolve when the spec says so; `calls` records the order. */
function fakeAgent() {
  const calls: string[] = [];
  const started = deferred();
  const stopped = deferred();
  const runner = { running: 2, killAllNow: vi.fn(() => calls.push('killAllNow')) };
  const agent: Agent = {
    runner: runner as unknown as ProcessRunner,
    start: () => (calls.push('start'), started.promise),
    stop: (signal) => (calls.push(`stop ${signal}`), stopped.promise),
  };
  return { agent, calls, started, stopped, runner };
}

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));

describe('runAgent: the agent process and its signals', () => {
  it('first SIGTERM once booted: the graceful stop, then exit 0', async () => {
    const p = new FakeProcess();
    const a = fakeAgent();
    const run = runAgent(() => a.agent, log, p);
    a.started.resolve();
    await run;
    p.signal('SIGTERM');
    expect(a.calls).toEqual(['start', 'stop SIGTERM']);
    await tick();
    expect(p.exits).toEqual([]); // not before the stop has finished
    a.stopped.resolve();
    await tick();
    expect(p.exits).toEqual([0]);
  });

  it('a second signal during the graceful stop kills the running commands and exits 128 + signo', async () => {
    const p = new FakeProcess();
    const a = fakeAgent();
    const run = runAgent(() => a.agent, log, p);
    a.started.resolve();
    await run;
    p.signal('SIGINT');
    p.signal('SIGTERM');
    expect(a.calls).toEqual(['start', 'stop SIGINT', 'killAllNow']);
    expect(p.exits).toEqual([143]);
  });

  it('a signal during boot: boot finishes, then the graceful stop and exit 0', async () => {
    const p = new FakeProcess();
    const a = fakeAgent();
    const run = runAgent(() => a.agent, log, p);
    p.signal('SIGINT');
    await tick();
    expect(a.calls).toEqual(['start']); // nothing stopped while starting
    a.started.resolve();
    await run;
    expect(a.calls).toEqual(['start', 'stop SIGINT']);
    a.stopped.resolve();
    await tick();
    expect(p.exits).toEqual([0]);
  });

  it('two signals during boot: the second kills at once (SIGINT: 130)', async () => {
    const p = new FakeProcess();
    const a = fakeAgent();
    const run = runAgent(() => a.agent, log, p);
    p.signal('SIGTERM');
    p.signal('SIGINT');
    expect(a.calls).toEqual(['start', 'killAllNow']);
    expect(p.exits).toEqual([130]);
    a.started.resolve();
    await run;
    expect(a.calls).toEqual(['start', 'killAllNow']); // no stop after the exit
  });

  it('a failed stop exits 1, logged', async () => {
    const p = new FakeProcess();
    const a = fakeAgent();
    const errors: unknown[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line)) });
    const run = runAgent(() => a.agent, logger, p);
    a.started.resolve();
    await run;
    p.signal('SIGTERM');
    a.stopped.reject(new Error('journal gone'));
    await tick();
    expect(p.exits).toEqual([1]);
    expect(errors).toMatchObject([{ msg: 'shutdown failed', err: { message: 'journal gone' } }]);
  });

  it('a failed build or start rejects (main says `warren-agent: <message>` and exits 1)', async () => {
    const p = new FakeProcess();
    await expect(
      runAgent(
        () => {
          throw new Error('no key');
        },
        log,
        p,
      ),
    ).rejects.toThrow('no key');
    const a = fakeAgent();
    const run = runAgent(() => a.agent, log, p);
    a.started.reject(new Error('cannot attach'));
    await expect(run).rejects.toThrow('cannot attach');
    expect(p.exits).toEqual([]);
  });
});
