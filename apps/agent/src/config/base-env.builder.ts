/** Prefix of the agent's own settings; none of them is passed on to commands. */
const AGENT_ENV_PREFIX = /^WARREN_/i;

/**
 * The environment every command starts from: the agent's own environment minus every `WARREN_*`
 * variable, so that the agent's settings and secrets (broker URL with its password, keys) never
 * reach the commands it runs. A command's own `env` is laid over this.
 */
export function buildBaseEnv(env: Readonly<Record<string, string | undefined>>): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !AGENT_ENV_PREFIX.test(name)) out[name] = value;
  }
  return Object.freeze(out);
}
