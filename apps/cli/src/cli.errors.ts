/** The user asked for something the CLI cannot do as written (bad flag value, extra argument, …). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
