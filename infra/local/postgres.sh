#!/usr/bin/env bash
# The project's own Postgres cluster: data in .run/pg, listening on 127.0.0.1:$PG_PORT only, one
# database per service owned by $PG_USER.   usage: postgres.sh start|stop|status
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATABASES=()
for s in "${SERVICES[@]}"; do DATABASES+=("flywheel_$s"); done

find_pg_bin() { # Debian keeps the server binaries off the PATH, newest major version last
  local d
  d=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1 || true)
  if [[ -n $d && -x $d/initdb ]]; then echo "$d"; return; fi
  d=$(command -v initdb) && dirname "$d"
}

ensure_run_dirs
PG_BIN=$(find_pg_bin || true)
if [[ -z $PG_BIN ]]; then
  ensure_debian_packages postgresql
  PG_BIN=$(find_pg_bin) || die "postgresql installed but initdb not found"
fi

PG_OS_USER=$(os_user_for postgres)
PG_DATA=$(runtime_dir "$PG_OS_USER" pg)
PG_BASE=$(dirname "$PG_DATA")
PG_SOCK="$PG_BASE/pg-sock"
# A unix socket path must fit in 107 bytes; a deeply nested checkout would not.
if ((${#PG_SOCK} + 20 > 100)); then PG_SOCK="$(tmp_base)/pg-sock"; fi
PG_LOG="$RUN/logs/postgres.log"

pg() { as_user "$PG_OS_USER" "$@"; }
pg_ctl() { pg "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }
is_running() { pg_ctl status >/dev/null 2>&1; }

init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "postgres: creating cluster in $PG_DATA"
  # A folder without PG_VERSION is a leftover of an interrupted initdb: ours to clear.
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  chown "$PG_OS_USER:" "$PG_DATA"
  chmod 700 "$PG_DATA"
  # Local (socket) connections are trusted: the socket folder is private to the postgres user
  # (and root). Everything over TCP needs a password. C.UTF-8 keeps encoding and sorting
  # independent of whatever locale the machine happens to have.
  pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  echo "include_if_exists = 'flywheel.conf'" >>"$PG_DATA/postgresql.conf"
}

write_config() { # rewritten on every start so a port changed in .env takes effect
  local conf
  conf=$(
    cat <<EOF
# Written by infra/local/postgres.sh on every start; edit .env instead.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
# Every service keeps a pool, tests create throwaway databases: the default 100 is too few.
max_connections = 200
# The bench's scale shop (millions of orders and ledger rows) needs more than the 128 MB default,
# and bulk seeding more WAL between checkpoints.
shared_buffers = ${PG_SHARED_BUFFERS:-512MB}
max_wal_size = 4GB
EOF
  )
  pg tee "$PG_DATA/flywheel.conf" >/dev/null <<<"$conf"
  mkdir -p "$PG_SOCK"
  chown "$PG_OS_USER:" "$PG_SOCK"
  chmod 700 "$PG_SOCK"
  # The log lives with the other logs; the server (running as postgres) has to be able to write it.
  [[ -f $PG_LOG && ! -L $PG_LOG ]] || { rm -f "$PG_LOG"; touch "$PG_LOG"; }
  chown "$PG_OS_USER" "$PG_LOG"
  if ! pg test -w "$PG_LOG"; then # .run not reachable: log next to the data instead
    PG_LOG="$PG_BASE/postgres.log"
    touch "$PG_LOG"
    chown "$PG_OS_USER" "$PG_LOG"
    ln -sfn "$PG_LOG" "$RUN/logs/postgres.log"
  fi
}

psql_admin() { pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

ensure_role_and_databases() {
  # psql variables (:'x') quote the values, \gexec runs the generated statements. The password is
  # set on every start so it follows .env.
  psql_admin -v user="$PG_USER" -v pw="$PG_PASSWORD" -v dbs="${DATABASES[*]}" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pw')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'user')
  FROM unnest(string_to_array(:'dbs', ' ')) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SQL
}

start() {
  if is_running; then
    log "postgres: already running on 127.0.0.1:$PG_PORT"
  else
    if port_open 127.0.0.1 "$PG_PORT"; then
      die "postgres: port $PG_PORT is taken by another program; change PG_PORT in .env"
    fi
    init_cluster
    write_config
    local t0=$SECONDS
    pg_ctl -l "$PG_LOG" -w -t 60 start >/dev/null \
      || { tail -n 40 "$PG_LOG" >&2; die "postgres: failed to start (log: $PG_LOG)"; }
    log "postgres: started on 127.0.0.1:$PG_PORT in $((SECONDS - t0))s (data: $PG_DATA)"
  fi
  ensure_role_and_databases
}

stop() {
  if is_running; then
    pg_ctl -m fast -w -t 60 stop >/dev/null
    log "postgres: stopped"
  else
    log "postgres: not running"
  fi
}

status() {
  local pid
  if is_running; then
    pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')
    printf '%-14s running  pid %-8s 127.0.0.1:%s  data %s\n' postgres "$pid" "$PG_PORT" "$PG_DATA"
  else
    printf '%-14s stopped\n' postgres
    return 3
  fi
}

case "${1:-}" in
  start | stop | status) "$1" ;;
  *) die "usage: $0 start|stop|status" ;;
esac
