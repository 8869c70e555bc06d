#!/usr/bin/env bash
# A three-node RabbitMQ cluster on one machine, from Debian's rabbitmq-server, without systemd:
# each node with its own name, AMQP and Erlang distribution ports, data and log directories,
# one shared Erlang cookie, joined with `rabbitmqctl join_cluster`. Quorum queue leaders are
# spread over the nodes (queue_leader_locator = balanced). For the failover tests, and to try
# POSTROOM_BROKER_URL with several addresses by hand. Called by `stack.sh cluster ...`.
#
# usage: deploy/local/rabbit-cluster.sh start|stop|status|urls|kill N|start-node N
#
#   start         start the three nodes in parallel, then join nodes 2 and 3 to node 1 (a
#                 cluster started before is started again as it was); prints the timings
#   stop          stop every node, by PID
#   status        each node's state and `rabbitmqctl cluster_status`; exit 0 when all 3 run
#   urls          POSTROOM_BROKER_URL for the cluster (the three AMQP URLs, comma-separated)
#   kill N        SIGKILL node N (1-3): no orderly stop, as when its machine dies
#   start-node N  start node N again and wait until it is back in the cluster
#
# Environment (all optional):
#   POSTROOM_STATE_DIR           <repo>/.state/local  (the cluster lives in $POSTROOM_STATE_DIR/stack/cluster)
#   POSTROOM_CLUSTER_AMQP_PORT   5701   node N listens on this port + N - 1
#   POSTROOM_CLUSTER_DIST_PORT   25701  node N's Erlang distribution port is this + 11 (N - 1);
#                                       the ten ports above it are rabbitmqctl's
#   POSTROOM_CLUSTER_NODE_PREFIX rabbit-c  node N is <prefix>N@localhost
#   POSTROOM_START_TIMEOUT       120    seconds a node may take to boot
#
# Supported: RabbitMQ 3.10 (Debian 12) and 4.0 (Debian 13). Must run as root.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# stack.sh's helpers (say, die, alive, since, epmd_names) and its node configuration
# (write_rabbitmq_config); sourced, it runs nothing
# shellcheck source=stack.sh
. "$SCRIPT_DIR/stack.sh"
PROG=rabbit-cluster.sh
NODES=(1 2 3)

STATE_DIR=$(realpath -m -- "${POSTROOM_STATE_DIR:-$REPO_DIR/.state/local}")
CL=$STATE_DIR/stack/cluster
AMQP_BASE=${POSTROOM_CLUSTER_AMQP_PORT:-5701}
DIST_BASE=${POSTROOM_CLUSTER_DIST_PORT:-25701}
PREFIX=${POSTROOM_CLUSTER_NODE_PREFIX:-rabbit-c}
START_TIMEOUT=${POSTROOM_START_TIMEOUT:-120}

node_name() { printf '%s%s@localhost' "$PREFIX" "$1"; }
amqp_port() { printf '%s' "$(( AMQP_BASE + $1 - 1 ))"; }
dist_port() { printf '%s' "$(( DIST_BASE + 11 * ($1 - 1) ))"; }
node_dir() { printf '%s/node%s' "$CL" "$1"; }
node_pid() { local f; f=$(node_dir "$1")/rabbit.pid; [[ -f $f ]] && tr -dc '0-9' < "$f"; return 0; }
node_up() { local p; p=$(node_pid "$1"); [[ -n $p ]] && alive "$p"; }
check_node() { [[ $1 =~ ^[123]$ ]] || die "node must be 1, 2 or 3, got '${1:-}'"; }

# ctl N ARGS...: rabbitmqctl against node N, in a subshell (the env file sets HOME and PATH)
ctl() {
  local n=$1
  shift
  (
    # shellcheck source=/dev/null
    . "$(node_dir "$n")/env.sh"
    rabbitmqctl "$@"
  )
}

# write_node N: stack.sh's configuration of one node, with node N's name, ports and
# directories, leaders spread, and the HOME (Erlang cookie) all nodes share
write_node() {
  local n=$1
  RMQ=$(node_dir "$n") AMQP_PORT=$(amqp_port "$n") AMQP_DIST_PORT=$(dist_port "$n")
  RABBIT_NODENAME=$(node_name "$n")
  write_rabbitmq_config
  cat >> "$RMQ/rabbitmq.conf" <<EOF
# quorum queue leaders on the node with the fewest (3.10's default puts them all on the node
# the declaring client is connected to)
queue_leader_locator = balanced
EOF
  printf 'export HOME=%q\n' "$CL/home" >> "$RMQ/env.sh"
}

# the cookie every node and rabbitmqctl share (one HOME), written before any node starts:
# nodes started in parallel would each make up their own
write_cookie() {
  mkdir -p "$CL/home"
  if [[ ! -s $CL/home/.erlang.cookie ]]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 > "$CL/home/.erlang.cookie")
  fi
  chmod 400 "$CL/home/.erlang.cookie"
}

launch_node() {
  local n=$1 d short
  d=$(node_dir "$n")
  short=$(node_name "$n")
  short=${short%@*}
  if epmd_names | grep -qxF -- "$short"; then
    die "an Erlang node named '$short' is already running; stop it or set POSTROOM_CLUSTER_NODE_PREFIX"
  fi
  rm -f "$d/rabbit.pid"
  (
    # shellcheck source=/dev/null
    . "$d/env.sh"
    cd "$d"
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server >> "$d/log/stdout.log" 2>&1 < /dev/null &
  )
}

# await_node N: wait until node N has booted (pid file, then the app); on failure its logs
await_node() {
  local n=$1 d
  d=$(node_dir "$n")
  if ! ctl "$n" wait "$d/rabbit.pid" --timeout "$START_TIMEOUT" > "$d/log/wait.log" 2>&1 ||
    ! ctl "$n" await_startup --timeout "$START_TIMEOUT" >> "$d/log/wait.log" 2>&1; then
    printf '%s: error: node %s did not boot; last lines of its logs:\n' "$PROG" "$n" >&2
    tail -n 20 "$d/log/wait.log" "$d/log/stdout.log" "$d/log/$(node_name "$n").log" >&2 2>/dev/null || true
    return 1
  fi
}

# join N: node N (fresh) leaves its own one-node cluster for node 1's
join() {
  local n=$1 log
  log=$(node_dir "$n")/log/join.log
  { ctl "$n" stop_app && ctl "$n" join_cluster "$(node_name 1)" && ctl "$n" start_app; } > "$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "node $n could not join node 1"; }
}

running_nodes() { # as node 1 (or any running node) sees them
  local n
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      ctl "$n" cluster_status --formatter json 2>/dev/null |
        "${POSTROOM_PYTHON:-python3}" -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))' && return 0
    fi
  done
  echo 0
}

do_start() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "rabbitmq-server is not installed; run: deploy/local/stack.sh install"
  local t0 t n pids=() fresh=1 rc=0
  t0=$(now_us)
  [[ -f $CL/joined ]] && fresh=0
  write_cookie
  for n in "${NODES[@]}"; do
    if node_up "$n"; then continue; fi
    write_node "$n"
    launch_node "$n"
  done
  for n in "${NODES[@]}"; do await_node "$n" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  (( rc == 0 )) || { do_stop >&2; die "the cluster did not start"; }
  say "cluster: 3 nodes booted ($(since "$t0"))"
  if (( fresh )); then
    t=$(now_us)
    # one after the other, as RabbitMQ's clustering guide does it
    join 2
    join 3
    touch "$CL/joined"
    say "cluster: nodes 2 and 3 joined node 1 ($(since "$t"))"
  fi
  [[ $(running_nodes) == 3 ]] || die "cluster_status does not show 3 running nodes"
  say "cluster: up in $(since "$t0"): $(do_urls)"
}

do_stop() {
  local n p pids=()
  for n in "${NODES[@]}"; do
    node_up "$n" || continue
    p=$(node_pid "$n")
    pids+=("$p")
    { timeout 60 ctl "$n" shutdown > "$(node_dir "$n")/log/shutdown.log" 2>&1 || kill -TERM "$p" 2>/dev/null; } &
  done
  wait
  for p in "${pids[@]}"; do
    for _ in $(seq 1 300); do alive "$p" || break; sleep 0.1; done
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  # epmd outlives the nodes and is shared by every Erlang node here: stop it only when unused
  if [[ -z $(epmd_names) ]]; then
    for p in $(ps -C epmd -o pid= 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  fi
  say "cluster: stopped"
}

do_status() {
  local n rc=0
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      say "node $n $(node_name "$n") running (pid $(node_pid "$n"), amqp $(amqp_port "$n"))"
    else
      say "node $n $(node_name "$n") stopped"
      rc=3
    fi
  done
  for n in "${NODES[@]}"; do
    if node_up "$n"; then ctl "$n" cluster_status || true; break; fi
  done
  return "$rc"
}

do_urls() {
  local n urls=()
  for n in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/"); done
  (IFS=,; printf '%s\n' "${urls[*]}")
}

do_kill() {
  check_node "$1"
  local p
  p=$(node_pid "$1")
  [[ -n $p ]] && alive "$p" || die "node $1 is not running"
  kill -KILL "$p"
  for _ in $(seq 1 100); do alive "$p" || break; sleep 0.05; done
  say "cluster: node $1 (pid $p) killed"
}

do_start_node() {
  check_node "$1"
  local t0
  t0=$(now_us)
  node_up "$1" && die "node $1 is running"
  write_node "$1"
  launch_node "$1"
  await_node "$1" || die "node $1 did not start"
  [[ $(running_nodes) == 3 ]] || die "node $1 started but is not back in the cluster"
  say "cluster: node $1 back in the cluster ($(since "$t0"))"
}

case ${1:-} in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  urls) do_urls ;;
  kill) do_kill "${2:-}" ;;
  start-node) do_start_node "${2:-}" ;;
  -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *) say "usage: $0 start|stop|status|urls|kill N|start-node N" >&2; exit 2 ;;
esac
