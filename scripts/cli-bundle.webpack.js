// The CLI's webpack build, applied by webpack.config.js to `nest build cli`. `warren` starts once
// per operator command, so what it loads and runs before it reads its arguments is paid every time
// (docs/performance.md, "CLI start"). Three things keep it small:
// - TypeScript emits ES modules for this build only (ts-loader's `compilerOptions`), so webpack can
//   drop what the CLI never uses of a library's index (`usedExports`) and join the modules into one
//   scope (`concatenateModules`) instead of a function and an exports object each;
// - our libraries are declared free of side effects at import (`sideEffects: false` for libs/):
//   importing `@warren/protocol` for a state list no longer loads its codec and signing code;
// - its two packages (commander, eventsource-parser) are bundled too: no node_modules lookups at start.
const path = require('node:path');

/** Turns Nest's webpack options for the CLI into the build described above. */
function cliBundle(options, root) {
  const libs = path.join(root, 'libs') + path.sep;
  return {
    ...options,
    externals: [], // node_modules bundled; Node's built-ins stay external (externalsPresets.node)
    module: {
      ...options.module,
      rules: [
        ...options.module.rules.map((rule) => withEsModules(rule)),
        { test: (file) => file.startsWith(libs), sideEffects: false },
      ],
    },
    optimization: {
      ...options.optimization,
      usedExports: true,
      sideEffects: true,
      concatenateModules: true,
      providedExports: true,
    },
  };
}

/** The ts-loader rule of Nest's defaults, emitting ES modules (the rest of the tsconfig unchanged). */
function withEsModules(rule) {
  if (!Array.isArray(rule.use)) return rule;
  return {
    ...rule,
    use: rule.use.map((u) =>
      u.loader === 'ts-loader'
        ? { ...u, options: { ...u.options, compilerOptions: { ...u.options?.compilerOptions, module: 'es2022' } } }
        : u,
    ),
  };
}

module.exports = { cliBundle };
