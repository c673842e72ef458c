// The agent's webpack build, applied by webpack.config.js to `nest build agent`: one file,
// dist/apps/agent/main.js, holding the agent and every package it uses, so that it runs with
// nothing but Node installed (`npm run pack:agent` ships it as warren-agent.js). Beside it,
// bundled-packages.json lists those packages (name, version, licence, directory) for the
// artifact's THIRD-PARTY-LICENSES.txt, and the build stamps the commit `warren-agent --version` prints.
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');
const TerserPlugin = require('terser-webpack-plugin');

/** Name of the asset listing the bundled packages, written next to main.js. */
const PACKAGES_ASSET = 'bundled-packages.json';

/**
 * The commit stamped into the build: `WARREN_BUILD_COMMIT` when set (a build outside a git
 * checkout), else `git rev-parse --short=12 HEAD`, with `-dirty` when the tree has uncommitted
 * changes; `unknown` without git.
 */
function buildCommit(root) {
  if (process.env.WARREN_BUILD_COMMIT) return process.env.WARREN_BUILD_COMMIT;
  const git = (...args) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const sha = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** The directory of the package a bundled file belongs to (`…/node_modules/@scope/name`), or null for our own code. */
function packageDir(file) {
  const parts = file.split(path.sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return null;
  const depth = parts[i + 1]?.startsWith('@') ? 3 : 2;
  return parts.slice(0, i + depth).join(path.sep);
}

/** Emits {@link PACKAGES_ASSET} at `asset` (a path in the output directory): every package with a file in the bundle, by name. */
class BundledPackagesPlugin {
  constructor(asset) {
    this.asset = asset;
  }

  apply(compiler) {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap('BundledPackagesPlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'BundledPackagesPlugin', stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          const dirs = new Set();
          for (const m of compilation.modules) {
            for (const inner of m.modules ?? [m]) {
              const dir = inner.resource && packageDir(inner.resource);
              if (dir) dirs.add(dir);
            }
          }
          const packages = [...dirs].map((dir) => {
            const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
            const license = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'UNKNOWN');
            return { name: pkg.name, version: pkg.version, license, dir };
          });
          packages.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
          compilation.emitAsset(this.asset, new sources.RawSource(`${JSON.stringify(packages, null, 2)}\n`));
        },
      );
    });
  }
}

/** Turns Nest's webpack options for the agent into the self-contained build described above. */
function agentBundle(options, webpack, root) {
  const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  return {
    ...options,
    externals: [], // node_modules too; Node's built-ins stay external (externalsPresets.node)
    optimization: {
      ...options.optimization,
      // No comments (the licences travel in THIRD-PARTY-LICENSES.txt), and only ASCII: V8 keeps a
      // source holding any other character at two bytes per character for the life of the process.
      // Idle RSS ~4 MiB lower (docs/performance.md); names and line breaks kept for stack traces
      // (no compression, no mangling, no indentation).
      minimize: true,
      minimizer: [
        new TerserPlugin({
          extractComments: false,
          terserOptions: {
            compress: false,
            mangle: false,
            format: { comments: false, ascii_only: true, beautify: true, indent_level: 0 },
          },
        }),
      ],
    },
    plugins: [
      ...options.plugins,
      new webpack.DefinePlugin({
        WARREN_BUILD_COMMIT: JSON.stringify(buildCommit(root)),
        WARREN_BUILD_VERSION: JSON.stringify(version),
      }),
      // beside main.js: Nest's output.filename is `apps/agent/main.js` under dist/
      new BundledPackagesPlugin(path.posix.join(path.posix.dirname(options.output.filename), PACKAGES_ASSET)),
    ],
  };
}

module.exports = { agentBundle, buildCommit, PACKAGES_ASSET };
