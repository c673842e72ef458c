/** Where the CLI writes: `process.stdout` / `process.stderr`, or a buffer in tests. */
export interface OutStream {
  /** text, or bytes written as they are (`check --stdout`) */
  write(chunk: string | Uint8Array): unknown;
  /** true on a terminal: colors and progress notes are allowed */
  isTTY?: boolean;
  /** terminal width, for help text */
  columns?: number;
}

/** Where `--stdin -` reads: `process.stdin`, or a stream in tests. */
export interface InStream extends NodeJS.ReadableStream {
  /** true on a terminal: `--stdin -` is refused (a person would be typing the bytes blind) */
  isTTY?: boolean;
}

/** Everything the CLI touches of its process: two output streams, standard input and the environment. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  /** standard input, for `--stdin -`; absent where there is none to read (a line of `warren shell`) */
  stdin?: InStream;
}

/** Colors only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorEnabled(io: CliIo): boolean {
  return io.stdout.isTTY === true && !io.env.NO_COLOR;
}
