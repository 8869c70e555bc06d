#!/usr/bin/env bash
# Postroom local stack: RabbitMQ, Dovecot, Postfix (and optionally a mongoeco wire server)
# run as self-contained instances under one state directory, without systemd or Docker.
# Also the entrypoint of the mail server container (deploy/docker/mailserver.Dockerfile).
#
# usage: deploy/local/stack.sh install|install-browser|install-deploy-tools|start|stop|status|wait|foreground
#        deploy/local/stack.sh cluster start|stop|status|urls|kill N|start-node N
#
#   install     install the Debian packages (skipped when already installed) and the vmail user
#   install-browser  install Debian's chromium and chromium-driver (the browser tests' browser)
#   install-deploy-tools  install Debian's kubernetes-client (unless a kubectl is on PATH) and
#               docker-compose (tests/integration/test_deploy_manifests.py renders and checks
#               deploy/kubernetes/ and docker-compose.yml with them)
#   start       write the configs and start every server; idempotent (exits 0 if already running)
#   stop        stop everything this state directory started, by PID; idempotent
#   status      print each component's state; exit 0 if all are running, else 3
#   wait        wait until every port of the running stack answers (POSTROOM_WAIT_TIMEOUT, 120 s)
#   foreground  start, then stay in the foreground (e.g. as PID 1 of a container) until SIGTERM
#               or SIGINT, then stop and exit 0; if a server dies meanwhile, print which one and
#               its last log lines, stop the others and exit 1
#   cluster ... a three-node RabbitMQ cluster beside (or instead of) the stack's single node:
#               deploy/local/rabbit-cluster.sh, which documents its commands and settings
#
# Environment (all optional):
#   POSTROOM_STATE_DIR        <repo>/.state/local  (the stack writes only under $POSTROOM_STATE_DIR/stack)
#   POSTROOM_STACK_COMPONENTS all       all:  RabbitMQ, Dovecot, Postfix (+ mongoeco, see below)
#                                       mail: only Dovecot and Postfix (no RabbitMQ, epmd, mongoeco;
#                                             `install` installs only the mail packages)
#   POSTROOM_LISTEN           127.0.0.1 IPv4 address Postfix smtpd and Dovecot's IMAP/IMAPS/POP3/
#                             POP3S/ManageSieve listeners bind (0.0.0.0: all; in the container).
#                             Any other value than 127.0.0.1 also admits 10.0.0.0/8, 172.16.0.0/12
#                             and 192.168.0.0/16 to Postfix's mynetworks (relaying without auth,
#                             e.g. from other containers); RabbitMQ and mongoeco stay on 127.0.0.1
#   POSTROOM_AMQP_PORT        5672      POSTROOM_AMQP_DIST_PORT  25672
#   POSTROOM_RABBIT_NODENAME  rabbit@localhost
#   POSTROOM_SMTP_PORT        2525      (Postfix smtpd on $POSTROOM_LISTEN)
#   POSTROOM_IMAP_PORT        1143      POSTROOM_IMAPS_PORT      1993
#   POSTROOM_POP3_PORT        1110      POSTROOM_POP3S_PORT      1995
#   POSTROOM_SIEVE_PORT       14190     (ManageSieve)
#   POSTROOM_MAIL_DOMAIN      example.test
#   POSTROOM_MAIL_USERS       "support customer"  (mailbox <word>@<domain>, password <word>;
#                             outbound@<domain> / outbound always exists and receives all mail
#                             addressed to any other domain)
#   POSTROOM_OAUTH_URL        http://127.0.0.1:18080  (token endpoints for Dovecot's oauth2; not started here)
#   POSTROOM_WITH_MONGO       0         (1: also run mongoeco on 127.0.0.1:$POSTROOM_MONGO_PORT)
#   POSTROOM_MONGO_PORT       27017
#   POSTROOM_PYTHON           <repo>/.venv/bin/python  (must have mongoeco[wire])
#   POSTROOM_START_TIMEOUT    120       seconds each server may take to become ready
#   POSTROOM_WAIT_TIMEOUT     120       seconds for the `wait` command
#
# Supported: Debian 12 (Dovecot 2.3, Postfix 3.7, RabbitMQ 3.10) and
#            Debian 13 (Dovecot 2.4, Postfix 3.10, RabbitMQ 4.0). Must run as root.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
PROG="stack.sh"
COMPONENTS_ALL=(rabbitmq dovecot postfix mongoeco)
MAIL_APT_PACKAGES=(dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved
  postfix openssl procps)
APT_PACKAGES=(rabbitmq-server "${MAIL_APT_PACKAGES[@]}")
BROWSER_APT_PACKAGES=(chromium chromium-driver)
# the private ranges Docker networks use: admitted to Postfix's mynetworks unless POSTROOM_LISTEN
# is 127.0.0.1
PRIVATE_NETWORKS="10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"

# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }
# seconds since a now_us timestamp, e.g. "1.23 s"
since() {
  local d=$(( $(now_us) - $1 ))
  printf '%d.%02d s' "$(( d / 1000000 ))" "$(( d % 1000000 / 10000 ))"
}

# alive PID: the process exists and is not a zombie (setsid'd daemons are reaped late by PID 1)
alive() {
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

# the command name a component's main PID must have (guards against PID reuse)
expected_comm() {
  case $1 in
    rabbitmq) printf 'beam.smp' ;;
    dovecot) printf 'dovecot' ;;
    postfix) printf 'master' ;;
    mongoeco) printf 'python' ;;
    # the launcher script execs erl, which becomes beam.smp: any of the three is ours
    rabbitmq-launcher) printf 'rabbitmq-server|erl|beam.smp' ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

log_tail() { # file [lines]
  local f=$1 n=${2:-20}
  if [[ -s $f ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
  else
    printf '(log %s is empty or missing)\n' "$f" >&2
  fi
}

# fail_component NAME MESSAGE LOG...: clear error naming the server, with its log tails
fail_component() {
  local name=$1 msg=$2
  shift 2
  printf '%s: error: %s failed to start: %s\n' "$PROG" "$name" "$msg" >&2
  local f
  for f in "$@"; do log_tail "$f"; done
  exit 1
}

# put_file DEST: write stdin to DEST, keeping DEST (and its mtime) when the content is unchanged.
# A new file gets an mtime 10 s in the past: Postfix refuses to read a config file modified within
# the last second and polls (0.3 s steps, about 2.4 s in all) until it is older.
put_file() {
  local dest=$1 tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cat > "$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
  else
    chmod 644 "$tmp"
    touch -d "@$(( ${EPOCHREALTIME%.*} - 10 ))" "$tmp"
    mv -f "$tmp" "$dest"
  fi
}

# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
load_settings() {
  local sd=${POSTROOM_STATE_DIR:-$REPO_DIR/.state/local}
  STATE_DIR=$(realpath -m -- "$sd")
  STACK=$STATE_DIR/stack
  PIDS=$STACK/pids
  LOGS=$STACK/log
  RMQ=$STACK/rabbitmq
  DC=$STACK/dovecot
  PF=$STACK/postfix
  SETTINGS_FILE=$STACK/stack.env

  AMQP_PORT=${POSTROOM_AMQP_PORT:-5672}
  AMQP_DIST_PORT=${POSTROOM_AMQP_DIST_PORT:-25672}
  RABBIT_NODENAME=${POSTROOM_RABBIT_NODENAME:-rabbit@localhost}
  SMTP_PORT=${POSTROOM_SMTP_PORT:-2525}
  IMAP_PORT=${POSTROOM_IMAP_PORT:-1143}
  IMAPS_PORT=${POSTROOM_IMAPS_PORT:-1993}
  POP3_PORT=${POSTROOM_POP3_PORT:-1110}
  POP3S_PORT=${POSTROOM_POP3S_PORT:-1995}
  SIEVE_PORT=${POSTROOM_SIEVE_PORT:-14190}
  MAIL_DOMAIN=${POSTROOM_MAIL_DOMAIN:-example.test}
  MAIL_USERS=${POSTROOM_MAIL_USERS:-support customer}
  OAUTH_URL=${POSTROOM_OAUTH_URL:-http://127.0.0.1:18080}
  WITH_MONGO=${POSTROOM_WITH_MONGO:-0}
  MONGO_PORT=${POSTROOM_MONGO_PORT:-27017}
  PYTHON=${POSTROOM_PYTHON:-$REPO_DIR/.venv/bin/python}
  START_TIMEOUT=${POSTROOM_START_TIMEOUT:-120}
  WAIT_TIMEOUT=${POSTROOM_WAIT_TIMEOUT:-120}
  COMPONENTS=${POSTROOM_STACK_COMPONENTS:-all}
  LISTEN=${POSTROOM_LISTEN:-127.0.0.1}
  # a short tag that tells this state directory's instances apart in logs and process titles
  TAG=$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)
}

SAVED_VARS=(AMQP_PORT AMQP_DIST_PORT RABBIT_NODENAME SMTP_PORT IMAP_PORT IMAPS_PORT POP3_PORT
  POP3S_PORT SIEVE_PORT MAIL_DOMAIN MAIL_USERS OAUTH_URL WITH_MONGO MONGO_PORT PYTHON
  COMPONENTS LISTEN)

# POSTROOM_STACK_COMPONENTS and POSTROOM_LISTEN, checked for every command (they decide what
# stop/status/wait look at when no stack.env is saved)
validate_mode() {
  [[ $COMPONENTS == all || $COMPONENTS == mail ]] ||
    die "POSTROOM_STACK_COMPONENTS must be 'all' (RabbitMQ, Dovecot, Postfix) or 'mail' (Dovecot and Postfix only), got '$COMPONENTS'"
  local ok=0 o
  if [[ $LISTEN =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]]; then
    ok=1
    for o in "${BASH_REMATCH[@]:1}"; do
      [[ $o =~ ^(0|[1-9][0-9]*)$ ]] && (( o <= 255 )) || ok=0
    done
  fi
  (( ok )) ||
    die "POSTROOM_LISTEN must be an IPv4 address such as 127.0.0.1 (the default) or 0.0.0.0 (all interfaces), got '$LISTEN'"
}

# has_component NAME: NAME is part of the configured component set
has_component() { enabled_components | grep -qxF -- "$1"; }
with_rabbitmq() { [[ $COMPONENTS == all ]]; }

# the address Postfix and Dovecot listen on, and the one to probe them at (0.0.0.0 via loopback)
component_listen() {
  case $1 in
    dovecot | postfix) printf '%s' "$LISTEN" ;;
    *) printf '127.0.0.1' ;;
  esac
}
component_host() {
  local a
  a=$(component_listen "$1")
  [[ $a == 0.0.0.0 ]] && a=127.0.0.1
  printf '%s' "$a"
}

# Postfix's mynetworks (relaying without auth): loopback only while POSTROOM_LISTEN is 127.0.0.1;
# otherwise also the private ranges of Docker networks (other containers submit mail) and a
# specific POSTROOM_LISTEN address itself (Dovecot's Sieve submissions come from it)
postfix_mynetworks() {
  local n="127.0.0.0/8"
  if [[ $LISTEN != 127.0.0.1 ]]; then
    n+=" $PRIVATE_NETWORKS"
    [[ $LISTEN == 0.0.0.0 || $LISTEN == 127.* ]] || n+=" $LISTEN/32"
  fi
  printf '%s' "$n"
}

validate_settings() {
  local v
  for v in AMQP_PORT AMQP_DIST_PORT SMTP_PORT IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT \
    SIEVE_PORT MONGO_PORT START_TIMEOUT WAIT_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "POSTROOM_$v must be a number, got '${!v}'"
  done
  [[ $WITH_MONGO == 0 || $WITH_MONGO == 1 ]] || die "POSTROOM_WITH_MONGO must be 0 or 1"
  validate_mode
  if ! with_rabbitmq && [[ $WITH_MONGO == 1 ]]; then
    die "POSTROOM_WITH_MONGO=1 needs POSTROOM_STACK_COMPONENTS=all (mail runs only Dovecot and Postfix)"
  fi
  if with_rabbitmq; then
    local p ports=("$AMQP_PORT" "$SMTP_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT" "$SIEVE_PORT")
    [[ $WITH_MONGO == 1 ]] && ports+=("$MONGO_PORT")
    for p in "${ports[@]}"; do
      if (( p >= AMQP_DIST_PORT && p <= AMQP_DIST_PORT + 10 )); then
        die "port $p lies in $AMQP_DIST_PORT-$(( AMQP_DIST_PORT + 10 )), which RabbitMQ's node and CLI tools use (POSTROOM_AMQP_DIST_PORT and the 10 ports above it)"
      fi
    done
    [[ $RABBIT_NODENAME == *@* ]] || die "POSTROOM_RABBIT_NODENAME must look like name@host"
  fi
  [[ $MAIL_DOMAIN =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] ||
    die "POSTROOM_MAIL_DOMAIN must be a lower-case domain name, got '$MAIL_DOMAIN'"
  # Dovecot and Postfix create unix sockets under the state dir (longest: dovecot/run/ + 24 chars)
  if (( ${#DC} > 76 )); then
    die "POSTROOM_STATE_DIR is too long for unix socket paths (108 bytes): use a path of at most 62 characters, not $STATE_DIR"
  fi
  local u
  for u in $MAIL_USERS; do
    [[ $u =~ ^[a-z0-9][a-z0-9._-]*$ ]] ||
      die "POSTROOM_MAIL_USERS: '$u' is not a valid mailbox name (lower-case letters, digits, . _ -)"
  done
}

# the settings the running stack was started with (stop/status/wait use these, not the caller's env)
save_settings() {
  local v
  {
    printf '# written by %s start; read by stop/status/wait\n' "$PROG"
    for v in "${SAVED_VARS[@]}"; do printf '%s=%q\n' "$v" "${!v}"; done
  } > "$SETTINGS_FILE"
}
load_saved_settings() {
  if [[ -f $SETTINGS_FILE ]]; then
    # a stack.env written before these two settings existed belongs to a full loopback stack
    COMPONENTS=all
    LISTEN=127.0.0.1
    # shellcheck source=/dev/null
    . "$SETTINGS_FILE"
  fi
  return 0
}

enabled_components() {
  local c
  if [[ $COMPONENTS == mail ]]; then
    printf 'dovecot\npostfix\n'
    return 0
  fi
  for c in rabbitmq dovecot postfix; do printf '%s\n' "$c"; done
  [[ $WITH_MONGO == 1 ]] && printf 'mongoeco\n'
  return 0
}

users_with_outbound() {
  local u out=() seen=" "
  for u in $MAIL_USERS outbound; do
    [[ $seen == *" $u "* ]] && continue
    seen+="$u "
    out+=("$u")
  done
  printf '%s\n' "${out[@]}"
}

# ----------------------------------------------------------------------------------------------
# PID bookkeeping
# ----------------------------------------------------------------------------------------------
pid_of() { # component -> recorded main PID (empty if none)
  local f=$PIDS/$1
  [[ -f $f ]] && tr -dc '0-9' < "$f"
  return 0
}
running() { # component: its recorded PID is alive and is the expected program
  local pid comm c
  pid=$(pid_of "$1")
  [[ -n $pid ]] && alive "$pid" || return 1
  comm=$(ps -o comm= -p "$pid" 2>/dev/null) || return 1
  local want
  IFS='|' read -ra want <<< "$(expected_comm "$1")"
  for c in "${want[@]}"; do
    [[ $comm == "$c"* ]] && return 0
  done
  return 1
}

# wait_gone SECONDS PID...: wait until none of the PIDs is alive; returns 1 on timeout
wait_gone() {
  local end=$(( $(now_us) + $1 * 1000000 )) p any
  shift
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1; done
    (( any )) || return 0
    (( $(now_us) < end )) || return 1
    sleep 0.05
  done
}

# ----------------------------------------------------------------------------------------------
# readiness
# ----------------------------------------------------------------------------------------------
# wait_port COMPONENT PORT PID LOG...: wait until the component's address (127.0.0.1, or
# POSTROOM_LISTEN for Dovecot and Postfix) accepts on PORT; fail early if PID dies
wait_port() {
  local name=$1 port=$2 pid=$3 host
  shift 3
  host=$(component_host "$name")
  local end=$(( $(now_us) + START_TIMEOUT * 1000000 ))
  until port_open "$port" "$host"; do
    if [[ -n $pid ]] && ! alive "$pid"; then
      fail_component "$name" "process $pid exited before port $port was listening" "$@"
    fi
    (( $(now_us) < end )) ||
      fail_component "$name" "port $host:$port not listening after ${START_TIMEOUT}s" "$@"
    sleep 0.05
  done
}

check_port_free() { # port description [host]
  local host=${3:-127.0.0.1}
  if port_open "$1" "$host"; then
    die "port $host:$1 ($2) is already in use by another program; pick another with the POSTROOM_*_PORT variables (see: ss -ltnp 'sport = :$1')"
  fi
}

# ----------------------------------------------------------------------------------------------
# install
# ----------------------------------------------------------------------------------------------
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

ensure_vmail_user() {
  if ! id vmail >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vmail
    say "created system user vmail (uid $(id -u vmail)) for mail files"
  fi
}

# the Debian packages the configured component set needs
needed_packages() {
  if with_rabbitmq; then printf '%s\n' "${APT_PACKAGES[@]}"; else printf '%s\n' "${MAIL_APT_PACKAGES[@]}"; fi
}

# apt-get install the Debian packages given, without letting package scripts start system-wide
# services: keep (or add) a deny-all policy-rc.d meanwhile
apt_install() {
  local added_policy=0 t1
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# added by Postroom stack.sh install\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
    # shellcheck disable=SC2064  # expand now: remove exactly the file added here
    trap "rm -f /usr/sbin/policy-rc.d" EXIT
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  t1=$(now_us)
  apt-get update -qq
  say "TIMING apt-get update: $(since "$t1")"
  t1=$(now_us)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null
  say "TIMING apt-get install: $(since "$t1")"
  if (( added_policy )); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
}

do_install() {
  [[ $(id -u) == 0 ]] || die "install must run as root"
  local t0 missing=() p pkgs
  t0=$(now_us)
  mapfile -t pkgs < <(needed_packages)
  for p in "${pkgs[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if (( ${#missing[@]} == 0 )); then
    say "packages: all installed, apt skipped (${pkgs[*]})"
  else
    say "packages: installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  ensure_vmail_user
  if with_rabbitmq; then
    say "dovecot $(dovecot --version | cut -d' ' -f1), postfix $(postconf -dh mail_version 2>/dev/null)," \
      "rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server)"
  else
    say "dovecot $(dovecot --version | cut -d' ' -f1), postfix $(postconf -dh mail_version 2>/dev/null)"
  fi
  say "TIMING install: $(since "$t0")"
}

# apt-get install those of the Debian packages given that are missing; $1 labels the log lines
install_missing() {
  local label=$1 missing=() p
  shift
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  if (( ${#missing[@]} == 0 )); then
    say "$label: all installed, apt skipped ($*)"
  else
    say "$label: installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# the browser tests' browser (tests/browser/): Debian's Chromium, driven by Playwright
do_install_browser() {
  [[ $(id -u) == 0 ]] || die "install-browser must run as root"
  install_missing browser "${BROWSER_APT_PACKAGES[@]}"
}

# what tests/integration/test_deploy_manifests.py runs: `kubectl kustomize` and
# `docker-compose config`. A kubectl already on PATH (any source) is kept: Debian's package
# would overwrite /usr/bin/kubectl.
do_install_deploy_tools() {
  [[ $(id -u) == 0 ]] || die "install-deploy-tools must run as root"
  local pkgs=(docker-compose) p
  if ! command -v kubectl >/dev/null; then
    # Debian 12 packages kubectl as kubernetes-client; later releases may name it kubectl or
    # have none (the manifest tests then skip, saying so)
    apt-cache policy kubernetes-client kubectl 2>/dev/null | grep -q 'Candidate: [0-9]' \
      || apt-get update -qq   # empty package lists on a fresh machine
    for p in kubernetes-client kubectl; do
      if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then pkgs+=("$p"); break; fi
    done
    (( ${#pkgs[@]} > 1 )) || say "deploy-tools: no kubectl in this release's archive; the manifest tests will skip"
  fi
  install_missing deploy-tools "${pkgs[@]}"
}

check_prerequisites() {
  [[ $(id -u) == 0 ]] || die "the stack must run as root (Postfix's master and Dovecot need it)"
  local p missing=()
  while read -r p; do pkg_installed "$p" || missing+=("$p"); done < <(needed_packages)
  (( ${#missing[@]} == 0 )) || die "missing packages: ${missing[*]}; run: $0 install"
  id vmail >/dev/null 2>&1 || die "system user vmail is missing; run: $0 install"
  if with_rabbitmq; then
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "/usr/lib/rabbitmq/bin/rabbitmq-server not found"
  fi
  if [[ $WITH_MONGO == 1 ]]; then
    [[ -x $PYTHON ]] || die "POSTROOM_WITH_MONGO=1 but $PYTHON does not exist; set POSTROOM_PYTHON or create the venv"
  fi
}

dovecot_major_minor() {
  local v
  v=$(dovecot --version 2>/dev/null) || die "dovecot not runnable; run: $0 install"
  # "2.3.19.1 (9b53102964)" on Debian 12, "2.4.1-4 (7d8c0e5759)" on Debian 13
  v=${v%% *}
  printf '%s' "$v" | cut -d. -f1,2
}

# ----------------------------------------------------------------------------------------------
# RabbitMQ
# ----------------------------------------------------------------------------------------------
write_rabbitmq_config() {
  mkdir -p "$RMQ"/{home,mnesia,log}
  cat > "$RMQ/rabbitmq.conf" <<EOF
# generated by stack.sh: regenerated at every start
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users = none
default_user = guest
default_pass = guest
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
EOF
  echo '[].' > "$RMQ/enabled_plugins"
  : > "$RMQ/rabbitmq-env.conf"   # keeps /etc/rabbitmq/rabbitmq-env.conf out of the way
  cat > "$RMQ/env.sh" <<EOF
# generated by stack.sh; source it to use rabbitmqctl against this node:
#   . $RMQ/env.sh && rabbitmqctl status
export HOME=$(printf %q "$RMQ/home")
export RABBITMQ_NODENAME=$(printf %q "$RABBIT_NODENAME")
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$AMQP_PORT
export RABBITMQ_DIST_PORT=$AMQP_DIST_PORT
export RABBITMQ_MNESIA_BASE=$(printf %q "$RMQ/mnesia")
export RABBITMQ_LOG_BASE=$(printf %q "$RMQ/log")
export RABBITMQ_PID_FILE=$(printf %q "$RMQ/rabbit.pid")
export RABBITMQ_CONFIG_FILE=$(printf %q "$RMQ/rabbitmq.conf")
export RABBITMQ_ADVANCED_CONFIG_FILE=$(printf %q "$RMQ/advanced.config")
export RABBITMQ_ENABLED_PLUGINS_FILE=$(printf %q "$RMQ/enabled_plugins")
export RABBITMQ_CONF_ENV_FILE=$(printf %q "$RMQ/rabbitmq-env.conf")
export ERL_CRASH_DUMP=$(printf %q "$RMQ/log/erl_crash.dump")
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# rabbitmqctl is an Erlang node too: by default it listens on 0.0.0.0 and a port in 35672-35682,
# which collides with other stacks; keep it on loopback, just above this node's dist port
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_DIST_PORT_MIN=$(( AMQP_DIST_PORT + 1 ))
export RABBITMQ_CTL_DIST_PORT_MAX=$(( AMQP_DIST_PORT + 10 ))
export PATH=/usr/lib/rabbitmq/bin:\$PATH
EOF
}

# names registered in the local epmd (empty when epmd is not running)
epmd_names() {
  ERL_EPMD_ADDRESS=127.0.0.1 epmd -names 2>/dev/null | awk '$1 == "name" {print $2}' || true
}

RABBIT_LAUNCHER_PID=
launch_rabbitmq() {
  local short=${RABBIT_NODENAME%@*}
  if epmd_names | grep -qxF -- "$short"; then
    die "an Erlang node named '$short' is already registered in epmd (another RabbitMQ with node name $RABBIT_NODENAME is running); set POSTROOM_RABBIT_NODENAME"
  fi
  rm -f "$RMQ/rabbit.pid"
  # subshell: the env file must not leak into this script (HOME, PATH)
  RABBIT_LAUNCHER_PID=$(
    # shellcheck source=/dev/null
    . "$RMQ/env.sh"
    cd "$RMQ"
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server >> "$RMQ/log/stdout.log" 2>&1 < /dev/null &
    printf '%s' "$!"
  )
  printf '%s\n' "$RABBIT_LAUNCHER_PID" > "$PIDS/rabbitmq-launcher"
}

finish_rabbitmq() {
  local rc=0 waiter logs=("$RMQ/log/wait.log" "$RMQ/log/stdout.log" "$RMQ/log/$RABBIT_NODENAME.log")
  # `wait <pidfile>` first: await_startup alone fails at once (exit 69) until the node is registered
  # (in its own session, so that the whole process group can be stopped on failure)
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c '. "$1" && rabbitmqctl wait "$RABBITMQ_PID_FILE" --timeout "$2" &&
    rabbitmqctl await_startup --timeout "$2"' rabbitmq-wait "$RMQ/env.sh" "$START_TIMEOUT" \
    > "$RMQ/log/wait.log" 2>&1 < /dev/null &
  waiter=$!
  # fail fast if the node dies during boot instead of waiting for the timeout
  while alive "$waiter"; do
    if ! alive "$RABBIT_LAUNCHER_PID"; then
      kill -TERM -- "-$waiter" 2>/dev/null || true
      wait "$waiter" 2>/dev/null || true
      fail_component rabbitmq "the node exited during boot" "${logs[@]}"
    fi
    sleep 0.1
  done
  wait "$waiter" || rc=$?
  (( rc == 0 )) || fail_component rabbitmq "rabbitmqctl wait/await_startup exited with $rc" "${logs[@]}"
  tr -dc '0-9' < "$RMQ/rabbit.pid" > "$PIDS/rabbitmq"
  wait_port rabbitmq "$AMQP_PORT" "$(pid_of rabbitmq)" "$RMQ/log/stdout.log" "$RMQ/log/$RABBIT_NODENAME.log"
}

stop_rabbitmq() {
  local procs=() c p
  for c in rabbitmq rabbitmq-launcher; do
    if running "$c"; then procs+=("$(pid_of "$c")"); fi
  done
  if (( ${#procs[@]} > 0 )); then
    if [[ -f $RMQ/env.sh ]] && running rabbitmq; then
      (
        # shellcheck source=/dev/null
        . "$RMQ/env.sh"
        timeout 60 rabbitmqctl shutdown > "$RMQ/log/shutdown.log" 2>&1
      ) || warn "rabbitmqctl shutdown failed (see $RMQ/log/shutdown.log); sending SIGTERM"
    fi
    for p in "${procs[@]}"; do alive "$p" && { kill -TERM "$p" 2>/dev/null || true; }; done
    if ! wait_gone 30 "${procs[@]}"; then
      warn "rabbitmq still running after 30 s; sending SIGKILL"
      for p in "${procs[@]}"; do alive "$p" && { kill -KILL "$p" 2>/dev/null || true; }; done
      wait_gone 5 "${procs[@]}" || warn "rabbitmq (pids ${procs[*]}) did not exit"
    fi
  fi
  rm -f "$PIDS/rabbitmq" "$PIDS/rabbitmq-launcher"
  # epmd (forked by erl as a daemon) outlives the node and is shared by every Erlang node on this
  # machine: stop it only when no other node is registered
  local epmd_pid
  if [[ -z $(epmd_names) ]]; then
    for epmd_pid in $(ps -C epmd -o pid= 2>/dev/null); do
      kill -TERM "$epmd_pid" 2>/dev/null || true
    done
  fi
}

# ----------------------------------------------------------------------------------------------
# Dovecot
# ----------------------------------------------------------------------------------------------
ensure_dovecot_files() {
  mkdir -p "$DC"/{run,state,log,mail,ssl}
  chown vmail:vmail "$DC/mail"
  if [[ ! -s $DC/ssl/cert.pem || ! -s $DC/ssl/key.pem ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$DC/ssl/key.pem" -out "$DC/ssl/cert.pem" 2>"$DC/log/openssl.log" ||
      fail_component dovecot "openssl could not create the self-signed certificate" "$DC/log/openssl.log"
    chmod 600 "$DC/ssl/key.pem"
    say "  created self-signed TLS certificate $DC/ssl/cert.pem"
  fi
  if ! runuser -u vmail -- test -w "$DC/mail"; then
    die "user vmail cannot write to $DC/mail (is a parent directory of $STATE_DIR closed to other users?)"
  fi
  local vuid vgid u
  vuid=$(id -u vmail)
  vgid=$(id -g vmail)
  # passwd-file: user:{scheme}password:uid:gid:gecos:home:shell:extra
  while read -r u; do
    printf '%s@%s:{PLAIN}%s:%s:%s::%s::\n' "$u" "$MAIL_DOMAIN" "$u" "$vuid" "$vgid" "$DC/mail/$MAIL_DOMAIN/$u"
  done < <(users_with_outbound) > "$DC/users"
  chmod 640 "$DC/users"
  chgrp dovecot "$DC/users" 2>/dev/null || true
  VMAIL_UID=$vuid
}

write_dovecot23_conf() {
  cat > "$DC/oauth2.conf.ext" <<EOF
tokeninfo_url = $OAUTH_URL/tokeninfo?access_token=
introspection_url = $OAUTH_URL/introspect
introspection_mode = post
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
timeout_msecs = 5000
EOF
  cat > "$DC/dovecot.conf" <<EOF
# generated by stack.sh (Dovecot 2.3 syntax); regenerated at every start
base_dir = $DC/run
state_dir = $DC/state
instance_name = postroom-dovecot-$TAG
log_path = $DC/log/dovecot.log
info_log_path = $DC/log/dovecot.log
protocols = imap pop3 lmtp sieve
listen = $LISTEN
hostname = mail.$MAIL_DOMAIN
postmaster_address = postmaster@$MAIL_DOMAIN
ssl = yes
ssl_cert = <$DC/ssl/cert.pem
ssl_key = <$DC/ssl/key.pem
ssl_min_protocol = TLSv1.2
# clients also log in over the plaintext ports
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# "support" and "support@$MAIL_DOMAIN" both log in as support@$MAIL_DOMAIN
auth_default_realm = $MAIL_DOMAIN
auth_username_format = %Lu
auth_verbose = yes
# no 2 s delay after each failed login
auth_failure_delay = 0
first_valid_uid = $VMAIL_UID
mail_location = maildir:~/Maildir
mail_uid = vmail
mail_gid = vmail

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%Lu $DC/users
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DC/oauth2.conf.ext
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $DC/users
}

service imap-login {
  inet_listener imap {
    address = $LISTEN
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $LISTEN
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $LISTEN
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = $LISTEN
    port = $POP3S_PORT
    ssl = yes
  }
}
# LMTP only on the unix socket $DC/run/lmtp (no TCP listener, so two stacks never collide)
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service managesieve-login {
  inet_listener sieve {
    address = $LISTEN
    port = $SIEVE_PORT
  }
}
# disable anvil's per-IP auth penalty (2..15 s delays after failed logins from 127.0.0.1):
# a unix_listener with mode 0 is not created, so the auth process skips penalties
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

protocol imap {
  mail_max_userip_connections = 50
}
protocol pop3 {
  mail_max_userip_connections = 50
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
lmtp_save_to_detail_mailbox = yes
recipient_delimiter = +

# Sieve vacation/redirect mail goes back through this stack's Postfix
submission_host = $(component_host postfix):$SMTP_PORT
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_vacation_min_period = 0
}
EOF
}

write_dovecot24_conf() {
  cat > "$DC/dovecot.conf" <<EOF
# generated by stack.sh (Dovecot 2.4 syntax); regenerated at every start
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0

base_dir = $DC/run
state_dir = $DC/state
instance_name = postroom-dovecot-$TAG
log_path = $DC/log/dovecot.log
info_log_path = $DC/log/dovecot.log
protocols = imap pop3 lmtp sieve
listen = $LISTEN
hostname = mail.$MAIL_DOMAIN
postmaster_address = postmaster@$MAIL_DOMAIN
ssl = yes
ssl_server_cert_file = $DC/ssl/cert.pem
ssl_server_key_file = $DC/ssl/key.pem
ssl_min_protocol = TLSv1.2
# clients also log in over the plaintext ports
auth_allow_cleartext = yes
auth_mechanisms = plain login xoauth2 oauthbearer
# "support" and "support@$MAIL_DOMAIN" both log in as support@$MAIL_DOMAIN
auth_default_domain = $MAIL_DOMAIN
auth_username_format = %{user | lower}
auth_verbose = yes
# no 2 s delay after each failed login
auth_failure_delay = 0
first_valid_uid = $VMAIL_UID
mail_driver = maildir
mail_path = ~/Maildir
mail_uid = vmail
mail_gid = vmail

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

passdb passwd-file {
  mechanisms_filter = plain login
  passwd_file_path = $DC/users
  default_password_scheme = PLAIN
}
userdb passwd-file {
  passwd_file_path = $DC/users
}

# XOAUTH2/OAUTHBEARER: since 2.4 the mechanisms validate tokens with these settings directly
oauth2 {
  tokeninfo_url = $OAUTH_URL/tokeninfo?access_token=
  introspection_url = $OAUTH_URL/introspect
  introspection_mode = post
  force_introspection = yes
  username_attribute = email
  active_attribute = active
  active_value = true
  http_client_request_timeout = 5s
}

service imap-login {
  inet_listener imap {
    listen = $LISTEN
    port = $IMAP_PORT
  }
  inet_listener imaps {
    listen = $LISTEN
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    listen = $LISTEN
    port = $POP3_PORT
  }
  inet_listener pop3s {
    listen = $LISTEN
    port = $POP3S_PORT
    ssl = yes
  }
}
# LMTP only on the unix socket $DC/run/lmtp (no TCP listener, so two stacks never collide)
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service managesieve-login {
  inet_listener sieve {
    listen = $LISTEN
    port = $SIEVE_PORT
  }
}
# disable anvil's per-IP auth penalty (see the Dovecot 2.3 variant)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

protocol imap {
  mail_max_userip_connections = 50
}
protocol pop3 {
  mail_max_userip_connections = 50
}
protocol lmtp {
  mail_plugins {
    sieve = yes
  }
}
lmtp_save_to_detail_mailbox = yes
recipient_delimiter = +

# Sieve vacation/redirect mail goes back through this stack's Postfix
submission_host = $(component_host postfix):$SMTP_PORT
sieve_script personal {
  driver = file
  path = ~/sieve
  active_path = ~/.dovecot.sieve
}
sieve_vacation_min_period = 0
EOF
}

write_dovecot_config() {
  ensure_dovecot_files
  case $DOVECOT_VERSION in
    2.3) write_dovecot23_conf ;;
    2.4) write_dovecot24_conf ;;
    *) die "unsupported Dovecot $DOVECOT_VERSION (supported: 2.3 on Debian 12, 2.4 on Debian 13)" ;;
  esac
  doveconf -c "$DC/dovecot.conf" -n > "$DC/log/doveconf.out" 2>&1 ||
    fail_component dovecot "doveconf rejected $DC/dovecot.conf" "$DC/log/doveconf.out"
}

launch_dovecot() {
  rm -rf "$DC/run"   # a stale anvil-auth-penalty socket makes the first logins stall for 5 s
  mkdir -p "$DC/run"
  setsid /usr/sbin/dovecot -F -c "$DC/dovecot.conf" >> "$DC/log/stdout.log" 2>&1 < /dev/null &
  printf '%s\n' "$!" > "$PIDS/dovecot"
}

finish_dovecot() {
  local pid p
  pid=$(pid_of dovecot)
  for p in "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT" "$SIEVE_PORT"; do
    wait_port dovecot "$p" "$pid" "$DC/log/stdout.log" "$DC/log/dovecot.log"
  done
  local end=$(( $(now_us) + START_TIMEOUT * 1000000 ))
  until [[ -S $DC/run/lmtp ]]; do
    alive "$pid" || fail_component dovecot "exited before the LMTP socket appeared" "$DC/log/dovecot.log"
    (( $(now_us) < end )) || fail_component dovecot "no LMTP socket $DC/run/lmtp" "$DC/log/dovecot.log"
    sleep 0.05
  done
}

# ----------------------------------------------------------------------------------------------
# Postfix
# ----------------------------------------------------------------------------------------------
write_postfix_config() {
  mkdir -p "$PF"/{etc,spool,data,log}
  chown postfix:postfix "$PF/data"
  local dom_re=${MAIL_DOMAIN//./\\.}
  # POSTROOM_LISTEN 0.0.0.0 binds all interfaces; reject_unauth_destination stays whatever
  # mynetworks admits (see postfix_mynetworks)
  local inet_interfaces=$LISTEN smtpd_service="$LISTEN:$SMTP_PORT" mynetworks
  mynetworks=$(postfix_mynetworks)
  if [[ $LISTEN == 0.0.0.0 ]]; then
    inet_interfaces=all
    smtpd_service=$SMTP_PORT
  fi
  put_file "$PF/etc/main.cf" <<EOF
# generated by stack.sh: regenerated at every start
compatibility_level = 3.6
config_directory = $PF/etc
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/log/postfix.log
# maillog_file must start with one of these prefixes, otherwise every postfix command fails silently
maillog_file_prefixes = $PF
syslog_name = postfix-postroom-$TAG
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.$MAIL_DOMAIN
mydomain = $MAIL_DOMAIN
myorigin = \$mydomain
inet_interfaces = $inet_interfaces
inet_protocols = ipv4
mynetworks = $mynetworks
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relayhost =
# the mail domain is delivered to Dovecot over LMTP (unix socket)
virtual_mailbox_domains = $MAIL_DOMAIN
virtual_transport = lmtp:unix:$DC/run/lmtp
# known users; unknown ones get 550 5.1.1 at RCPT time (texthash needs no postmap)
virtual_mailbox_maps = texthash:$PF/etc/vmailbox
# mail for every other domain is rewritten to outbound@$MAIL_DOMAIN: nothing leaves this machine
virtual_alias_maps = regexp:$PF/etc/virtual_alias.regexp
# ... but no domain is a virtual alias domain (the default, \$virtual_alias_maps, would turn the
# negated regexp into "every domain, including $MAIL_DOMAIN, is an alias domain")
virtual_alias_domains =
# safety net, never used while the rewrite above is in place
default_transport = error:outbound mail is disabled in the local stack
relay_transport = error:outbound mail is disabled in the local stack
smtp_tls_security_level = none
# STARTTLS offered (not required), with Dovecot's self-signed certificate
smtpd_tls_cert_file = $DC/ssl/cert.pem
smtpd_tls_key_file = $DC/ssl/key.pem
smtpd_tls_security_level = may
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP Postroom local stack
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
# no DNS needed (disable_dns_lookups is deprecated in Postfix 3.10)
smtp_dns_support_level = disabled
lmtp_host_lookup = native
# deliver fast, retry fast
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
EOF
  put_file "$PF/etc/master.cf" <<EOF
# generated by stack.sh
# service type  private unpriv  chroot  wakeup  maxproc command + args
$smtpd_service inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  local u
  while read -r u; do printf '%s@%s OK\n' "$u" "$MAIL_DOMAIN"; done < <(users_with_outbound) |
    put_file "$PF/etc/vmailbox"
  put_file "$PF/etc/virtual_alias.regexp" <<EOF
# generated by stack.sh
# postmaster (RFC 5321) and Postfix's own notices land in the outbound mailbox
/^postmaster@$dom_re\$/ outbound@$MAIL_DOMAIN
# every address outside $MAIL_DOMAIN is delivered to outbound@$MAIL_DOMAIN
!/@$dom_re\$/ outbound@$MAIL_DOMAIN
EOF
  # `postfix check` creates missing queue directories with the right owners (about 2 s the first
  # time, 0.2 s afterwards); `set-permissions` is not used: it also resets system-wide files
  postfix -c "$PF/etc" check > "$PF/log/setup.log" 2>&1 ||
    fail_component postfix "postfix check rejected $PF/etc/main.cf" "$PF/log/setup.log"
}

launch_postfix() {
  rm -f "$PF/spool/pid/master.pid"
  postfix -c "$PF/etc" start >> "$PF/log/setup.log" 2>&1 ||
    fail_component postfix "postfix start failed" "$PF/log/setup.log" "$PF/log/postfix.log"
  local end=$(( $(now_us) + START_TIMEOUT * 1000000 )) pid=
  while :; do
    [[ -s $PF/spool/pid/master.pid ]] && pid=$(tr -dc '0-9' < "$PF/spool/pid/master.pid")
    [[ -n $pid ]] && alive "$pid" && break
    (( $(now_us) < end )) || fail_component postfix "no master.pid" "$PF/log/setup.log" "$PF/log/postfix.log"
    sleep 0.05
  done
  printf '%s\n' "$pid" > "$PIDS/postfix"
}

finish_postfix() {
  wait_port postfix "$SMTP_PORT" "$(pid_of postfix)" "$PF/log/postfix.log" "$PF/log/setup.log"
}

# ----------------------------------------------------------------------------------------------
# mongoeco
# ----------------------------------------------------------------------------------------------
launch_mongoeco() {
  setsid "$PYTHON" "$SCRIPT_DIR/mongoeco_server.py" --host 127.0.0.1 --port "$MONGO_PORT" \
    >> "$LOGS/mongoeco.log" 2>&1 < /dev/null &
  printf '%s\n' "$!" > "$PIDS/mongoeco"
}
finish_mongoeco() {
  wait_port mongoeco "$MONGO_PORT" "$(pid_of mongoeco)" "$LOGS/mongoeco.log"
}

# ----------------------------------------------------------------------------------------------
# generic stop
# ----------------------------------------------------------------------------------------------
# signal_component NAME: SIGTERM to the recorded PID if it is ours; prints the PID it signalled
signal_component() {
  local pid
  pid=$(pid_of "$1")
  if [[ -n $pid ]] && running "$1"; then
    kill -TERM "$pid" 2>/dev/null || true
    printf '%s' "$pid"
  fi
}

do_stop() {
  local t0 pids=() names=() c pid stopped=0
  t0=$(now_us)
  if [[ ! -d $PIDS ]]; then
    say "nothing to stop under $STACK"
    return 0
  fi
  # Postfix (SIGTERM to master == postfix stop), Dovecot's master and mongoeco stop in parallel
  # with RabbitMQ's graceful shutdown
  for c in postfix dovecot mongoeco; do
    pid=$(signal_component "$c")
    if [[ -n $pid ]]; then pids+=("$pid"); names+=("$c"); fi
  done
  local t1
  t1=$(now_us)
  # a mail-only stack leaves RabbitMQ and epmd alone (unless this state dir has RabbitMQ PIDs)
  if ! with_rabbitmq && [[ ! -f $PIDS/rabbitmq && ! -f $PIDS/rabbitmq-launcher ]]; then
    :
  elif running rabbitmq || running rabbitmq-launcher; then
    stop_rabbitmq
    say "stopped rabbitmq ($(since "$t1"))"
    stopped=1
  else
    stop_rabbitmq   # still removes stale pid files and an orphaned epmd
  fi
  local i
  for i in "${!pids[@]}"; do
    if ! wait_gone 20 "${pids[$i]}"; then
      warn "${names[$i]} (pid ${pids[$i]}) still running after 20 s; sending SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      wait_gone 5 "${pids[$i]}" || warn "${names[$i]} (pid ${pids[$i]}) did not exit"
    fi
    say "stopped ${names[$i]} (pid ${pids[$i]})"
    stopped=1
  done
  for c in "${COMPONENTS_ALL[@]}"; do rm -f "$PIDS/$c"; done
  rm -f "$SETTINGS_FILE"
  (( stopped )) || say "nothing was running under $STACK"
  say "TIMING stop: $(since "$t0")"
}

# ----------------------------------------------------------------------------------------------
# start
# ----------------------------------------------------------------------------------------------
print_summary() {
  local a=$LISTEN
  if with_rabbitmq; then
    say "Postroom local stack ($STACK):"
    say "  amqp        amqp://guest:guest@127.0.0.1:$AMQP_PORT/  (node $RABBIT_NODENAME, dist port $AMQP_DIST_PORT; . $RMQ/env.sh to use rabbitmqctl)"
  else
    say "Postroom mail server, Dovecot and Postfix only ($STACK):"
  fi
  say "  smtp        $a:$SMTP_PORT  (Postfix, STARTTLS offered)"
  say "  imap/imaps  $a:$IMAP_PORT / $a:$IMAPS_PORT  (Dovecot)"
  say "  pop3/pop3s  $a:$POP3_PORT / $a:$POP3S_PORT"
  say "  managesieve $a:$SIEVE_PORT"
  if [[ $LISTEN != 127.0.0.1 ]]; then
    say "  relaying    without auth from $(postfix_mynetworks)"
  fi
  say "  lmtp        unix:$DC/run/lmtp"
  if [[ $WITH_MONGO == 1 ]]; then say "  mongodb     mongodb://127.0.0.1:$MONGO_PORT/  (mongoeco, in-memory)"; fi
  say "  users       $(users_with_outbound | sed "s/.*/&@$MAIL_DOMAIN/" | paste -sd' ')  (password = name)"
  say "  other mail  every domain but $MAIL_DOMAIN is delivered to outbound@$MAIL_DOMAIN"
  say "  TLS cert    $DC/ssl/cert.pem"
  say "  oauth2      tokens checked at $OAUTH_URL (not started by this script)"
}

START_OK=0
on_start_exit() {
  local rc=$?
  if (( rc != 0 && START_OK == 0 )); then
    printf '%s: start failed; stopping what was started (logs stay under %s)\n' "$PROG" "$STACK" >&2
    do_stop >&2 || true
  fi
}

do_start() {
  local t0 c any_running=0 all_running=1
  t0=$(now_us)
  # already running? judge by the settings the running stack was started with
  if [[ -f $SETTINGS_FILE ]]; then
    local saved_env
    saved_env=$(load_saved_settings; enabled_components)
    for c in $saved_env; do
      if running "$c"; then any_running=1; else all_running=0; fi
    done
    if (( any_running && all_running )); then
      load_saved_settings
      say "already running (state dir $STATE_DIR); nothing to do"
      print_summary
      return 0
    fi
    if (( any_running )); then
      say "partly running (some servers have stopped): restarting the whole stack"
      load_saved_settings
      do_stop
      load_settings
    fi
  fi
  validate_settings
  check_prerequisites
  DOVECOT_VERSION=$(dovecot_major_minor)

  local p mail_host
  mail_host=$(component_host dovecot)
  if with_rabbitmq; then
    for p in "$AMQP_PORT:AMQP" "$AMQP_DIST_PORT:Erlang distribution"; do
      check_port_free "${p%%:*}" "${p#*:}"
    done
  fi
  for p in "$SMTP_PORT:SMTP" "$IMAP_PORT:IMAP" "$IMAPS_PORT:IMAPS" "$POP3_PORT:POP3" \
    "$POP3S_PORT:POP3S" "$SIEVE_PORT:ManageSieve"; do
    check_port_free "${p%%:*}" "${p#*:}" "$mail_host"
  done
  [[ $WITH_MONGO == 0 ]] || check_port_free "$MONGO_PORT" "mongoeco"

  mkdir -p "$PIDS" "$LOGS"
  chmod 755 "$STACK"
  save_settings
  trap on_start_exit EXIT

  local t t_rabbit=
  if with_rabbitmq; then
    say "starting the Postroom local stack under $STACK (Dovecot $DOVECOT_VERSION)"
    # RabbitMQ boots slowest (5-10 s): launch it first, set up the others meanwhile
    t=$(now_us)
    write_rabbitmq_config
    launch_rabbitmq
    t_rabbit=$t
    say "  rabbitmq: launched (launcher pid $RABBIT_LAUNCHER_PID)"
  else
    say "starting the Postroom mail server (Dovecot $DOVECOT_VERSION, Postfix; no RabbitMQ) under $STACK, listening on $LISTEN"
  fi

  t=$(now_us)
  write_dovecot_config
  launch_dovecot
  finish_dovecot
  say "  dovecot: ready, pid $(pid_of dovecot) ($(since "$t") incl. config)"

  t=$(now_us)
  write_postfix_config
  launch_postfix
  finish_postfix
  say "  postfix: ready, master pid $(pid_of postfix) ($(since "$t") incl. config)"

  if [[ $WITH_MONGO == 1 ]]; then
    t=$(now_us)
    launch_mongoeco
    finish_mongoeco
    say "  mongoeco: ready, pid $(pid_of mongoeco) ($(since "$t"))"
  fi

  if with_rabbitmq; then
    t=$(now_us)
    finish_rabbitmq
    say "  rabbitmq: ready, pid $(pid_of rabbitmq) ($(since "$t_rabbit") since launch, waited $(since "$t"))"
  fi

  START_OK=1
  trap - EXIT
  print_summary
  say "TIMING start: $(since "$t0")"
}

# ----------------------------------------------------------------------------------------------
# status / wait
# ----------------------------------------------------------------------------------------------
component_ports() {
  case $1 in
    rabbitmq) printf '%s' "$AMQP_PORT" ;;
    dovecot) printf '%s %s %s %s %s' "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT" "$SIEVE_PORT" ;;
    postfix) printf '%s' "$SMTP_PORT" ;;
    mongoeco) printf '%s' "$MONGO_PORT" ;;
  esac
}

do_status() {
  load_saved_settings
  local c rc=0 pid ports
  for c in "${COMPONENTS_ALL[@]}"; do
    ports=$(component_ports "$c")
    if ! has_component "$c"; then
      printf '%-9s disabled\n' "$c"
      continue
    fi
    if running "$c"; then
      pid=$(pid_of "$c")
      printf '%-9s running  pid %-7s %s:%s\n' "$c" "$pid" "$(component_listen "$c")" "${ports// /,}"
    else
      printf '%-9s stopped\n' "$c"
      rc=3
    fi
  done
  return "$rc"
}

do_wait() {
  load_saved_settings
  local end=$(( $(now_us) + WAIT_TIMEOUT * 1000000 )) c p t0 missing
  t0=$(now_us)
  while :; do
    missing=()
    for c in $(enabled_components); do
      for p in $(component_ports "$c"); do
        port_open "$p" "$(component_host "$c")" || missing+=("$c:$p")
      done
    done
    [[ -S $DC/run/lmtp ]] || missing+=("dovecot:lmtp-socket")
    (( ${#missing[@]} == 0 )) && break
    if (( $(now_us) >= end )); then
      die "not ready after ${WAIT_TIMEOUT}s: ${missing[*]} (state dir $STATE_DIR)"
    fi
    sleep 0.1
  done
  say "all ports ready ($(since "$t0"))"
}

# ----------------------------------------------------------------------------------------------
# foreground (the container's PID 1)
# ----------------------------------------------------------------------------------------------
component_logs() {
  case $1 in
    rabbitmq) printf '%s\n' "$RMQ/log/stdout.log" "$RMQ/log/$RABBIT_NODENAME.log" ;;
    dovecot) printf '%s\n' "$DC/log/stdout.log" "$DC/log/dovecot.log" ;;
    postfix) printf '%s\n' "$PF/log/postfix.log" ;;
    mongoeco) printf '%s\n' "$LOGS/mongoeco.log" ;;
  esac
}

FG_SIGNAL=
do_foreground() {
  # PID 1 ignores signals it has no handler for: trap them before starting. A signal during the
  # start is acted on once the start is done.
  trap 'FG_SIGNAL=TERM' TERM
  trap 'FG_SIGNAL=INT' INT
  do_start
  local comps c pid f sleeper=''
  mapfile -t comps < <(enabled_components)
  say "foreground: watching ${comps[*]} (pid $$); SIGTERM or SIGINT stops the stack"
  while [[ -z $FG_SIGNAL ]]; do
    for c in "${comps[@]}"; do
      running "$c" && continue
      pid=$(pid_of "$c")
      printf '%s: error: %s (pid %s) is no longer running; stopping the rest of the stack\n' \
        "$PROG" "$c" "${pid:-?}" >&2
      while read -r f; do log_tail "$f" 30; done < <(component_logs "$c")
      # the dead master's helpers (Dovecot's login/auth processes, Postfix's qmgr, ...) exit on
      # their own when they notice; hurry along any left in its process group
      [[ -n $pid ]] && { kill -TERM -- "-$pid" 2>/dev/null || true; }
      do_stop >&2 || true
      exit 1
    done
    # wait (unlike a plain sleep) returns as soon as a trapped signal arrives, and bash reaps
    # every exited child meanwhile, including orphans re-parented to it as a container's PID 1
    sleep 1 &
    sleeper=$!
    wait "$sleeper" || true
  done
  if [[ -n $sleeper ]]; then
    kill "$sleeper" 2>/dev/null || true
    wait "$sleeper" 2>/dev/null || true
  fi
  say "foreground: received SIG$FG_SIGNAL; stopping"
  trap '' TERM INT
  do_stop
  exit 0
}

# ----------------------------------------------------------------------------------------------
main() {
  local cmd=${1:-}
  load_settings
  case $cmd in
    -h | --help | help) ;;
    cluster) shift; exec "$SCRIPT_DIR/rabbit-cluster.sh" "$@" ;;
    *) validate_mode ;;
  esac
  case $cmd in
    install) do_install ;;
    install-browser) do_install_browser ;;
    install-deploy-tools) do_install_deploy_tools ;;
    start) do_start ;;
    foreground) do_foreground ;;
    stop)
      load_saved_settings
      do_stop
      ;;
    status) do_status ;;
    wait) do_wait ;;
    -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
    *)
      printf 'usage: %s install|install-browser|install-deploy-tools|start|stop|status|wait|foreground|cluster ...\n' "$0" >&2
      exit 2
      ;;
  esac
}

# sourced by rabbit-cluster.sh for its helpers: run only when executed
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
