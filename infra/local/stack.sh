#!/usr/bin/env bash
# The whole local stack as plain processes (no Docker):
#   stack.sh up [--infra-only]     install what is missing, start everything, wait until healthy
#   stack.sh down                  stop everything
#   stack.sh status                one line per component
#   stack.sh logs [NAME]           last 100 lines of every log (or of one)
#   stack.sh start|stop|restart NAME   one component (tests restart services mid-flow)
#   stack.sh exec CMD [ARGS...]    run a command with .env exported (make test uses it)
# Components: postgres rabbitmq mailsink customers points referrals reviews notifications gateway
# Processes we start get a log in .run/logs/NAME.log and a pid file in .run/pids/NAME.pid.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$ROOT/infra/local"
HEALTH_TIMEOUT=60
PROCESSES=(mailsink "${SERVICES[@]}" gateway)

# Subgraph URLs for the gateway, the same variables docker-compose sets (there: http://customers:4101/...).
for s in "${SERVICES[@]}"; do
  port_var="${s^^}_PORT" url_var="${s^^}_URL"
  [[ -v $url_var ]] || export "$url_var=http://127.0.0.1:${!port_var}/graphql"
done
export PYTHONUNBUFFERED=1 # print() from a service shows up in its log right away

port_of() {
  case $1 in
    postgres) echo "$PG_PORT" ;;
    rabbitmq) echo "$AMQP_PORT" ;;
    mailsink) echo "$MAILSINK_HTTP_PORT" ;;
    gateway) echo "$GATEWAY_PORT" ;;
    *) local v="${1^^}_PORT" && echo "${!v}" ;;
  esac
}

health_url() {
  case $1 in
    mailsink) echo "http://127.0.0.1:$MAILSINK_HTTP_PORT/healthz" ;;
    gateway) echo "http://127.0.0.1:$GATEWAY_PORT/healthcheck" ;;
    *) echo "http://127.0.0.1:$(port_of "$1")/readyz" ;;
  esac
}

command_of() { # the command line of a long-running process, run from the repo root
  case $1 in
    mailsink) echo .venv/bin/python infra/mailsink.py ;;
    gateway) echo bash gateway/start.sh ;;
    # Keep-alive past the gateway's 5 s idle-socket timeout (Node's agent), so the gateway always
    # closes an idle connection first: at 5 s on both sides a request could meet a closing socket
    # ("socket hang up", an INTERNAL_SERVER_ERROR for the caller).
    *) echo .venv/bin/python -m uvicorn "services.$1.app:app" --host 127.0.0.1 --port "$(port_of "$1")" --no-access-log --timeout-keep-alive 30 ;;
  esac
}

check_present() { # fail with a clear message instead of a crash loop when code is missing
  case $1 in
    mailsink) return 0 ;;
    gateway) [[ -f gateway/start.sh ]] || die "gateway/start.sh not found" ;;
    *) [[ -f services/$1/app.py || -f services/$1/app/__init__.py ]] || die "services/$1/app.py not found" ;;
  esac
}

launch() { # launch NAME: start it in the background unless it already runs
  local name=$1 logf="$RUN/logs/$1.log"
  if pid_of "$name" >/dev/null; then # healthy, or still starting: leave it alone
    return 0
  fi
  check_present "$name"
  if port_open 127.0.0.1 "$(port_of "$name")"; then
    die "$name: port $(port_of "$name") is taken by another program (not ours: no live pid file)"
  fi
  printf '\n===== %s starting %s =====\n' "$(date -Is)" "$name" >>"$logf"
  # setsid: its own process group, so stop ends the whole tree (should a start script keep a child)
  # and a Ctrl-C in the terminal that ran `make up` does not take the stack down with it.
  # shellcheck disable=SC2046 # command_of prints words meant to be split
  SERVICE_NAME="$name" setsid nohup $(command_of "$name") >>"$logf" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

wait_healthy() { # wait_healthy NAME: until its health URL answers; fail fast if it died
  local name=$1 url deadline=$((SECONDS + HEALTH_TIMEOUT))
  url=$(health_url "$name")
  until http_ok "$url"; do
    if ! pid_of "$name" >/dev/null; then
      show_failure "$name" "exited before becoming healthy"
    fi
    if ((SECONDS >= deadline)); then
      show_failure "$name" "not healthy after ${HEALTH_TIMEOUT}s ($url)"
    fi
    sleep 0.3
  done
  log "$name: ready on 127.0.0.1:$(port_of "$name") (pid $(pid_of "$name"))"
}

show_failure() {
  echo "----- last 40 lines of .run/logs/$1.log -----" >&2
  tail -n 40 "$RUN/logs/$1.log" >&2 || true
  echo "-----" >&2
  die "$1: $2"
}

terminate() { # terminate NAME: SIGTERM to its process group, SIGKILL after 10 s
  local name=$1 pid
  if ! pid=$(pid_of "$name"); then
    rm -f "$RUN/pids/$name.pid"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  if alive "$pid"; then
    log "$name: still alive after 10 s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$RUN/pids/$name.pid"
  log "$name: stopped"
}

start_one() {
  case $1 in
    postgres | rabbitmq) "$HERE/$1.sh" start ;;
    *) launch "$1" && wait_healthy "$1" ;;
  esac
}

stop_one() {
  case $1 in
    postgres | rabbitmq) "$HERE/$1.sh" stop ;;
    *) terminate "$1" ;;
  esac
}

known() { [[ " postgres rabbitmq ${PROCESSES[*]} " == *" $1 "* ]] || die "unknown component '$1'"; }

up() {
  local infra_only=
  [[ ${1:-} == --infra-only ]] && infra_only=1
  ensure_run_dirs
  "$HERE/install.sh"
  "$HERE/postgres.sh" start
  "$HERE/rabbitmq.sh" start
  start_one mailsink
  if [[ -n $infra_only ]]; then
    log "infra is up: postgres 127.0.0.1:$PG_PORT, rabbitmq 127.0.0.1:$AMQP_PORT, mail sink http://localhost:$MAILSINK_HTTP_PORT/"
    return 0
  fi
  # The five services boot in parallel, the gateway once they answer.
  local s
  for s in "${SERVICES[@]}"; do launch "$s"; done
  for s in "${SERVICES[@]}"; do wait_healthy "$s"; done
  start_one gateway
  echo
  echo "Flywheel is up: http://localhost:$GATEWAY_PORT/graphql"
  echo "  mail sink:  http://localhost:$MAILSINK_HTTP_PORT/  (JSON: /messages)"
  echo "  logs:       .run/logs/<name>.log   (infra/local/stack.sh logs [name])"
  echo "  traces:     ${TRACE_DIR:-.run/traces}/<service>.jsonl"
}

down() {
  local i
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do terminate "${PROCESSES[i]}"; done
  "$HERE/rabbitmq.sh" stop
  "$HERE/postgres.sh" stop
}

status() {
  "$HERE/postgres.sh" status || true
  "$HERE/rabbitmq.sh" status || true
  local name pid state
  for name in "${PROCESSES[@]}"; do
    if pid=$(pid_of "$name"); then
      state=running
      http_ok "$(health_url "$name")" || state="running (not healthy: $(health_url "$name"))"
      printf '%-14s %s  pid %-8s 127.0.0.1:%s\n' "$name" "$state" "$pid" "$(port_of "$name")"
    else
      printf '%-14s stopped\n' "$name"
    fi
  done
}

logs() {
  local f
  if [[ -n ${1:-} ]]; then
    known "$1"
    tail -n 100 "$RUN/logs/$1.log"
    return
  fi
  for f in "$RUN"/logs/*.log; do
    [[ -e $f ]] || continue
    echo "==> $f <=="
    tail -n 100 "$f"
  done
}

cmd=${1:-}
shift || true
case $cmd in
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  logs) logs "$@" ;;
  start | stop | restart)
    [[ -n ${1:-} ]] || die "usage: $0 $cmd NAME"
    known "$1"
    ensure_run_dirs
    [[ $cmd == start ]] || stop_one "$1"
    [[ $cmd == stop ]] || start_one "$1"
    ;;
  exec)
    [[ $# -gt 0 ]] || die "usage: $0 exec CMD [ARGS...]"
    exec "$@"
    ;;
  *)
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
