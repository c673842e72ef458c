#!/usr/bin/env bash
# Makes sure Node.js 20.19 or later runs here: uses the `node` on PATH when it is recent enough;
# otherwise installs the distribution's `nodejs` (and `npm`) when its candidate version is recent
# enough (Debian 13 ships 20.19); otherwise stops, exit 1, with the exact commands that install the
# current LTS. Exit 0 when a recent enough `node` answers afterwards.
set -euo pipefail

MIN_MAJOR=20
MIN_MINOR=19
LTS_MAJOR=24

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# True when version $1 (`20.19.2`, `v24.1.0`, `20.19.2+dfsg-1`, `1:20.19.2-1`) is at least 20.19.
recent_enough() {
  local v=${1#*:}
  v=${v#v}
  local major=${v%%.*}
  local rest=${v#*.}
  local minor=${rest%%[!0-9]*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

node_version() { node --version 2>/dev/null || true; }

found=$(node_version)
if [ -n "$found" ] && recent_enough "$found"; then
  echo "node: $found"
  exit 0
fi

# The distribution's candidate, from `apt-cache policy nodejs` ("  Candidate: 20.19.2+dfsg-1").
candidate=""
if command -v apt-cache >/dev/null 2>&1; then
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n1)
fi
if [ "$candidate" = "(none)" ]; then candidate=""; fi
if [ -n "$candidate" ] && recent_enough "$candidate"; then
  echo "node: installing the distribution's nodejs $candidate (found: ${found:-none})"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq nodejs npm >/dev/null
  found=$(node_version)
  if [ -n "$found" ] && recent_enough "$found"; then
    echo "node: $found"
    exit 0
  fi
  echo "node: installed nodejs, but \`node --version\` says ${found:-nothing}" >&2
fi

cat >&2 <<EOF
Warren needs Node.js $MIN_MAJOR.$MIN_MINOR or later (found: ${found:-none}); this distribution offers ${candidate:-no nodejs package}${candidate:+, too old}.
Install the current LTS (Node.js $LTS_MAJOR) from NodeSource's Debian/Ubuntu packages, then run this again:
  curl -fsSL https://deb.nodesource.com/setup_$LTS_MAJOR.x -o /tmp/nodesource_setup.sh
  sudo bash /tmp/nodesource_setup.sh
  sudo apt-get install -y nodejs
EOF
exit 1
