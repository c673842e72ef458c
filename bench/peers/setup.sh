#!/usr/bin/env bash
# Sets up the SSH peers of the Warren benchmark (see README.md beside this file):
#   - installs Debian's openssh-server/-client, pssh, pdsh, clustershell and
#     ansible if any is missing;
#   - creates bench/peers/.state/ (keys, sshd_config, ssh_config, ansible files);
#   - starts a private sshd on 127.0.0.1:2222 only, and waits until a key login works.
# Idempotent: a second run reuses the keys and the running sshd.
# Quiet on success (PEERS_VERBOSE=1 to narrate); on any failure it says what
# failed on stderr and exits non-zero. Run only by the bench, never by CI.
set -Eeuo pipefail

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
STATE="$PEERS_DIR/.state"
PORT=2222
ADDR=127.0.0.1
HOSTS=100

die() { echo "bench/peers/setup.sh: $*" >&2; exit 1; }
trap 'rc=$?; echo "bench/peers/setup.sh: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
say() { if [[ "${PEERS_VERBOSE:-}" == 1 ]]; then echo "peers: $*"; fi; }

[[ $EUID -eq 0 ]] || die "must run as root (installs packages, starts sshd, logs in as root over loopback)"
case "$STATE" in *[[:space:]]*) die "path '$STATE' contains whitespace; pdsh/pssh split their ssh args on it" ;; esac

mkdir -p "$STATE" "$STATE/home"
chmod 700 "$STATE"

# --- 1. packages --------------------------------------------------------------
PKGS=(openssh-server openssh-client pssh pdsh clustershell ansible)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  # openssh-server's postinst would start the system sshd on 0.0.0.0:22; forbid
  # service starts during the install unless the machine already has a policy.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, from warren bench/peers/setup.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$STATE/apt.log" 2>&1; }
  ok=1
  if ! install; then
    # Most often: no package lists yet (a fresh machine). Update once and retry.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$STATE/apt.log" 2>&1 && install || ok=0
  fi
  if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  if ((!ok)); then
    tail -n 30 "$STATE/apt.log" >&2
    die "apt-get install ${missing[*]} failed (log: $STATE/apt.log)"
  fi
fi
for b in /usr/sbin/sshd ssh ssh-keygen parallel-ssh parallel-scp pdsh pdcp clush ansible; do
  command -v "$b" >/dev/null || die "'$b' not found after installing ${PKGS[*]}"
done

# --- 2. keys --------------------------------------------------------------------
[[ -s "$STATE/id_ed25519" ]] ||
  ssh-keygen -q -t ed25519 -N '' -C warren-bench-peers -f "$STATE/id_ed25519"
[[ -s "$STATE/ssh_host_ed25519_key" ]] ||
  ssh-keygen -q -t ed25519 -N '' -C warren-bench-peers-host -f "$STATE/ssh_host_ed25519_key"
cp "$STATE/id_ed25519.pub" "$STATE/authorized_keys"
chmod 600 "$STATE/id_ed25519" "$STATE/ssh_host_ed25519_key" "$STATE/authorized_keys"

# Write $1 from stdin; returns 0 when the content changed.
write_if_changed() {
  local f="$1" tmp
  tmp="$(mktemp "$f.XXXXXX")"
  cat >"$tmp"
  if [[ -f "$f" ]] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$f"
  return 0
}

# --- 3. sshd ----------------------------------------------------------------------
sshd_changed=0
write_if_changed "$STATE/sshd_config" <<EOF && sshd_changed=1 || true
# Private sshd of the Warren benchmark peers: loopback only, key auth only.
ListenAddress $ADDR:$PORT
AddressFamily inet
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pid
AuthorizedKeysFile $STATE/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
# 100 hosts at parallelism 100 = 100 simultaneous handshakes from one address.
MaxStartups 200:30:400
MaxSessions 200
LoginGraceTime 30
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
# Sessions get an empty home: root's shell is bash, which sources ~/.bashrc when
# run by sshd, and this machine's root dotfiles (pyenv init, ...) must not be part
# of what is measured. Everything else is a normal root login.
SetEnv HOME=$STATE/home
# ansible copies its module over sftp (when not pipelining)
Subsystem sftp internal-sftp
LogLevel ERROR
EOF

# sshd (even "sshd -t") needs its privilege-separation dir; Debian's unit makes it at boot.
if [[ ! -d /run/sshd ]]; then
  mkdir -p /run/sshd && chmod 755 /run/sshd
  touch "$STATE/created-run-sshd"
fi
/usr/sbin/sshd -t -f "$STATE/sshd_config" || die "sshd -t rejected $STATE/sshd_config"

sshd_pid() {
  local pid
  [[ -s "$STATE/sshd.pid" ]] || return 1
  pid="$(<"$STATE/sshd.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/sshd_config" || return 1
  echo "$pid"
}

if pid="$(sshd_pid)"; then
  if ((sshd_changed)); then
    say "sshd_config changed; restarting sshd (pid $pid)"
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "sshd (pid $pid) did not stop"
    pid=""
  fi
else
  pid=""
fi
if [[ -z "$pid" ]]; then
  rm -f "$STATE/sshd.pid"
  if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
    die "port $PORT is already in use by something else: $(ss -Hltnp "sport = :$PORT" | head -1)"
  fi
  # 100 sessions x (sshd + shell) plus their pipes: leave sshd room.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  /usr/sbin/sshd -f "$STATE/sshd_config" -E "$STATE/sshd.log" ||
    { cat "$STATE/sshd.log" >&2 2>/dev/null || true; die "sshd failed to start"; }
  say "sshd started on $ADDR:$PORT"
fi

# --- 4. client config -------------------------------------------------------------
aliases=()
for i in $(seq 1 "$HOSTS"); do aliases+=("$(printf 'h%03d' "$i")"); done

write_if_changed "$STATE/ssh_config" <<EOF || true
# ssh client config of the Warren benchmark peers: $HOSTS aliases of one loopback sshd.
# Used with "ssh -F $STATE/ssh_config", which ignores ~/.ssh/config and /etc/ssh/ssh_config.
Host ${aliases[*]}
  HostName $ADDR
  Port $PORT
  User root
  IdentityFile $STATE/id_ed25519
  IdentitiesOnly yes
  IdentityAgent none
  PasswordAuthentication no
  KbdInteractiveAuthentication no
  BatchMode yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
  # No connection reuse: every run pays its own handshakes, as the tools do by default.
  ControlMaster no
  ControlPath none
EOF

write_if_changed "$STATE/inventory.ini" <<EOF || true
# Warren benchmark peers: h001..h$(printf '%03d' "$HOSTS"), all the loopback sshd (see ssh_config).
[peers]
h[001:$(printf '%03d' "$HOSTS")]

[peers:vars]
ansible_connection=ssh
EOF

mkdir -p "$STATE/ansible"
write_if_changed "$STATE/ansible.cfg" <<EOF || true
# Used through ANSIBLE_CONFIG=$STATE/ansible.cfg (see peers.ts).
[defaults]
inventory = $STATE/inventory.ini
home = $STATE/ansible
local_tmp = $STATE/ansible/tmp
remote_tmp = $STATE/ansible/remote-tmp
# forks: not set, so Ansible's default (5) applies
host_key_checking = False
gathering = explicit
interpreter_python = auto_silent
retry_files_enabled = False
nocows = True
stdout_callback = minimal
deprecation_warnings = False
localhost_warning = False

[inventory]
enable_plugins = ini

[ssh_connection]
# Without ControlPersist (below) every ssh that Ansible runs pays a handshake, and
# an unpipelined module run takes 7 per host (mkdir, 2 for interpreter discovery,
# sftp, chmod, exec, rm). Pipelining brings that to 3 (discovery + exec), which
# costs about what Ansible's stock settings cost on a cold run (ControlPersist
# sharing one handshake among the 7).
pipelining = True
# Replaces Ansible's default "-C -o ControlMaster=auto -o ControlPersist=60s":
# no connection kept alive between runs, like the other peers.
ssh_args = -F $STATE/ssh_config
EOF

# --- 5. wait until the sshd answers a real key login ------------------------------
for i in $(seq 100); do
  if out="$(ssh -F "$STATE/ssh_config" -n h001 'echo ok' 2>&1)" && [[ "$out" == ok ]]; then
    say "ready: ssh h001 works"
    exit 0
  fi
  sleep 0.1
done
tail -n 20 "$STATE/sshd.log" >&2 2>/dev/null || true
die "sshd on $ADDR:$PORT does not accept the key login after 10 s: $out"
