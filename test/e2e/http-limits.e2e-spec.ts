import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, Warren } from './harness';

const BAD = 'wrn_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** A raw connection: what the server sent, and when it closed (ms after `open`). */
function rawClient(url: string): { socket: Socket; received: () => string; closedAfter: Promise<number> } {
  const u = new URL(url);
  const started = Date.now();
  const socket = connect(Number(u.port), u.hostname);
  let text = '';
  socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
  socket.on('error', () => undefined);
  const closedAfter = new Promise<number>((r) => socket.on('close', () => r(Date.now() - started)));
  return { socket, received: () => text, closedAfter };
}

/** Writes `text` one byte every `everyMs` until done or the socket closes. */
async function dribble(socket: Socket, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(ch);
    await sleep(everyMs);
  }
}

describe('hostile clients: guessing tokens, and holding connections open', () => {
  const w = new Warren();

  beforeAll(async () => {
    // Short limits so the test is quick; the defaults are 10 s and 60 s.
    await w.startController({ WARREN_HTTP_HEADERS_TIMEOUT: '1s', WARREN_HTTP_REQUEST_TIMEOUT: '2s' });
    await w.startAgent('slow1');
  });
  afterAll(() => w.teardown());

  it('refuses token guessing past a burst of 20 with 429 and Retry-After, audited once a minute with a count, and the CLI says so (exit 3)', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 200; i++) {
      const r = await w.api('GET', '/v1/hosts', undefined, { token: BAD });
      statuses.push(r.status);
      retryAfter ??= r.headers.get('retry-after');
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    // 200 requests take far less than the ~18 s it would take to refill 180 failures at 10/s.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(150);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // While the guessing goes on from the same address (the bucket refills every 100 ms), even a
    // valid token is refused, by the API and so by the CLI: a guesser learns nothing from which
    // answer differs. Four guessers at once, so that the token a refill adds is spent at once even
    // on a loaded machine (a request sent >100 ms after the last guess finds a token: 200).
    let guessing = true;
    const guesser = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (guessing) await w.api('GET', '/v1/hosts', undefined, { token: BAD });
      }),
    );
    await sleep(300);
    const valid = await w.api('GET', '/v1/hosts');
    // A CLI call is a process start away from the last guess: a refill may be left for it now and
    // then (CI, loaded, saw one get through). Up to 5 calls: refused ones say so and exit 3.
    const clis: { code: number | null; stderr: string }[] = [];
    while (clis.length < 5 && clis.at(-1)?.code !== 3) clis.push(await w.cli(['hosts']));
    guessing = false;
    await guesser;
    expect(valid.status).toBe(429);
    expect(clis.every((c) => c.code === 0 || c.code === 3)).toBe(true);
    const cli = clis.at(-1)!;
    expect(cli.code).toBe(3);
    expect(cli.stderr).toMatch(/refuses requests from this address for now \(HTTP 429.*retry in \d+ s/);

    await sleep(2100); // the bucket refills (10/s, burst 20)
    const audit = (await w.api('GET', '/v1/audit?decision=denied&limit=1000')).body.records as { reason: string }[];
    // Repeated refusals are one record per address and reason a minute, the rest counted and
    // written when the minute ends (docs/security-api.md): within it, the first of each.
    expect(audit.filter((r) => /too many failed authentications/.test(r.reason))).toHaveLength(1);
    expect(audit.filter((r) => r.reason === 'unknown token')).toHaveLength(1);
    // The access log (here at debug) wrote those requests, never their tokens nor the header.
    expect(w.controller!.output).toMatch(/"statusCode":429/);
    expect(w.controller!.output).not.toMatch(/"authorization"/i);
    expect(w.controller!.output).not.toContain(BAD.slice(4));
    expect(w.controller!.output).not.toContain(w.token.slice(4));
  });

  it('closes a connection whose headers come slower than the headers timeout (408)', async () => {
    const c = rawClient(w.url);
    void dribble(c.socket, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`, 100);
    const closedAfterMs = await c.closedAfter;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*"the request was not received in time/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(1000);
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('closes a connection whose body comes slower than the request timeout (408)', async () => {
    const c = rawClient(w.url);
    const body = JSON.stringify({ command: 'true', hosts: ['slow1'] });
    c.socket.write(
      `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${w.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    void dribble(c.socket, body, 200);
    const closedAfterMs = await c.closedAfter;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(2000);
    expect(closedAfterMs).toBeLessThan(4500);
  });

  it('does not cut an SSE stream or a long poll that lasts longer than the request timeout', async () => {
    const task = await w.api('POST', '/v1/tasks', { command: 'sleep 3.5; echo done', hosts: ['slow1'] });
    const started = Date.now();
    const [events, poll] = await Promise.all([
      fetch(`${w.url}/v1/tasks/${task.body.id}/events`, { headers: { authorization: `Bearer ${w.token}` } }).then((r) =>
        r.text(),
      ),
      w.api('GET', `/v1/tasks/${task.body.id}?waitMs=20000`),
    ]);
    expect(Date.now() - started).toBeGreaterThan(3000);
    expect(events).toMatch(/event: completed/);
    expect(events).toMatch(/done/);
    expect(poll.body).toMatchObject({ state: 'completed', results: [{ state: 'succeeded' }] });
  });
});
