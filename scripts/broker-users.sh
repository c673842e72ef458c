#!/usr/bin/env bash
# Least-privilege broker users for Warren: one per agent, one for the controller.
# Run by the broker admin, on a machine where `rabbitmqctl` reaches the broker node.
# Why each permission is what it is: docs/broker-security.md.
#
#   scripts/broker-users.sh [options] controller <user> <password|->
#   scripts/broker-users.sh [options] agent <host> <password|-> [--user <name>]
#
# options:
#   --namespace NS     prefix of every exchange and queue (env WARREN_NAMESPACE, default warren)
#   --queue-type TYPE  classic or quorum: the installation's --queue-type, which the queues are
#                      declared with (env WARREN_QUEUE_TYPE, default classic; docs/scaling.md)
#   --vhost VHOST      virtual host, created if missing (default /)
#   --broker-url URL   AMQP URL with the admin's credentials, used to declare the topology
#                      (env WARREN_ADMIN_BROKER_URL, default amqp://guest:guest@127.0.0.1:5672)
#   -n NODE            rabbitmqctl's node (env RABBITMQ_NODENAME); rabbitmqctl itself is $RABBITMQCTL
#   --user NAME        (agent) broker user name; default: the host id
# A password of "-" is read from the first line of stdin (keeps it out of shell history).
#
# `agent` declares the shared topology, the host's inbox (durable, dead-lettering to <ns>.dlx) bound
# to <ns>.cmd, its control queue bound to <ns>.ctl and its chunk queue bound to <ns>.chunks, all
# with the host id as key (every queue of --queue-type, with the arguments
# libs/protocol/src/topology.ts gives that type), then creates or updates the user with:
#   configure ^$                              nothing: its queues and bindings are the admin's
#   write     ^<ns>\.(replies|presence)$      publish results, fetched file chunks and heartbeats, nothing else
#   read      ^<ns>\.(agent|ctl|chunks)\.<host>$  consume its own inbox, control and chunk queues, no other
# `controller` creates or updates the controller's user with configure/write/read on the shared
# names (it writes file chunks to <ns>.chunks and reads fetched ones from <ns>.fetched) and on its
# own presence queues (<ns>.presence.controller-<hex>), and nothing per agent.
set -euo pipefail

NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'
here=$(cd "$(dirname "$0")" && pwd)
ns=${WARREN_NAMESPACE:-warren}
queue_type=${WARREN_QUEUE_TYPE:-classic}
vhost=/
broker_url=${WARREN_ADMIN_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672}
node=${RABBITMQ_NODENAME:-}
user=
positional=()

die() { echo "broker-users: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) ns=${2:?--namespace needs a value}; shift 2 ;;
    --queue-type) queue_type=${2:?--queue-type needs a value}; shift 2 ;;
    --vhost) vhost=${2:?--vhost needs a value}; shift 2 ;;
    --broker-url) broker_url=${2:?--broker-url needs a value}; shift 2 ;;
    -n|--node) node=${2:?-n needs a node name}; shift 2 ;;
    --user) user=${2:?--user needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) [ "$1" = - ] && { positional+=("$1"); shift; continue; }; die "unknown option $1 (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 3 ] || die "expected: controller <user> <password|-> or agent <host> <password|-> (see --help)"
role=${positional[0]} name=${positional[1]} password=${positional[2]}
[[ $ns =~ $NAME_RE ]] || die "--namespace '$ns': letters, digits, . _ -, at most 63 characters"
case "$queue_type" in classic|quorum) ;; *) die "--queue-type '$queue_type': must be one of classic, quorum" ;; esac
if [ "$password" = - ]; then IFS= read -r password || true; fi
[ -n "$password" ] || die "empty password"

# Names may hold '.', the only regex metacharacter host ids and namespaces allow.
re_escape() { printf '%s' "${1//./\\.}"; }
N=$(re_escape "$ns")

read -r -a ctl <<<"${RABBITMQCTL:-rabbitmqctl}"
[ -n "$node" ] && ctl+=(-n "$node")
rmq() { "${ctl[@]}" --quiet "$@"; }

case "$role" in
  agent)
    [[ $name =~ $NAME_RE ]] || die "host '$name' is not a host id (letters, digits, . _ -, at most 63 characters)"
    host=$name
    user=${user:-$host}
    conf='^$'
    write="^$N\\.(replies|presence)\$"
    read="^$N\\.(agent|ctl|chunks)\\.$(re_escape "$host")\$"
    ;;
  controller)
    [ -z "$user" ] || die "--user is for agents; the controller's user is the second argument"
    user=$name
    # events (the stream) and event-notes (its notes exchange): the controllers' own, see docs/streaming.md.
    shared="$N\\.(cmd|ctl|replies|dlx|presence|changes|results|undelivered|events|event-notes|chunks|fetched)"
    # Its own exclusive queues: on the presence fanout, and on the changes fanout between controllers.
    own_q="$N\\.(presence|changes)\\.controller-[0-9a-f]+"
    conf="^$shared\$|^$own_q\$"
    write="^$N\\.(cmd|ctl|changes|results|undelivered|events|event-notes|chunks|fetched)\$|^$own_q\$"
    read="^$N\\.(replies|dlx|presence|changes|results|undelivered|events|event-notes|fetched)\$|^$own_q\$"
    ;;
  *) die "unknown role '$role': controller or agent" ;;
esac

if ! rmq list_vhosts name --no-table-headers | grep -qxF -- "$vhost"; then
  # A new vhost grants nobody anything: the admin user of --broker-url gets full rights on it, to declare.
  admin_user=$(node -e 'console.log(decodeURIComponent(new URL(process.argv[1]).username || "guest"))' "$broker_url")
  rmq add_vhost "$vhost"
  rmq set_permissions -p "$vhost" "$admin_user" '.*' '.*' '.*'
  echo "created vhost '$vhost'; admin user '$admin_user' may configure, write and read everything on it"
fi

# The admin declares what the least-privileged users may not: the shared topology (so an agent's
# inbox can be bound before the controller first starts) and, for an agent, its inbox and binding.
provision=(node "$here/broker-provision.mjs" --broker-url "$broker_url" --vhost "$vhost" --namespace "$ns" --queue-type "$queue_type")
[ "$role" = agent ] && provision+=(--agent "$host")
"${provision[@]}"

if rmq list_users --no-table-headers | cut -f1 | grep -qxF -- "$user"; then
  rmq change_password "$user" "$password"
else
  rmq add_user "$user" "$password"
fi
rmq set_permissions -p "$vhost" "$user" "$conf" "$write" "$read"
echo "$role user '$user' on vhost '$vhost' (namespace $ns): configure '$conf' write '$write' read '$read'"
