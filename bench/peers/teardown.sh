#!/usr/bin/env bash
# Undoes bench/peers/setup.sh: stops its sshd (by its pid file) and removes
# bench/peers/.state/. The installed Debian packages stay. Safe to run twice.
set -Eeuo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
STATE="$PEERS_DIR/.state"

die() { echo "bench/peers/teardown.sh: $*" >&2; exit 1; }

[[ -d "$STATE" ]] || exit 0

if [[ -s "$STATE/sshd.pid" ]]; then
  pid="$(<"$STATE/sshd.pid")"
  # Only the sshd that setup.sh started: its command line names our config.
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/sshd_config"; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    kill -0 "$pid" 2>/dev/null && die "sshd (pid $pid) would not stop"
  fi
fi

# /run/sshd only if setup.sh made it and no other sshd needs it.
if [[ -e "$STATE/created-run-sshd" ]] && ! pgrep -x sshd >/dev/null 2>&1; then
  rmdir /run/sshd 2>/dev/null || true
fi

rm -rf -- "$STATE"
