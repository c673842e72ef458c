import { type ChildProcess, spawn } from 'node:child_process';

/** A process on a pseudo-terminal: `type` sends keystrokes, `screen` is what it drew (escapes removed). */
export class Terminal {
  raw = '';
  readonly exited: Promise<number | null>;
  private child: ChildProcess;

  constructor(command: string, env: Record<string, string>) {
    // -q quiet, -f flush at once, -e exit with the child's status, -c the command; no typescript file kept.
    // `exec`: script runs the command through $SHELL -c; where that is dash (no SHELL set, as in CI) the
    // shell would stay in the terminal's foreground group, die of the Ctrl-C a test types, and take the
    // pty (and script's exit status, 130) with it. Exec'd, the terminal holds only the program under test.
    this.child = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], {
      env: { ...process.env, ...env, TERM: 'xterm', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (b: Buffer) => (this.raw += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.raw += b.toString()));
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  get screen(): string {
    return this.raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
  }

  type(keys: string): void {
    this.child.stdin!.write(keys);
  }

  /** Waits until the screen, from offset `from`, matches `re`; returns the screen length after the match. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.screen.slice(from));
      if (m) return from + m.index + m[0].length;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${re}; the screen shows:\n${this.screen.slice(from)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
