import { CommanderError } from 'commander';
import { UsageError } from './cli.errors';
import { ApiError, ControllerUnreachableError } from './http/http.errors';

/** Exit statuses; documented in `warren --help` and the README, and they never change meaning. */
export const EXIT = {
  /** every host succeeded (`run` without `--wait`: the task was accepted) */
  OK: 0,
  /** at least one host did not succeed */
  NOT_ALL_SUCCEEDED: 1,
  /** bad flags or values, refused by the API (400), not allowed for this token (403), unknown task (404) */
  USAGE: 2,
  /** controller unreachable, timed out, or answered 5xx */
  UNREACHABLE: 3,
  /** `check` without `--wait` on a task still running */
  STILL_RUNNING: 4,
  /** no valid API token: none given, unknown or revoked (the controller answered 401) */
  UNAUTHENTICATED: 5,
  /** a bug in warren itself */
  INTERNAL: 70,
} as const;

/** The exit-status section of `warren --help`. */
export const EXIT_STATUS_HELP = `
Exit status:
  ${EXIT.OK}  every host succeeded (run without --wait: the task was accepted)
  ${EXIT.NOT_ALL_SUCCEEDED}  at least one host did not succeed
  ${EXIT.USAGE}  usage error: bad flags or values, refused by the API (400), not allowed for
     this token (403: role too low, or hosts outside its patterns), unknown task (404)
  ${EXIT.UNREACHABLE}  the controller cannot be reached, did not answer in time, or answered 5xx
  ${EXIT.STILL_RUNNING}  check without --wait: the task is still running
  ${EXIT.UNAUTHENTICATED}  no valid API token (401): none given, unknown or revoked
`;

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
