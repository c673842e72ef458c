import { WARREN_VERSION } from '@warren/protocol';

/* Replaced by webpack's DefinePlugin in the agent's build (scripts/agent-bundle.webpack.js); undefined when run from source. */
declare const WARREN_BUILD_COMMIT: string | undefined;
declare const WARREN_BUILD_VERSION: string | undefined;

/** What the running agent was built from, as its build stamped it. */
export interface BuildStamp {
  /** package.json's version at build time; {@link WARREN_VERSION} when run from source */
  version: string;
  /** short commit id, `-dirty` appended when the tree had uncommitted changes; `unknown` from source or outside git */
  commit: string;
}

/** This agent's build stamp. */
export const BUILD_STAMP: BuildStamp = {
  version: typeof WARREN_BUILD_VERSION === 'string' ? WARREN_BUILD_VERSION : WARREN_VERSION,
  commit: typeof WARREN_BUILD_COMMIT === 'string' ? WARREN_BUILD_COMMIT : 'unknown',
};

/** What `warren-agent --version` prints: `0.1.0 (commit 1a2b3c4d5e6f)`. */
export function versionLine(stamp: BuildStamp = BUILD_STAMP): string {
  return `${stamp.version} (commit ${stamp.commit})`;
}
