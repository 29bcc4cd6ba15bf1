#!/usr/bin/env bash
# The whole local stack as plain processes (no Docker):
#   stack.sh up [--infra-only]     install what is missing, start everything, wait until healthy
#   stack.sh down                  stop everything
#   stack.sh status                one line per component
#   stack.sh logs [NAME]           last 100 lines of every log (or of one)
#   stack.sh start|stop|restart NAME   one component (tests restart services mid-flow)
#   stack.sh kill NAME             SIGKILL, no shutdown (chaos tests); `start NAME` brings it back
#   stack.sh scale                 how many instances of each service run (or will run)
#   stack.sh rotate-traces         move aside trace files over TRACE_KEEP_MB of stopped services (up does)
#   stack.sh exec CMD [ARGS...]    run a command with .env exported (make test uses it)
# Components: postgres rabbitmq mailsink customers points referrals reviews notifications gateway console
# SCALE=N (default 1, or what the running stack was started with) runs N instances of each service,
# SERVICE.1 .. SERVICE.N on SERVICE_PORT + INSTANCE_PORT_STEP*i, behind `balancer` (haproxy) on
# SERVICE_PORT, so the gateway, the tests and webhooks keep one address per service. A service's
# name stands for all its instances (stop points = every points instance); points.2 is one of them.
# Processes we start get a log in .run/logs/NAME.log and a pid file in .run/pids/NAME.pid.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$ROOT/infra/local"
HEALTH_TIMEOUT=60
INSTANCE_PORT_STEP=${INSTANCE_PORT_STEP:-1000}

# The scale: SCALE when given, else what the running stack was started with (.run/scale, removed
# by down), else 1. Tests that call `stack.sh up` or `restart points` thus keep the running scale.
if [[ -n ${SCALE:-} ]]; then
  [[ $SCALE =~ ^[1-9][0-9]?$ ]] || die "SCALE must be a whole number from 1 to 99 (got '$SCALE')"
elif [[ -f $RUN/scale ]]; then
  SCALE=$(<"$RUN/scale")
else
  SCALE=1
fi

instances_of() { # instances_of SERVICE -> its process names at the current scale
  if ((SCALE == 1)); then
    echo "$1"
  else
    local i
    for ((i = 1; i <= SCALE; i++)); do echo "$1.$i"; done
  fi
}

service_of() { echo "${1%%.*}"; } # points.2 -> points

is_service() { [[ " ${SERVICES[*]} " == *" $(service_of "$1") "* ]]; }

INSTANCES=()
for s in "${SERVICES[@]}"; do mapfile -t -O "${#INSTANCES[@]}" INSTANCES < <(instances_of "$s"); done
PROCESSES=(mailsink "${INSTANCES[@]}")
((SCALE == 1)) || PROCESSES+=(balancer)
PROCESSES+=(gateway console)

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
    console) echo "${CONSOLE_PORT:-4100}" ;;
    balancer) echo "$CUSTOMERS_PORT" ;; # it listens on every service's port; this one for messages
    *.*) local v && v="$(service_of "$1")" && v="${v^^}_PORT" && echo $((${!v} + INSTANCE_PORT_STEP * ${1##*.})) ;;
    *) local v="${1^^}_PORT" && echo "${!v}" ;;
  esac
}

ports_of() { # every port a process listens on
  if [[ $1 == balancer ]]; then
    local s v
    for s in "${SERVICES[@]}"; do v="${s^^}_PORT" && echo "${!v}"; done
  else
    port_of "$1"
  fi
}

health_url() {
  case $1 in
    mailsink) echo "http://127.0.0.1:$MAILSINK_HTTP_PORT/healthz" ;;
    gateway) echo "http://127.0.0.1:$GATEWAY_PORT/healthcheck" ;;
    balancer) echo "http://127.0.0.1:$CUSTOMERS_PORT/readyz" ;; # the others: see healthy()
    *) echo "http://127.0.0.1:$(port_of "$1")/readyz" ;;
  esac
}

# Keep idle connections longer than the gateway's HTTP client does: with uvicorn's default of 5 s
# the gateway now and then reused a socket uvicorn was closing ("socket hang up" on a subgraph call).
KEEP_ALIVE_SECONDS=75

healthy() { # healthy NAME -> 0 when it answers its health check
  if [[ $1 == balancer ]]; then
    local s v
    for s in "${SERVICES[@]}"; do
      v="${s^^}_PORT" && http_ok "http://127.0.0.1:${!v}/readyz" || return 1
    done
  else
    http_ok "$(health_url "$1")"
  fi
}

write_balancer_config() { # haproxy: one frontend per service on its port, round robin over its instances
  local s v i f="$RUN/balancer.cfg"
  {
    echo "# written by infra/local/stack.sh for SCALE=$SCALE; do not edit"
    echo "global"
    echo "  maxconn 4096"
    echo "defaults"
    echo "  mode http"
    echo "  timeout connect 2s"
    echo "  timeout client 60s"
    echo "  timeout server 60s"
    # A request that cannot reach an instance (killed, restarting) goes to another one; a request
    # an instance took and then died on is not replayed (a mutation must not run twice): 502.
    echo "  retries 3"
    echo "  option redispatch"
    echo "  retry-on conn-failure"
    for s in "${SERVICES[@]}"; do
      v="${s^^}_PORT"
      echo "frontend ${s}"
      echo "  bind 127.0.0.1:${!v}"
      echo "  default_backend ${s}"
      echo "backend ${s}"
      echo "  balance roundrobin"
      # An instance that cannot reach its database takes no traffic; one without the broker still
      # does (its events wait in the outbox). Checked every second: a dead instance leaves the
      # rotation within ~2 s.
      echo "  option httpchk GET /readyz?broker=optional"
      echo "  default-server check inter 1s fall 2 rise 1"
      for ((i = 1; i <= SCALE; i++)); do
        echo "  server ${s}.${i} 127.0.0.1:$(port_of "$s.$i")"
      done
    done
  } >"$f"
  echo "$f"
}

wait_balanced() { # wait_balanced SERVICE: until its address (haproxy) answers /readyz?broker=optional
  local v="${1%%.*}" deadline=$((SECONDS + HEALTH_TIMEOUT))
  v="${v^^}_PORT"
  until http_ok "http://127.0.0.1:${!v}/readyz?broker=optional"; do
    ((SECONDS < deadline)) || die "$1: not reachable through the balancer after ${HEALTH_TIMEOUT}s"
    sleep 0.2
  done
}

haproxy_bin() { # Debian puts it in /usr/sbin, which an ordinary user's PATH may lack
  command -v haproxy || { [[ -x /usr/sbin/haproxy ]] && echo /usr/sbin/haproxy; }
}

command_of() { # the command line of a long-running process, run from the repo root
  case $1 in
    mailsink) echo .venv/bin/python infra/mailsink.py ;;
    gateway) echo bash gateway/start.sh ;;
    console) echo .venv/bin/python -m uvicorn console.server:app --host 127.0.0.1 --port "$(port_of console)" --no-access-log --timeout-keep-alive "$KEEP_ALIVE_SECONDS" ;;
    balancer) echo "$(haproxy_bin)" -db -f "$(write_balancer_config)" ;;
    *) echo .venv/bin/python -m uvicorn "services.$(service_of "$1").app:app" --host 127.0.0.1 --port "$(port_of "$1")" --no-access-log --timeout-keep-alive "$KEEP_ALIVE_SECONDS" ;;
  esac
}

check_present() { # fail with a clear message instead of a crash loop when code is missing
  case $1 in
    mailsink) return 0 ;;
    balancer) haproxy_bin >/dev/null || die "haproxy not found (infra/local/install.sh installs it)" ;;
    gateway) [[ -f gateway/start.sh ]] || die "gateway/start.sh not found" ;;
    console) [[ -f console/server.py ]] || die "console/server.py not found" ;;
    *) local s && s=$(service_of "$1") && { [[ -f services/$s/app.py || -f services/$s/app/__init__.py ]] || die "services/$s/app.py not found"; } ;;
  esac
}

launch() { # launch NAME: start it in the background unless it already runs
  local name=$1 logf="$RUN/logs/$1.log"
  if pid_of "$name" >/dev/null; then # healthy, or still starting: leave it alone
    return 0
  fi
  check_present "$name"
  local p
  for p in $(ports_of "$name"); do
    port_open 127.0.0.1 "$p" && die "$name: port $p is taken by another program (not ours: no live pid file)"
  done
  printf '\n===== %s starting %s =====\n' "$(date -Is)" "$name" >>"$logf"
  # The command line is worked out here, not in the background child: until the child execs it,
  # its /proc cmdline is this script's and pid_of would take it for dead.
  local command
  command=$(command_of "$name")
  # setsid: its own process group, so stop ends the whole tree (should a start script keep a child)
  # and a Ctrl-C in the terminal that ran `make up` does not take the stack down with it.
  # shellcheck disable=SC2086 # command_of prints words meant to be split
  SERVICE_NAME="$(service_of "$name")" setsid nohup $command >>"$logf" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

wait_healthy() { # wait_healthy NAME: until its health URL answers; fail fast if it died
  local name=$1 url deadline=$((SECONDS + HEALTH_TIMEOUT))
  url=$(health_url "$name")
  until healthy "$name"; do
    # Alive by its pid file, not pid_of: until the child launch() forked has exec'd the command, its
    # /proc cmdline is this script's, and pid_of (which also checks the name there) took a balancer
    # that was still starting for dead (a CI run of make test-scale-ci failed so).
    if ! { [[ -f $RUN/pids/$name.pid ]] && alive "$(<"$RUN/pids/$name.pid")"; }; then
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

kill_now() { # kill_now NAME: SIGKILL to its process group, as a crash or the OOM killer would
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.05; done
    log "$name: killed (SIGKILL)"
  fi
  rm -f "$RUN/pids/$name.pid"
}

members() { # members NAME -> the processes NAME stands for (a service: all its instances)
  if [[ " ${SERVICES[*]} " == *" $1 "* ]]; then instances_of "$1"; else echo "$1"; fi
}

start_one() {
  local m
  case $1 in
    postgres | rabbitmq) "$HERE/$1.sh" start ;;
    *)
      for m in $(members "$1"); do launch "$m"; done
      for m in $(members "$1"); do wait_healthy "$m"; done
      ;;
  esac
}

stop_one() {
  local m
  case $1 in
    postgres | rabbitmq) "$HERE/$1.sh" stop ;;
    *) for m in $(members "$1"); do terminate "$m"; done ;;
  esac
}

known() {
  [[ " postgres rabbitmq ${SERVICES[*]} ${PROCESSES[*]} " == *" $1 "* ]] \
    || die "unknown component '$1' (at SCALE=$SCALE: postgres rabbitmq ${PROCESSES[*]})"
}

running_names() { # names with a pid file, whatever the scale they were started with
  local f
  for f in "$RUN"/pids/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/} && echo "${f%.pid}"
  done
}

retire_other_scales() { # stop the service instances (and balancer) the current scale does not have
  local name
  # The balancer's configuration lists the instances: a new scale needs a new one.
  if [[ -f $RUN/scale && $(<"$RUN/scale") != "$SCALE" ]]; then terminate balancer; fi
  for name in $(running_names); do
    if { is_service "$name" || [[ $name == balancer ]]; } && [[ " ${PROCESSES[*]} " != *" $name "* ]]; then
      log "$name: not part of SCALE=$SCALE"
      terminate "$name"
    fi
  done
}

# A service's trace file (TRACE_DIR/<service>.jsonl, appended to by every instance) past
# TRACE_KEEP_MB is moved aside to <service>.jsonl.1 (dropping the one before) when no instance of
# the service runs: nothing rotates it while they write, and on a long-lived dev stack the files grew
# to gigabytes, which the tests that look for a trace read whole. `up` does it before it starts them.
TRACE_KEEP_MB=${TRACE_KEEP_MB:-256}
rotate_traces() {
  local dir=${TRACE_DIR:-.run/traces} running s f name busy
  [[ $dir == /* ]] || dir="$ROOT/$dir"
  running=$(running_names)
  for s in "${SERVICES[@]}"; do
    f="$dir/$s.jsonl"
    [[ -f $f ]] || continue
    (($(stat -c %s "$f") > TRACE_KEEP_MB * 1024 * 1024)) || continue
    busy=
    for name in $running; do [[ $name == "$s" || $name == "$s".* ]] && busy=1; done
    if [[ -n $busy ]]; then
      log "$s: trace file over $TRACE_KEEP_MB MB, kept (the service is running)"
      continue
    fi
    mv -f "$f" "$f.1"
    log "$s: trace file over $TRACE_KEEP_MB MB moved to $f.1"
  done
}

up() {
  local infra_only=
  [[ ${1:-} == --infra-only ]] && infra_only=1
  ensure_run_dirs
  "$HERE/install.sh"
  node_first
  "$HERE/postgres.sh" start
  "$HERE/rabbitmq.sh" start
  start_one mailsink
  if [[ -n $infra_only ]]; then
    log "infra is up: postgres 127.0.0.1:$PG_PORT, rabbitmq 127.0.0.1:$AMQP_PORT, mail sink http://localhost:$MAILSINK_HTTP_PORT/"
    return 0
  fi
  # The service instances boot in parallel (migrations run once: shared/db.py holds an advisory
  # lock), then the balancer in front of them when there are several, then the gateway.
  retire_other_scales
  rotate_traces
  echo "$SCALE" >"$RUN/scale"
  local s
  for s in "${INSTANCES[@]}"; do launch "$s"; done
  for s in "${INSTANCES[@]}"; do wait_healthy "$s"; done
  ((SCALE == 1)) || start_one balancer
  start_one gateway
  start_one console
  echo
  echo "Flywheel is up: http://localhost:$GATEWAY_PORT/graphql"
  echo "  console:    http://localhost:$(port_of console)/   (storefront demo: /demo, widget: /widget.js)"
  ((SCALE == 1)) || echo "  SCALE=$SCALE: ${INSTANCES[*]} behind haproxy on the services' ports"
  echo "  mail sink:  http://localhost:$MAILSINK_HTTP_PORT/  (JSON: /messages)"
  echo "  logs:       .run/logs/<name>.log   (infra/local/stack.sh logs [name])"
  echo "  traces:     ${TRACE_DIR:-.run/traces}/<service>.jsonl"
}

down() {
  local name
  # Entry points first (nothing new comes in), then the instances, whatever scale they run at.
  terminate gateway
  terminate balancer
  for name in $(running_names); do terminate "$name"; done
  rm -f "$RUN/scale"
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
      healthy "$name" || state="running (not healthy: $(health_url "$name"))"
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
    local m
    for m in $(members "$1"); do
      [[ $m == "$1" ]] || echo "==> $RUN/logs/$m.log <=="
      tail -n 100 "$RUN/logs/$m.log"
    done
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
    if [[ $cmd != stop ]] && ((SCALE > 1)) && is_service "$1"; then
      # Ready instances are not yet in haproxy's rotation (checked every second): return only once a
      # request to the service's address gets through, as it does at SCALE=1.
      wait_balanced "$1"
    fi
    ;;
  kill)
    [[ -n ${1:-} ]] || die "usage: $0 kill NAME"
    known "$1"
    [[ $1 != postgres && $1 != rabbitmq ]] || die "kill is for the processes stack.sh starts"
    for m in $(members "$1"); do kill_now "$m"; done
    ;;
  scale) echo "$SCALE" ;;
  rotate-traces) rotate_traces ;;
  exec)
    [[ $# -gt 0 ]] || die "usage: $0 exec CMD [ARGS...]"
    exec "$@"
    ;;
  *)
    sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
