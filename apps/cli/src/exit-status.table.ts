import { CommanderError } from 'commander';
import { UsageError } from './cli.errors';
import { ApiError, ControllerUnreachableError } from './http/http.errors';

/**
 * The one table of exit statuses: `EXIT` is read from it, and so are the exit-status section of
 * `warren --help` and the README's table (a spec holds both to every row). A status never changes
 * meaning; a new one is a new row.
 */
export const EXIT_STATUSES = [
  {
    name: 'OK',
    code: 0,
    meaning: 'every host succeeded (run without --wait: the task was accepted; --dry-run: the target resolved)',
  },
  { name: 'NOT_ALL_SUCCEEDED', code: 1, meaning: 'at least one host did not succeed' },
  {
    name: 'USAGE',
    code: 2,
    meaning:
      'usage error: bad flags or values (a command over 65,536 bytes, a relative --cwd), refused by the API (400, 422: nothing matched), not allowed for this token (403: role too low, or hosts outside its patterns), unknown task (404), a large run not confirmed',
  },
  {
    name: 'UNREACHABLE',
    code: 3,
    meaning:
      'the controller cannot be reached, did not answer in time, answered 5xx (e.g. no broker), or 429 (too many failed logins from this address: retry later)',
  },
  { name: 'STILL_RUNNING', code: 4, meaning: 'check without --wait: the task is still running' },
  { name: 'UNAUTHENTICATED', code: 5, meaning: 'no valid API token (401): none given, unknown or revoked' },
  { name: 'INTERNAL', code: 70, meaning: "a bug in warren itself (the stack is printed); never a host's outcome" },
  {
    name: 'INTERRUPTED',
    code: 130,
    meaning:
      'Ctrl-C (128 + SIGINT, as shells report it) and detach: a task already sent goes on (see it with warren check)',
  },
] as const;

type ExitRow = (typeof EXIT_STATUSES)[number];

/** Exit statuses by name (`EXIT.USAGE` is 2), from {@link EXIT_STATUSES}. */
export const EXIT = Object.fromEntries(EXIT_STATUSES.map((r) => [r.name, r.code])) as {
  readonly [R in ExitRow as R['name']]: R['code'];
};

/** `text` cut into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** The exit-status section of `warren --help`: every row of {@link EXIT_STATUSES}, wrapped at 100 columns. */
export const EXIT_STATUS_HELP =
  '\nExit status:\n' +
  EXIT_STATUSES.map((r) =>
    wrap(r.meaning, 92)
      .map((l, i) => `  ${(i === 0 ? String(r.code) : '').padEnd(5)}${l}`)
      .join('\n'),
  ).join('\n') +
  '\n';

/** Where warren looks for the token, for `--help` and for the advice after a 401. */
export const TOKEN_HELP = `
API token (every command needs one): --token <token>, else the WARREN_TOKEN variable, else the
first line of ~/.warren/token (keep it mode 0600). An admin creates tokens on the controller host:
  warren-controller token create --name <you> --role viewer|operator|admin [--hosts 'web*' …]
`;

/** How one kind of error ends the program: its exit status and the lines for stderr. */
interface ErrorRule {
  matches(err: unknown): boolean;
  code(err: unknown): number;
  /** diagnostics, each printed as `warren: <line>` */
  lines(err: unknown): string[];
}

const isApi5xx = (err: unknown) => err instanceof ApiError && err.status >= 500;

/** The one table from errors to exit statuses; the first matching rule wins. */
const RULES: ErrorRule[] = [
  // Commander has already printed its message (or the help / version text).
  {
    matches: (e) => e instanceof CommanderError,
    code: (e) => ((e as CommanderError).exitCode === 0 ? EXIT.OK : EXIT.USAGE),
    lines: () => [],
  },
  { matches: (e) => e instanceof UsageError, code: () => EXIT.USAGE, lines: (e) => [(e as Error).message] },
  {
    matches: (e) => e instanceof ControllerUnreachableError,
    code: () => EXIT.UNREACHABLE,
    lines: (e) => [(e as Error).message],
  },
  {
    matches: isApi5xx,
    code: () => EXIT.UNREACHABLE,
    lines: (e) => {
      const err = e as ApiError;
      return [`the controller at ${err.url} is unavailable (HTTP ${err.status}): ${err.messages.join('; ')}`];
    },
  },
  {
    matches: (e) => e instanceof ApiError && e.status === 429,
    code: () => EXIT.UNREACHABLE,
    lines: (e) => {
      const err = e as ApiError;
      const wait = err.retryAfterSec === undefined ? 'a moment' : `${err.retryAfterSec} s`;
      return [
        `the controller at ${err.url} refuses requests from this address for now (HTTP 429: too many failed authentications from it); retry in ${wait}, and check the token`,
      ];
    },
  },
  {
    matches: (e) => e instanceof ApiError && e.status === 401,
    code: () => EXIT.UNAUTHENTICATED,
    lines: (e) => {
      const err = e as ApiError;
      const advice = err.tokenSent
        ? 'the token given was refused (unknown or revoked): ask an admin for a new one'
        : 'no API token given: pass one with --token, the WARREN_TOKEN variable, or the file ~/.warren/token (mode 0600)';
      return [
        `${advice}; an admin creates one on the controller host with: warren-controller token create --name <you> --role operator`,
        ...err.messages.map((m) => `controller said: ${m.replace(/; create one on the controller host with .*$/, '')}`),
      ];
    },
  },
  {
    matches: (e) => e instanceof ApiError && e.status === 403,
    code: () => EXIT.USAGE,
    lines: (e) => (e as ApiError).messages.map((m) => `not allowed: ${m}`),
  },
  { matches: (e) => e instanceof ApiError, code: () => EXIT.USAGE, lines: (e) => (e as ApiError).messages },
];

/** Exit status and stderr lines for an error that ended a command; unknown errors are bugs. */
export function exitStatusOf(err: unknown): { code: number; lines: string[] } {
  const rule = RULES.find((r) => r.matches(err));
  if (rule) return { code: rule.code(err), lines: rule.lines(err) };
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { code: EXIT.INTERNAL, lines: [`internal error (please report it): ${text}`] };
}
