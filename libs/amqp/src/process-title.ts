/**
 * The userinfo password of an amqp://, amqps://, postgres:// or postgresql:// URL anywhere in a
 * word: `amqps://user:` then the password, up to the last `@` before the host (a `/` ends the
 * authority).
 */
const URL_PASSWORD = /((?:amqps?|postgres(?:ql)?):\/\/[^:/@\s]*):[^/\s]*@/gi;
/** A libpq URI's `password` query parameter (`postgres://u@db/x?password=…`), also a password. */
const QUERY_PASSWORD = /(postgres(?:ql)?:\/\/[^\s]*[?&]password=)[^&\s]*/gi;

/**
 * A daemon's command line with the password of every broker or database URL in it replaced by `***`
 * (`--broker amqps://web1:PW@mq` → `--broker amqps://web1:***@mq`), words joined by spaces: the
 * process title to set (`process.title`) so that `ps` and `/proc/<pid>/cmdline`, which every local
 * user can read, show no password. Null when no word holds one (the title is left alone).
 */
export function scrubbedProcessTitle(argv: readonly string[]): string | null {
  let changed = false;
  const words = argv.map((word) => {
    const scrubbed = word.replace(URL_PASSWORD, '$1:***@').replace(QUERY_PASSWORD, '$1***');
    if (scrubbed !== word) changed = true;
    return scrubbed;
  });
  return changed ? words.join(' ') : null;
}

/**
 * Replaces this process's title with {@link scrubbedProcessTitle} of its command line when that
 * holds a broker password. Called first thing at boot; until then (a few ms after exec) the
 * password is visible, which is why `--broker-password-file` is the way to give one.
 */
export function scrubBrokerPasswordFromProcessTitle(): void {
  const title = scrubbedProcessTitle([process.argv0, ...process.argv.slice(1)]);
  if (title !== null) process.title = title;
}
