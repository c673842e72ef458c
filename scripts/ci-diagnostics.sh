#!/usr/bin/env bash
# Prints, in a few lines, the state of the machine and of the shared services that a CI run depends
# on: free disk (RabbitMQ blocks every publisher under its disk_free_limit, 50 MB by default), memory,
# load, the shared broker's queue count and alarms, PostgreSQL's database count. Usage:
# scripts/ci-diagnostics.sh <label>. Never fails: each probe is bounded and its absence is said.
set -uo pipefail
label=${1:-state}
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
echo "== $label at $(date -u +%H:%M:%S) UTC: load $(cut -d' ' -f1-3 /proc/loadavg), $(free -m | awk '/^Mem:/ {print $7 " MiB available"}')"
echo "   disk: $(df -h --output=avail,pcent /tmp 2>/dev/null | tail -1 | xargs) free/used on /tmp"
if command -v rabbitmqctl >/dev/null 2>&1; then
  queues=$(timeout 30 rabbitmqctl list_queues -q name 2>/dev/null | wc -l)
  alarms=$(timeout 30 rabbitmq-diagnostics -q alarms 2>/dev/null | tr '\n' ' ')
  echo "   broker: $queues queues; alarms: ${alarms:-none reported}"
else
  echo "   broker: rabbitmqctl not installed here"
fi
if command -v psql >/dev/null 2>&1; then
  dbs=$(timeout 10 psql -h 127.0.0.1 -U postgres -Atc 'select count(*) from pg_database' 2>/dev/null || echo '?')
  echo "   postgres: $dbs databases"
fi
exit 0
