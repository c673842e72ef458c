import { runCli } from './cli.program';
import { processInterruptHub } from './commands/interrupt';

// `warren … | head` closes the pipe early: that is the reader's choice, not an error to report.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

void runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin },
  { interrupts: processInterruptHub() },
).then((code) => {
  process.exitCode = code;
});
