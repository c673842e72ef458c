import { LabelError, parseLabelList } from '@warren/api';
import { ConfigError } from '@warren/runtime';

/**
 * Parses `--labels k=v,k2=v2` (empty = none) by the one label rule in `@warren/api`. Throws
 * {@link ConfigError} naming the bad pair; the config loader puts the setting's names in front.
 */
export function parseLabels(text: string): Record<string, string> {
  try {
    return parseLabelList(text);
  } catch (err) {
    if (!(err instanceof LabelError)) throw err;
    throw new ConfigError(`expects k=v pairs separated by commas: ${err.message}`);
  }
}
