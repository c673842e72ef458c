import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../support/private-broker';
import { sleep, until, Warren } from '../harness';
import { agentEnv, HOST_VAR } from './ledger';

/** The restart report's reason (apps/agent/src/inbox/inbox.recovery.ts). */
const INTERRUPTED = /the agent stopped while it ran \(restarted since\): outcome unknown/;
/** The deadline sweeper's reason for `lost`. */
const LOST_BY_DEADLINE = /sent no result by its deadline/;

interface Row {
  host: string;
  state: string;
  exitCode: number | null;
  reason: string | null;
}

/**
 * Issue 12, items 1 and 9: a command that may have run is never reported as not delivered, and a
 * result the broker never confirmed is not lost with its agent. Real agents, a private broker.
 */
describe('faults: a command that takes its agent down, and a result not yet confirmed when its agent dies', () => {
  let broker: PrivateBroker;
  let w: Warren;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    await Promise.all(['h1', 'h2', 'h3'].map((h) => w.startAgent(h, agentEnv(h), ['--amqp-heartbeat', '1'])));
  }, 120_000);
  afterAll(async () => {
    for (const pid of (await broker?.pids()) ?? []) process.kill(pid, 'SIGCONT');
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  /** Polls the task every 50 ms until `done`, recording every state each host was seen in. */
  async function watch(id: string, done: (rows: Row[]) => boolean, ms: number) {
    const seen = new Map<string, Set<string>>();
    let rows: Row[] = [];
    await until(
      async () => {
        rows = (await w.api('GET', `/v1/tasks/${id}`)).body.results as Row[];
        for (const r of rows) seen.set(r.host, (seen.get(r.host) ?? new Set()).add(r.state));
        return done(rows);
      },
      ms,
      50,
    );
    return { rows, seen: (h: string) => [...(seen.get(h) ?? [])] };
  }

  it('`kill -9 $PPID; echo ran >> side`: never undelivered; `lost` by its deadline where the agent stays down, `lost` by the restarted agent’s report where it comes back, run once', async () => {
    const side = join(w.dir, 'side-kill-ppid');
    const command = `kill -9 $PPID; echo ran-$${HOST_VAR} >> ${side}`;
    const post = await w.api('POST', '/v1/tasks', {
      command,
      hosts: ['h1', 'h2'],
      deliveryTimeoutMs: 15_000,
      timeoutMs: 3_000,
      killGraceMs: 0,
    });
    expect(post.status).toBe(202);
    const id = post.body.id as string;
    await Promise.all(['h1', 'h2'].map((h) => w.agents.get(h)!.exited)); // the command took both agents down
    await until(() => existsSync(side) && readFileSync(side, 'utf8').split('\n').length >= 3, 5_000);
    // h1 comes back (its command may be redelivered too: the ack may not have reached the broker); h2 stays down.
    const h1 = await w.startAgent('h1', agentEnv('h1'), ['--amqp-heartbeat', '1']);
    const terminal = (r: Row) => r.state !== 'pending' && r.state !== 'running';
    const { rows, seen } = await watch(
      id,
      (rs) => rs.every(terminal) && (rs[0].state !== 'lost' || INTERRUPTED.test(rs[0].reason ?? '')),
      25_000,
    );
    expect(rows.map((r) => [r.host, r.state])).toEqual([
      ['h1', 'lost'],
      ['h2', 'lost'],
    ]);
    expect(rows.find((r) => r.host === 'h2')!.reason).toMatch(LOST_BY_DEADLINE);
    for (const h of ['h1', 'h2']) expect(seen(h).filter((s) => s === 'undelivered' || s === 'cancelled')).toEqual([]);
    await h1.waitFor(/"reporting an invocation this agent stopped before it ended"/, 5_000);
    // Past the delivery deadline too: still lost, never undelivered.
    await sleep(1_000);
    const late = (await w.api('GET', `/v1/tasks/${id}`)).body;
    expect(late.state).toBe('completed');
    expect(late.results.map((r: Row) => r.state)).toEqual(['lost', 'lost']);
    // Ran once on each host: the restarted agent refuses any copy of it.
    expect(readFileSync(side, 'utf8').trim().split('\n').sort()).toEqual(['ran-h1', 'ran-h2']);
  }, 60_000);

  it('a result the frozen broker never confirmed survives a SIGKILL of its agent: re-sent after the restart, it ends with its real exit status, not lost', async () => {
    const go = join(w.dir, 'go-h3');
    const post = await w.api('POST', '/v1/tasks', {
      command: `while [ ! -e ${go} ]; do sleep 0.05; done; echo finished; exit 7`,
      hosts: ['h3'],
      // Room for the freeze, the SIGKILL and the restart on a loaded machine before the `lost`
      // deadline (timeout + 1 s grace after it started): with 4 s a slow restart read `lost`.
      timeoutMs: 12_000,
      killGraceMs: 0,
    });
    const id = post.body.id as string;
    await watch(id, (rs) => rs[0].state === 'running', 10_000);
    const lostDeadline = Date.now() + 12_000 + 1_000;
    const agent = w.agents.get('h3')!;
    const from = agent.output.length;
    const frozen = await broker.pids();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      // The agent notices the silent broker (heartbeat 1 s), then the command ends: its result has nowhere to go.
      await until(() => agent.output.slice(from).includes('"amqp connection lost; reconnecting"'), 15_000);
      writeFileSync(go, '');
      await until(() => agent.output.slice(from).includes('"invocation finished"'), 5_000);
      await agent.stop('SIGKILL');
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    const restarted = await w.startAgent('h3', agentEnv('h3'), ['--amqp-heartbeat', '1']);
    const { rows } = await watch(id, (rs) => rs[0].state !== 'running', 20_000);
    expect(rows[0]).toMatchObject({ state: 'failed', exitCode: 7 });
    const t = (await w.api('GET', `/v1/tasks/${id}`)).body;
    expect(t.results[0]).toMatchObject({ state: 'failed', exitCode: 7, stdout: 'finished\n' });
    expect(restarted.output).toMatch(/"resent":1[^\n]*"sending replies journaled before the restart"/);
    // Past the `lost` deadline (12 s + 1 s grace): the real outcome stands.
    await sleep(Math.max(0, lostDeadline - Date.now()) + 500);
    expect((await w.api('GET', `/v1/tasks/${id}`)).body.results[0]).toMatchObject({ state: 'failed', exitCode: 7 });
  }, 90_000);
});
