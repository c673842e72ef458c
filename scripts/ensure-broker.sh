#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672: uses the one running, starts an
# installed rabbitmq-server, or installs Debian's rabbitmq-server and starts it.
set -euo pipefail

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if port_open; then
  echo "broker: RabbitMQ already answers on 127.0.0.1:5672"
  exit 0
fi
if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "broker: installing Debian's rabbitmq-server"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq rabbitmq-server >/dev/null
fi
if ! port_open; then
  echo "broker: starting rabbitmq-server"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 120); do
  if port_open; then echo "broker: RabbitMQ answers on 127.0.0.1:5672"; exit 0; fi
  sleep 1
done
echo "broker: RabbitMQ did not start within 120 s" >&2
exit 1
