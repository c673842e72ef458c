#!/usr/bin/env bash
# Runs the unit suite and the smoke end-to-end spec (test/e2e/smoke.e2e-spec.ts: a controller, two
# agents, tasks through the CLI) on other Node.js majors than the machine's, after the full suite
# ran on the machine's Node (`.ci/run`). Usage: scripts/ci-node-matrix.sh [major…] (default: 24 22).
#
# Each Node comes from the npm registry, never from nodejs.org: the `node-<os>-<arch>` package (the
# one the `node` package installs) holds the binary and the headers (`include/node`). The native
# addon better-sqlite3 is rebuilt against those headers (`npm_config_nodedir`) for each Node's ABI,
# kept in a cache per ABI and better-sqlite3 version (~/.cache/warren/node-matrix, or
# $WARREN_NODE_MATRIX_CACHE), and the machine's own build is put back on exit, whatever happens.
# Needs a prior `npm ci` and `npm run build` (the spec runs the built apps), a broker and PostgreSQL
# (as `npm test`). Prints the seconds each Node took; exits non-zero on the first failure.
#
# `--prepare` only fetches each Node and builds its addon into the cache, in a private copy of
# better-sqlite3's sources (node_modules is not touched, so it can run beside the suite: `.ci/run`
# runs it niced while the full suite runs on the machine's Node, and the matrix after it then only tests).
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(…) stops the script too
cd "$(dirname "$0")/.."

prepare=false
if [ "${1:-}" = --prepare ]; then
  prepare=true
  shift
fi
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(24 22)
for major in "${majors[@]}"; do
  [[ $major =~ ^[0-9]+$ ]] || { echo "ci-node-matrix: '$major' is not a Node.js major version (e.g. 24)" >&2; exit 2; }
done
cache="${WARREN_NODE_MATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warren/node-matrix}"
mkdir -p "$cache"

[ "$(uname -s)" = Linux ] || { echo "ci-node-matrix: runs on Linux only (node-linux-<arch> packages)" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "ci-node-matrix: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
[ -f "$addon" ] || { echo "ci-node-matrix: $addon missing: run npm ci first" >&2; exit 1; }
$prepare || [ -f dist/apps/controller/main.js ] || { echo "ci-node-matrix: dist/ missing: run npm run build first" >&2; exit 1; }
bs3_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
# npm's own node-gyp (npm ships it for install scripts).
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || { echo "ci-node-matrix: npm's node-gyp not found at $node_gyp" >&2; exit 1; }

# Puts file $1 at the addon's place by a rename: a process that has the old one loaded keeps it
# (overwriting a loaded .node in place can crash it), and a rebuild that deleted build/ is undone.
place_addon() {
  mkdir -p "$(dirname "$addon")"
  cp "$1" "$addon.tmp"
  mv -f "$addon.tmp" "$addon"
}
if ! $prepare; then
  own_addon=$(mktemp)
  cp "$addon" "$own_addon"
  restore() { place_addon "$own_addon" && rm -f "$own_addon"; }
  trap restore EXIT
fi

# Builds better-sqlite3 for the Node in $1 (headers in $1/include/node) into file $2, in a private
# copy of its sources: no prebuilt download, nothing fetched from nodejs.org, node_modules untouched.
build_addon() {
  local dir=$1 out=$2 src
  src=$(mktemp -d)
  cp -a node_modules/better-sqlite3/binding.gyp node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
    node_modules/better-sqlite3/package.json "$src/"
  (cd "$src" && PATH="$dir/bin:$PATH" "$dir/bin/node" "$node_gyp" rebuild --release --nodedir="$dir" --loglevel=warn >/dev/null)
  cp "$src/build/Release/better_sqlite3.node" "$out.tmp" && mv -f "$out.tmp" "$out"
  rm -rf "$src"
}

# Sets node_dir to the newest node-linux-<arch> of major $1, unpacked once into the cache. When the
# registry does not answer, the newest one of that major already in the cache is used, said on stderr.
fetch_node() {
  local major=$1 version tgz tmp
  if ! version=$(npm view "node-linux-$arch@$major" version --json 2>/dev/null | node -e '
    let v = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (v.error) process.exit(1);
    v = [].concat(v).sort((a, b) => { const p = (x) => x.split(".").map(Number); const [x, y] = [p(a), p(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; });
    process.stdout.write(v.at(-1));'); then
    node_dir=$(ls -d "$cache/node-$major".*"-linux-$arch" 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$node_dir" ] || { echo "ci-node-matrix: node-linux-$arch@$major not found in the npm registry, none cached" >&2; exit 1; }
    echo "ci-node-matrix: the npm registry did not answer; using the cached $(basename "$node_dir")" >&2
    return
  fi
  [[ $version =~ ^$major\.[0-9]+\.[0-9]+$ ]] || { echo "ci-node-matrix: node-linux-$arch@$major gave '$version'" >&2; exit 1; }
  node_dir="$cache/node-$version-linux-$arch"
  if [ ! -x "$node_dir/bin/node" ]; then
    tmp="$node_dir.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    tgz=$(cd "$tmp" && npm pack "node-linux-$arch@$version" --silent)
    tar -xzf "$tmp/$tgz" -C "$tmp" --strip-components=1
    rm -f "$tmp/$tgz"
    [ -x "$tmp/bin/node" ] && [ -d "$tmp/include/node" ] || { echo "ci-node-matrix: node-linux-$arch@$version has no bin/node or include/node" >&2; exit 1; }
    rm -rf "$node_dir" && mv "$tmp" "$node_dir"
  fi
  # Older patch releases of this major are not needed again.
  for old in "$cache/node-$major".*"-linux-$arch"; do
    [ "$old" = "$node_dir" ] || rm -rf "$old"
  done
}

for major in "${majors[@]}"; do
  start=$SECONDS
  fetch_node "$major"
  node_bin="$node_dir/bin/node"
  version=$("$node_bin" --version)
  # One build per ABI (NODE_MODULE_VERSION): every patch release of a major shares it.
  abi=$("$node_bin" -p process.versions.modules)
  built="$cache/better-sqlite3-$bs3_version-abi$abi-$arch.node"
  echo "== node $version, ABI $abi ($node_dir)"
  [ -f "$built" ] || build_addon "$node_dir" "$built"
  if $prepare; then
    echo "== node $version: addon ready in $((SECONDS - start)) s"
    continue
  fi
  place_addon "$built"
  "$node_bin" -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
  PATH="$node_dir/bin:$PATH" "$node_bin" node_modules/vitest/vitest.mjs run --project unit
  PATH="$node_dir/bin:$PATH" "$node_bin" node_modules/vitest/vitest.mjs run --project e2e test/e2e/smoke.e2e-spec.ts
  echo "== node $version: unit suite and smoke spec passed in $((SECONDS - start)) s"
done
