import { spawn } from 'node:child_process';

/**
 * Runs a full garbage collection in another Node.js process started with
 * `--inspect=127.0.0.1:<port>`, through the inspector's Chrome DevTools Protocol
 * (`HeapProfiler.collectGarbage`, https://chromedevtools.github.io/devtools-protocol/tot/HeapProfiler/).
 * Resolves once that process has answered, i.e. after the collection; afterwards its
 * `process.memoryUsage().heapUsed` is what is still reachable, not what V8 had not yet swept.
 *
 * The WebSocket client runs in a child `node` (the global `WebSocket` needs `--experimental-websocket`
 * on Node 20; it is there by default from Node 22).
 *
 * @throws when the inspector does not answer within `timeoutMs` (default 30 s)
 */
export async function forceGc(inspectorPort: number, timeoutMs = 30_000): Promise<void> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on 127.0.0.1:${inspectorPort}`);
  const script = `
    const ws = new WebSocket(${JSON.stringify(url)});
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (m) => { if (JSON.parse(m.data).id === 1) { ws.close(); process.exit(0); } };
    ws.onerror = (e) => { console.error(String(e.message ?? e)); process.exit(1); };
  `;
  const flags =
    typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? [] : ['--experimental-websocket'];
  await new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, [...flags, '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new Error(`HeapProfiler.collectGarbage on 127.0.0.1:${inspectorPort} failed (${code}): ${err}`));
    });
  });
}
