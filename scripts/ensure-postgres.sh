#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for user postgres (the
# tests' shared server; each test file creates and drops a database of its own): uses the one
# running, starts an installed cluster, or installs Debian's postgresql and starts it. On a cluster
# this script created or started whose loopback rule is not trust, it adds one for postgres only.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
trusted() { psql -h 127.0.0.1 -U postgres -w -Atc 'SELECT 1' postgres >/dev/null 2>&1; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres: installing Debian's postgresql"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
if ! answers; then
  echo "postgres: starting cluster $version/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 60); do answers && break; sleep 1; done
if ! answers; then
  echo "postgres: PostgreSQL did not answer on 127.0.0.1:5432 within 60 s" >&2
  exit 1
fi
if ! trusted; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  echo "postgres: trusting user postgres on 127.0.0.1 ($hba)"
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  sleep 1
fi
trusted || { echo "postgres: user postgres is not let in on 127.0.0.1 without a password" >&2; exit 1; }
echo "postgres: PostgreSQL answers on 127.0.0.1:5432"
