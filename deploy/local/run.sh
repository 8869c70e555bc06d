#!/usr/bin/env bash
# `make run`: install what is missing, start RabbitMQ, the demo mail server (Postfix + Dovecot)
# and the four Postroom services on the embedded SQLite store, then stay in the foreground until
# Ctrl-C, which stops everything this script started, by PID.
#
#   run.sh               foreground (Ctrl-C stops everything)
#   run.sh --background  start and return; `run.sh --stop` (make stop) stops it
#   run.sh --stop        stop a stack started by this script (foreground or background)
#
# Where a Docker engine answers (and POSTROOM_NO_DOCKER is unset), `docker compose up` is used.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/deploy/local
export POSTROOM_STATE_DIR=${POSTROOM_STATE_DIR:-$REPO/.state/local}
STATE=$POSTROOM_STATE_DIR
PIDS=$STATE/pids
LOGS=$STATE/log
SERVICES=(converter replier fetcher api)
MODE=foreground
case "${1:-}" in
  --background) MODE=background ;;
  --stop) MODE=stop ;;
  "") ;;
  *) echo "usage: $0 [--background|--stop]" >&2; exit 2 ;;
esac

alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
pid_of() { [ -f "$PIDS/$1" ] && cat "$PIDS/$1"; }

: "${POSTROOM_AMQP_PORT:=5672}" "${POSTROOM_SMTP_PORT:=2525}" "${POSTROOM_IMAP_PORT:=1143}"
: "${POSTROOM_POP3_PORT:=1110}" "${POSTROOM_API_PORT:=8080}"
export POSTROOM_AMQP_PORT POSTROOM_SMTP_PORT POSTROOM_IMAP_PORT POSTROOM_POP3_PORT POSTROOM_API_PORT

stop_services() {
  local name pid
  for name in api fetcher replier converter; do
    pid=$(pid_of "$name") || continue
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for name in api fetcher replier converter; do
    pid=$(pid_of "$name") || continue
    for _ in $(seq 1 200); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then echo "run: $name ($pid) did not stop in 20 s, killing it" >&2; kill -KILL "$pid" || true; fi
    rm -f "$PIDS/$name"
  done
}

stop_all() {
  trap - INT TERM
  echo "run: stopping Postroom services"
  stop_services
  echo "run: stopping RabbitMQ and the demo mail server"
  "$HERE/stack.sh" stop || true
  rm -f "$STATE/run.pid"
  echo "run: everything stopped"
}

any_service_alive() {
  local name pid
  for name in "${SERVICES[@]}"; do
    pid=$(pid_of "$name") && alive "$pid" && return 0
  done
  return 1
}

all_services_alive() { # when -> 1 (after showing its log) if a service has exited
  local name
  for name in "${SERVICES[@]}"; do
    if ! alive "$(pid_of "$name")"; then
      echo "run: $name exited $1; last lines of $LOGS/$name.log:" >&2
      tail -n 20 "$LOGS/$name.log" >&2
      return 1
    fi
  done
}

if [ "$MODE" = stop ]; then
  if [ -f "$STATE/run.pid" ] && alive "$(cat "$STATE/run.pid")"; then
    sup=$(cat "$STATE/run.pid"); kill -TERM "$sup"
    for _ in $(seq 1 600); do alive "$sup" || break; sleep 0.1; done
    exit 0
  fi
  stop_all
  exit 0
fi

secret_file() { # name -> prints a secret kept under $STATE (created once, mode 600)
  local f=$STATE/$1
  if [ ! -s "$f" ]; then
    mkdir -p "$STATE"
    (umask 077; head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 43 > "$f")
  fi
  cat "$f"
}
# Demo mode: keys not given in the environment are generated once and kept under $STATE.
GENERATED_KEY=""
if [ -z "${POSTROOM_ADMIN_API_KEY:-}" ]; then
  POSTROOM_ADMIN_API_KEY=$(secret_file admin-api-key); GENERATED_KEY=1
fi
: "${POSTROOM_SECRET_KEY:=$(secret_file secret-key)}"
export POSTROOM_ADMIN_API_KEY POSTROOM_SECRET_KEY

docker_ready() {
  [ -z "${POSTROOM_NO_DOCKER:-}" ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 || return 1
  if ! docker compose version >/dev/null 2>&1; then
    echo "run: a Docker engine answers but 'docker compose' is missing; using the local stack" >&2
    return 1
  fi
}

if docker_ready; then
  echo "run: a Docker engine answers: using docker compose (set POSTROOM_NO_DOCKER=1 to avoid)"
  echo "run: admin API key: $POSTROOM_ADMIN_API_KEY${GENERATED_KEY:+ (generated, kept in $STATE/admin-api-key)}"
  cd "$REPO"
  if [ "$MODE" = background ]; then exec docker compose up --build --detach --wait; fi
  exec docker compose up --build
fi

if any_service_alive; then
  echo "run: Postroom is already running from $STATE (pids: $(cat "$PIDS"/{converter,replier,fetcher,api} 2>/dev/null | tr '\n' ' '))."
  echo "run: API on http://127.0.0.1:$POSTROOM_API_PORT ; stop it with 'make stop'."
  exit 0
fi

mkdir -p "$STATE" "$PIDS" "$LOGS" "$STATE/data"
"$HERE/bootstrap.sh" > /dev/null
"$HERE/stack.sh" install
"$HERE/stack.sh" start

: "${POSTROOM_STORE_URL:=sqlite:///$STATE/data/postroom.db}"
export POSTROOM_STORE_URL
export POSTROOM_BROKER_URL=${POSTROOM_BROKER_URL:-amqp://guest:guest@127.0.0.1:$POSTROOM_AMQP_PORT/}
# The replier's built-in relay is the demo Postfix (loopback, no TLS needed).
export POSTROOM_SMTP_HOST=${POSTROOM_SMTP_HOST:-127.0.0.1} POSTROOM_SMTP_PORT POSTROOM_SMTP_SECURITY=${POSTROOM_SMTP_SECURITY:-none}
export POSTROOM_INSTANCE=${POSTROOM_INSTANCE:-postroom-demo}
# The API reads POSTROOM_API_PORT itself; the stack script uses POSTROOM_SMTP_PORT for Postfix.

"$REPO/.venv/bin/postroom" seed-demo --imap-port "$POSTROOM_IMAP_PORT"

if [ "$MODE" = foreground ]; then
  echo $$ > "$STATE/run.pid"
  trap 'stop_all; exit 0' INT TERM
fi
# Prometheus /metrics of the services follow the API port (8080 -> 9101-9103, the services'
# defaults), so stacks on other ports (the tests') never collide; the API serves its own.
metrics_base=$(( POSTROOM_API_PORT + 1020 ))
declare -A METRICS_PORT=([fetcher]=$(( metrics_base + 1 )) [converter]=$(( metrics_base + 2 ))
  [replier]=$(( metrics_base + 3 )) [api]=0)
for name in "${SERVICES[@]}"; do
  POSTROOM_METRICS_PORT=${METRICS_PORT[$name]} setsid "$REPO/.venv/bin/postroom-$name" >> "$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name"
done

echo "run: waiting for every service to report ready (GET /readyz)"
ready=""
for _ in $(seq 1 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$POSTROOM_API_PORT/readyz" || true)
  if [ "$code" = 200 ]; then ready=1; break; fi
  all_services_alive "during start" || { stop_all; exit 1; }
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "run: not ready after 60 s:" >&2
  curl -s "http://127.0.0.1:$POSTROOM_API_PORT/readyz" >&2 || true; echo >&2
  stop_all; exit 1
fi

cat <<INFO

Postroom is running (store: ${POSTROOM_STORE_URL%%:*}, state: $STATE)
  Console       http://127.0.0.1:$POSTROOM_API_PORT/ui   (sign in with the admin API key below)
  API           http://127.0.0.1:$POSTROOM_API_PORT   docs: http://127.0.0.1:$POSTROOM_API_PORT/docs
  Events        http://127.0.0.1:$POSTROOM_API_PORT/asyncapi (AsyncAPI)
  Metrics       http://127.0.0.1:$POSTROOM_API_PORT/metrics, fetcher/converter/replier :${METRICS_PORT[fetcher]}/:${METRICS_PORT[converter]}/:${METRICS_PORT[replier]}
  Admin API key $POSTROOM_ADMIN_API_KEY${GENERATED_KEY:+   (generated, kept in $STATE/admin-api-key)}
  SMTP in       127.0.0.1:$POSTROOM_SMTP_PORT (Postfix, domain example.test)
  IMAP / POP3   127.0.0.1:$POSTROOM_IMAP_PORT / 127.0.0.1:$POSTROOM_POP3_PORT (Dovecot)
  Mailboxes     support@example.test / support, customer@example.test / customer
                outbound@example.test / outbound (mail to any other domain lands here)
  RabbitMQ      amqp://guest:guest@127.0.0.1:$POSTROOM_AMQP_PORT/
  Logs          $LOGS/<service>.log
Try: curl -H "Authorization: Bearer $POSTROOM_ADMIN_API_KEY" http://127.0.0.1:$POSTROOM_API_PORT/v1/items
INFO

if [ "$MODE" = background ]; then
  echo "Running in the background; 'make stop' stops it."
  exit 0
fi
echo "Press Ctrl-C to stop everything."
while true; do
  all_services_alive "unexpectedly" || { stop_all; exit 1; }
  sleep 1 & wait $! || true
done
