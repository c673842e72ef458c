import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../support/postgres';
import { TcpProxy } from '../../support/tcp-proxy';
import { Peer } from '../cluster.harness';
import { sleep, until, Warren } from '../harness';

const HOSTS = ['cut1', 'cut2', 'cut3', 'cut4'];

/**
 * One controller cut off from PostgreSQL while another still reaches it. The cut-off one must not
 * hold the results it reads (the shared results queue gives them to either): it puts them back at
 * once and stops taking results until its database answers, so the other stores them before its
 * deadline sweeper judges those invocations `undelivered` or `lost`. Without that, tasks waited on
 * through the healthy controller answered `undelivered` for hosts that had run the command.
 */
describe('faults: one controller cut off from PostgreSQL, the other not', () => {
  const w = new Warren();
  let database: TestDatabase;
  let proxy: TcpProxy;
  let B: Peer;

  beforeAll(async () => {
    database = await freshDatabase('cutoff');
    proxy = await new TcpProxy({ host: '127.0.0.1', port: Number(new URL(database.url).port || 5432) }).start();
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    w.db = viaProxy.toString();
    // A reaches PostgreSQL through the relay; short graces, so a held result would show as a verdict.
    await w.startController({ WARREN_RESULT_GRACE: '1s', WARREN_DELIVERY_GRACE: '1s' });
    w.db = database.url;
    B = await new Peer(w, ['--auto-accept', '--result-grace', '1s', '--delivery-grace', '1s']).start();
    for (const h of HOSTS) await w.startAgent(h);
    await until(
      async () =>
        (await B.api('GET', '/v1/hosts')).body.hosts.filter((h: any) => h.status === 'online').length === HOSTS.length,
      30_000,
    );
  }, 90_000);

  afterAll(async () => {
    await B?.stop('SIGKILL');
    await w.teardown();
    await proxy?.stop();
    await database?.drop();
  });

  it('tasks waited on through the healthy controller all end as they ran, while the other cannot store', async () => {
    await proxy.cut();
    await sleep(500);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        B.api('POST', '/v1/tasks', {
          command: 'echo hi',
          hosts: HOSTS,
          timeoutMs: 1_500,
          deliveryTimeoutMs: 3_000,
          wait: true,
        }),
      ),
    );
    const claims = answers.flatMap((r) =>
      (r.body.results as { host: string; state: string }[]).filter((x) => x.state !== 'succeeded'),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    expect(claims).toEqual([]);
    expect(w.controller!.output).toMatch(/the database is away; this controller takes no results/);
  }, 90_000);

  it('takes results again once its database answers', async () => {
    await proxy.restore();
    await w.controller!.waitFor(/the database answers again: taking results/, 20_000);
    // B gone: every result now goes to A, which must store them.
    await B.stop('SIGTERM');
    const res = await w.api('POST', '/v1/tasks', { command: 'echo back', hosts: HOSTS, wait: true });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { state: string }) => r.state)).toEqual(HOSTS.map(() => 'succeeded'));
  }, 60_000);
});
