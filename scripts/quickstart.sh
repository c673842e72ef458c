#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: installs dependencies, builds, makes sure a RabbitMQ
# broker answers (installing it if needed), starts a controller and one local agent in the
# background, and runs a real command through them. The first run also creates an admin API token
# for you in ~/.warren/token (mode 0600), where `warren` finds it.
#   scripts/quickstart.sh         bring everything up and run `uname -a; uptime` on the local agent
#   scripts/quickstart.sh stop    stop the controller and agent it started
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/.warren"
PORT=${WARREN_PORT:-7070}
export WARREN_URL="http://127.0.0.1:$PORT"
HOST_ID=$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9._\n-' '-' | cut -c1-63)
HOST_ID=${HOST_ID:-local}

stop() {
  for name in agent controller; do
    if [ -f "$STATE/$name.pid" ] && kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
      kill "$(cat "$STATE/$name.pid")" && echo "stopped $name (pid $(cat "$STATE/$name.pid"))"
    fi
    rm -f "$STATE/$name.pid"
  done
}
if [ "${1:-}" = "stop" ]; then stop; exit 0; fi

echo "== Node.js"
bash scripts/ensure-node.sh

echo "== installing dependencies and building"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent >/dev/null

echo "== broker"
bash scripts/ensure-broker.sh

mkdir -p "$STATE" && chmod 700 "$STATE"
stop >/dev/null

# The API needs a token. Create a local admin one, once, where the CLI looks for it; it works
# before or while the controller runs (the token table is in the same SQLite file).
TOKEN_FILE="$HOME/.warren/token"
if [ -z "${WARREN_TOKEN:-}" ] && [ ! -s "$TOKEN_FILE" ]; then
  echo "== creating an admin API token in $TOKEN_FILE"
  mkdir -p "$(dirname "$TOKEN_FILE")" && chmod 700 "$(dirname "$TOKEN_FILE")"
  name="local-admin"
  # A name is never reused (the audit log refers to tokens by name): pick a fresh one if taken.
  if node bin/warren-controller.js token list --db "$STATE/controller.db" 2>/dev/null | grep -q "^$name "; then name="local-admin-$(date +%s)"; fi
  # mktemp creates a fresh file of a random name, 0600, exclusively: a planted $TOKEN_FILE.tmp is never written through.
  tmp=$(mktemp "$TOKEN_FILE.XXXXXXXX")
  node bin/warren-controller.js token create --name "$name" --role admin --db "$STATE/controller.db" >"$tmp" 2>/dev/null || { rm -f "$tmp"; exit 1; }
  mv "$tmp" "$TOKEN_FILE"
fi
echo "== starting the controller on $WARREN_URL (log: .warren/controller.log)"
# Its state dir holds the database and the command-signing key (generated on first start; agents trust controller.pub).
WARREN_STATE_DIR="$STATE" WARREN_PORT=$PORT nohup node bin/warren-controller.js >"$STATE/controller.log" 2>&1 &
echo $! >"$STATE/controller.pid"
for _ in $(seq 1 50); do curl -fsS "$WARREN_URL/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$WARREN_URL/healthz" >/dev/null || { echo "controller did not come up; see .warren/controller.log" >&2; tail -5 "$STATE/controller.log" >&2; exit 1; }

rc=0; node bin/warren.js hosts --json >/dev/null 2>&1 || rc=$?
if [ "$rc" = 5 ]; then  # 5: the controller refused the token (see warren --help)
  echo "this controller refuses the API token warren found (WARREN_TOKEN or ~/.warren/token): it belongs to another" >&2
  echo "installation. Unset WARREN_TOKEN or move ~/.warren/token away, and run this again to create a new one." >&2
  exit 1
fi

echo "== starting an agent for host '$HOST_ID' (log: .warren/agent.log)"
# It obeys only commands signed by this controller's key, under the lab policy (which lets it run
# commands as root when you run this as root; see docs/policy.md for a real one).
WARREN_HOST_ID=$HOST_ID WARREN_STATE_DIR="$STATE/agent-$HOST_ID" WARREN_TRUST="$STATE/controller.pub" WARREN_POLICY="$ROOT/docs/examples/lab-policy.yaml" \
  nohup node bin/warren-agent.js >"$STATE/agent.log" 2>&1 &
echo $! >"$STATE/agent.pid"
for _ in $(seq 1 50); do node bin/warren.js hosts --json 2>/dev/null | grep -q "\"$HOST_ID\"" && break; sleep 0.2; done

# The controller trusts an agent's key only once someone accepts it (as with Salt minion keys).
# This agent is the one we just started, so accept it; on a real fleet, compare the fingerprint
# with the agent's "agent started" log line first.
if node bin/warren.js hosts --json | grep -q '"trust": *"accepted"'; then :; else
  echo "== warren hosts accept $HOST_ID"
  node bin/warren.js hosts accept "$HOST_ID"
fi

echo "== warren run \"uname -a; uptime\" --hosts $HOST_ID --wait"
node bin/warren.js run "uname -a; uptime" --hosts "$HOST_ID" --wait
echo
echo "Warren is running. Try:  npx warren hosts   |   npx warren run \"df -h\" --hosts $HOST_ID --wait"
echo "Web console:  $WARREN_URL/   (sign in with the token in $TOKEN_FILE; beyond localhost, serve it over HTTPS: docs/console.md)"
echo "Stop it with:  scripts/quickstart.sh stop"
