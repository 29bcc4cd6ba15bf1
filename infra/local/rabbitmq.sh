#!/usr/bin/env bash
# The project's own RabbitMQ node, flywheel@localhost: data, logs and config in .run/rabbitmq,
# AMQP on 127.0.0.1:$AMQP_PORT only, no plugins.   usage: rabbitmq.sh start|stop|status
# Tests stop and start it mid-run to simulate a broker outage: both must be quick and reliable,
# and durable queues / persistent messages survive (same node name, same data folder).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A second checkout on the same machine needs its own node name (epmd knows each name once) and
# its own ports: set RABBITMQ_NODENAME and the *_PORT variables in its .env.
NODE=${RABBITMQ_NODENAME:-flywheel@localhost}

find_rmq_sbin() { # Debian's /usr/sbin wrappers always su to rabbitmq and reset HOME; use the real scripts
  if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    echo /usr/lib/rabbitmq/bin
  else
    local s
    s=$(command -v rabbitmq-server) && dirname "$(readlink -f "$s")"
  fi
}

ensure_run_dirs
RMQ_SBIN=$(find_rmq_sbin || true)
if [[ -z $RMQ_SBIN ]]; then
  ensure_debian_packages rabbitmq-server
  RMQ_SBIN=$(find_rmq_sbin) || die "rabbitmq-server installed but not found"
fi

RMQ_OS_USER=$(os_user_for rabbitmq)
BASE=$(runtime_dir "$RMQ_OS_USER" rabbitmq)
PID_FILE="$BASE/$NODE.pid"

# The same environment for the server and for rabbitmqctl. HOME=$BASE matters: Erlang reads the
# cookie from $HOME/.erlang.cookie, so server and CLI agree on it whoever runs this script.
RMQ_ENV=(
  HOME="$BASE"
  LC_ALL=C.UTF-8
  RABBITMQ_NODENAME="$NODE"
  RABBITMQ_MNESIA_BASE="$BASE/mnesia"
  RABBITMQ_LOG_BASE="$BASE/log"
  RABBITMQ_PID_FILE="$PID_FILE"
  RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf"
  RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config"
  RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
  RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf" # keep /etc/rabbitmq/rabbitmq-env.conf out of it
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  RABBITMQ_NODE_PORT="$AMQP_PORT"
  RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
  ERL_EPMD_ADDRESS=127.0.0.1
  # Erlang distribution (node <-> rabbitmqctl) on loopback too, not on all interfaces.
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  ERL_CRASH_DUMP="$BASE/log/erl_crash.dump"
)
rmq() { as_user "$RMQ_OS_USER" env "${RMQ_ENV[@]}" "$@"; }
ctl() { rmq "$RMQ_SBIN/rabbitmqctl" -q -n "$NODE" "$@"; }

server_pid() { # pid of our node when it is alive
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # A pid file left by a crash or a reboot may name some other process by now; ours runs
  # beam with `-home <this folder>`.
  if [[ -r /proc/$pid/cmdline ]] && [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") != *"-home $BASE "* ]]; then
    return 1
  fi
  echo "$pid"
}

prepare() {
  mkdir -p "$BASE"/{mnesia,log}
  # The vhost, user and permissions are imported by the node itself at every boot (idempotent,
  # no extra CLI round trips, so a restart in the middle of a test stays fast). The password is
  # given in clear and hashed by the node; it follows .env on the next start.
  "$(any_python)" - "$BASE/definitions.json" <<'PY'
import json, os, sys
user, vhost = os.environ["AMQP_USER"], os.environ["AMQP_VHOST"]
json.dump({
    "vhosts": [{"name": vhost}],
    "users": [{"name": user, "password": os.environ["AMQP_PASSWORD"], "tags": "administrator"}],
    "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
}, open(sys.argv[1], "w"), indent=2)
PY
  cat >"$BASE/rabbitmq.conf" <<EOF
# Written by infra/local/rabbitmq.sh on every start; edit .env instead.
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
load_definitions = $BASE/definitions.json
log.console = false
log.file.level = info
EOF
  echo '[].' >"$BASE/enabled_plugins" # no plugins: the node starts in a few seconds
  : >"$BASE/rabbitmq-env.conf"
  echo '[].' >"$BASE/advanced.config" # must exist-or-parse: an empty file is an error
  if [[ ! -f $BASE/.erlang.cookie ]]; then
    LC_ALL=C tr -dc '[:upper:]' </dev/urandom | head -c 32 >"$BASE/.erlang.cookie" || true
  fi
  chown -R "$RMQ_OS_USER:" "$BASE"
  chmod 700 "$BASE"
  chmod 600 "$BASE/definitions.json"
  chmod 400 "$BASE/.erlang.cookie"
  ln -sfn "$BASE/log/$NODE.log" "$RUN/logs/rabbitmq.log"
}

wait_boot() { # wait_boot: until the AMQP port opens; give up early once the node has died
  local started=$SECONDS
  until port_open 127.0.0.1 "$AMQP_PORT"; do
    # The pid file appears a few seconds into the boot; without it after 20 s the node is gone.
    if ((SECONDS - started > 90)) || { ((SECONDS - started > 20)) && ! server_pid >/dev/null; }; then
      return 1
    fi
    sleep 0.2
  done
}

boot_failed() {
  tail -n 40 "$BASE/log/$NODE.log" >&2 2>/dev/null || true
  # -detached hides what the node prints before its log file is set up (a bad config file, say);
  # the crash dump's first lines name the reason.
  if [[ -f $BASE/log/erl_crash.dump ]]; then
    head -n 3 "$BASE/log/erl_crash.dump" >&2
  fi
  die "rabbitmq: failed to start (log: $BASE/log/$NODE.log)"
}

start() {
  if server_pid >/dev/null && port_open 127.0.0.1 "$AMQP_PORT"; then
    log "rabbitmq: already running on 127.0.0.1:$AMQP_PORT"
    return 0
  fi
  if ! server_pid >/dev/null && port_open 127.0.0.1 "$AMQP_PORT"; then
    die "rabbitmq: port $AMQP_PORT is taken by another program; change AMQP_PORT in .env"
  fi
  local t0=$SECONDS
  if ! server_pid >/dev/null; then
    prepare
    rm -f "$BASE/log/erl_crash.dump"
    rmq "$RMQ_SBIN/rabbitmq-server" -detached >/dev/null 2>&1 || boot_failed
  fi
  # Listeners open at the end of the boot; await_startup then confirms the node finished booting
  # (and that the CLI can reach it, i.e. the cookie matches).
  wait_boot || boot_failed
  ctl await_startup --timeout 60 || boot_failed
  log "rabbitmq: started $NODE on 127.0.0.1:$AMQP_PORT in $((SECONDS - t0))s (data: $BASE)"
}

wait_gone() { # wait_gone PID SECONDS
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

stop() {
  local pid t0=$SECONDS
  if ! pid=$(server_pid); then
    log "rabbitmq: not running"
    return 0
  fi
  # `rabbitmqctl stop <pidfile>` would wait for the OS process too, but polls only once a second;
  # waiting here ourselves makes a stop take ~2 s instead of ~4 s.
  if ! ctl stop >/dev/null 2>&1; then
    log "rabbitmq: rabbitmqctl stop failed, sending SIGTERM to pid $pid (also a graceful stop)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  if ! wait_gone "$pid" 30; then
    log "rabbitmq: pid $pid still alive after 30 s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || die "rabbitmq: could not stop pid $pid"
  fi
  stop_idle_epmd
  log "rabbitmq: stopped in $((SECONDS - t0))s"
}

stop_idle_epmd() {
  # erl starts the Erlang port mapper daemon (epmd) on demand and leaves it running. Once no node
  # is registered any more nobody needs it; `epmd -kill` refuses anyway while nodes are registered.
  local epmd
  epmd=$(command -v epmd || compgen -G '/usr/lib/erlang/erts-*/bin/epmd' | head -n1) || return 0
  if ! ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -names 2>/dev/null | grep -q '^name '; then
    ERL_EPMD_ADDRESS=127.0.0.1 "$epmd" -kill >/dev/null 2>&1 || true
  fi
}

status() {
  local pid
  if pid=$(server_pid) && port_open 127.0.0.1 "$AMQP_PORT"; then
    printf '%-14s running  pid %-8s 127.0.0.1:%s  data %s\n' rabbitmq "$pid" "$AMQP_PORT" "$BASE"
  else
    printf '%-14s stopped\n' rabbitmq
    return 3
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) die "usage: $0 start|stop|status" ;;
esac
