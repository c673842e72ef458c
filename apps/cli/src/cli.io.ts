/** Where the CLI writes: `process.stdout` / `process.stderr`, or a buffer in tests. */
export interface OutStream {
  /** text, or bytes written as they are (`check --stdout`) */
  write(chunk: string | Uint8Array): unknown;
  /** true on a terminal: colors and progress notes are allowed */
  isTTY?: boolean;
  /** terminal width, for help text */
  columns?: number;
}

/** Everything the CLI touches of its process: two output streams and the environment. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
}

/** Colors only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorEnabled(io: CliIo): boolean {
  return io.stdout.isTTY === true && !io.env.NO_COLOR;
}
