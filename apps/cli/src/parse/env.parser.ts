import { ENV_NAME_PATTERN } from '@warren/protocol';

/**
 * Parses one `--env K=V` into its name and value. The value is everything after the first `=`
 * and may be empty or contain `=`; the name must be a valid environment variable name.
 * Throws an Error saying what is wrong otherwise.
 */
export function parseEnvAssignment(text: string): [name: string, value: string] {
  const eq = text.indexOf('=');
  if (eq < 0) throw new Error(`expected NAME=VALUE, got ${JSON.stringify(text)}`);
  const name = text.slice(0, eq);
  if (!ENV_NAME_PATTERN.test(name))
    throw new Error(
      `${JSON.stringify(name)} is not a valid variable name (letters, digits and _, not starting with a digit)`,
    );
  return [name, text.slice(eq + 1)];
}

/** Adds one `--env K=V` to what earlier ones gave; a later value for the same name wins. */
export function collectEnv(text: string, previous: Record<string, string> | undefined): Record<string, string> {
  const [name, value] = parseEnvAssignment(text);
  return { ...previous, [name]: value };
}
