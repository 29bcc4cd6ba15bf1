# shellcheck shell=bash disable=SC2034 # the variables defined here are used by the scripts sourcing it
# Shared helpers for the local (no Docker) run scripts. Sourced, never run:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It moves to the repo root, makes sure .env exists, exports it, and defines RUN and helpers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Everything the local stack writes lives here (git-ignored); absolute because postgres and
# rabbitmq get these paths in their configuration.
RUN="$ROOT/.run"
SERVICES=(customers points referrals reviews notifications)
# A Node installed by install.sh because the machine's was too old (see there) comes first; stack.sh
# up asks again after install.sh, which may have just put one there.
node_first() {
  if [[ -x $RUN/node/node_modules/.bin/node && ":$PATH:" != *":$RUN/node/node_modules/.bin:"* ]]; then
    export PATH="$RUN/node/node_modules/.bin:$PATH"
  fi
}
node_first

log() { printf '[flywheel] %s\n' "$*" >&2; }
die() { printf '[flywheel] error: %s\n' "$*" >&2; exit 1; }

# --- .env -------------------------------------------------------------------------------------
# .env is the developer's copy of .env.example. It is parsed (not sourced) because values such as
# `MAIL_FROM=Flywheel <hello@flywheel.test>` are not valid shell, the same way docker compose reads
# it. A variable that is already set in the environment wins (CI can override a port without
# editing files), again like docker compose.
if [[ ! -f .env ]]; then
  cp .env.example .env
  log "created .env from .env.example"
fi

load_env_file() {
  local line key val
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      log "ignoring malformed line in $1: $line"
      continue
    fi
    key=${BASH_REMATCH[2]}
    val=${BASH_REMATCH[3]}
    if [[ $val =~ ^\"(.*)\"[[:space:]]*$ || $val =~ ^\'(.*)\'[[:space:]]*$ ]]; then
      val=${BASH_REMATCH[1]}
    else
      val=${val%%[[:space:]]#*}                      # unquoted: " # ..." starts a comment
      val=${val%"${val##*[![:space:]]}"}             # trailing blanks
    fi
    [[ -v $key ]] || export "$key=$val"
  done <"$1"
}
load_env_file .env

# An .env made rounds ago lacks the keys added to .env.example since (new services' ports, API
# keys the tests use): those take .env.example's values, and the developer is told which they are.
env_keys() { sed -nE 's/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p' "$1" | LC_ALL=C sort -u; }
if [[ -f .env.example ]]; then
  missing_env_keys=$(LC_ALL=C comm -13 <(env_keys .env) <(env_keys .env.example) | tr '\n' ' ')
  missing_env_keys=${missing_env_keys% }
  if [[ -n $missing_env_keys ]]; then
    log ".env lacks ${missing_env_keys}: .env.example's values apply (copy the lines into .env to change them)"
    load_env_file .env.example
  fi
fi

# --- running things as the service users ------------------------------------------------------
# As root, postgres (initdb refuses root) and rabbitmq run as their own system users and own their
# data folders. As an ordinary user (a developer laptop) everything simply runs as that user.
is_root() { [[ $(id -u) == 0 ]]; }

as_user() { # as_user USER CMD [ARGS...]
  local user=$1
  shift
  if is_root && [[ $user != root ]]; then
    # From /: the user may not be allowed into the current folder (a repo under /root), and
    # pg_ctl/erl fail when they cannot read their working directory.
    if command -v runuser >/dev/null; then
      (cd / && runuser -u "$user" -- "$@")
    else
      (cd / && su -s /bin/bash "$user" -c "$(printf '%q ' "$@")")
    fi
  else
    "$@"
  fi
}

os_user_for() { # os_user_for postgres|rabbitmq -> the OS user that owns that component's data
  if is_root; then echo "$1"; else id -un; fi
}

# A component's data folder is $RUN/<name> when its OS user can reach it. Under a private home
# (e.g. the repo in /root, mode 700) it cannot, and opening up parent folders (chmod o+x) is not
# ours to do, so the data then lives in /tmp/flywheel-<hash of repo path>/<name> instead. The
# path is a pure function of the repo path, so every script agrees on it.
runtime_dir() { # runtime_dir OS_USER NAME
  local user=$1 name=$2
  if as_user "$user" test -x "$RUN" -a -r "$RUN" 2>/dev/null; then
    echo "$RUN/$name"
  else
    echo "$(tmp_base)/$name"
  fi
}

tmp_base() {
  local h d
  h=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  d="/tmp/flywheel-$h"
  mkdir -p "$d"
  # /tmp is shared: refuse a folder someone else made for us.
  [[ -O $d ]] || die "$d belongs to another user; remove it or move the repo"
  chmod 755 "$d"
  echo "$d"
}

ensure_run_dirs() {
  mkdir -p "$RUN"/{logs,pids,mail,traces}
  chmod 755 "$RUN"
}

# --- Debian packages --------------------------------------------------------------------------
# Installs missing Debian packages when we may (root with apt); otherwise stops with the exact
# command to run. Never a silent half start.
APT_UPDATED=${APT_UPDATED:-}
ensure_debian_packages() { # ensure_debian_packages PKG...
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if ! is_root || ! command -v apt-get >/dev/null; then
    die "missing packages: ${missing[*]}. Install them, e.g.:
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
  fi
  log "installing Debian packages: ${missing[*]}"
  # Keep the packages' init scripts from starting a system-wide postgres/rabbitmq (on the default
  # ports, all interfaces) during install: we run our own instances. policy-rc.d is the standard
  # Debian hook for that; only add one if the machine has none.
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
  fi
  local rc=0
  if [[ -z $APT_UPDATED ]]; then
    apt-get update -q || rc=$?
    APT_UPDATED=1
  fi
  ((rc)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  [[ -z $added_policy ]] || rm -f "$policy"
  ((rc == 0)) || die "apt-get failed (exit $rc) installing: ${missing[*]}"
}

# --- waiting ----------------------------------------------------------------------------------
port_open() { # port_open HOST PORT -> 0 when something accepts TCP connections there
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

wait_port() { # wait_port HOST PORT TIMEOUT_SECONDS
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

any_python() { # the venv's python once it exists (a minimal image may have no python3 on the PATH)
  if [[ -x $ROOT/.venv/bin/python ]]; then echo "$ROOT/.venv/bin/python"; else echo python3; fi
}

http_ok() { # http_ok URL -> 0 when it answers 2xx
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
  else
    "$(any_python)" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3)
PY
  fi
}

wait_http() { # wait_http URL TIMEOUT_SECONDS
  local deadline=$((SECONDS + $2))
  until http_ok "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

# --- pids ---------------------------------------------------------------------------------------
alive() { # alive PID -> 0 while it runs. A killed child of a slow-reaping init lingers as a zombie,
  # which kill -0 still finds: look at its state too (where /proc exists).
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

pid_of() { # pid_of NAME -> prints the pid when .run/pids/NAME.pid points at a live process
  local f="$RUN/pids/$1.pid" pid cmd
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # After a reboot the pid may belong to something else: our processes name themselves on
  # their command line (services.points.app, infra/mailsink.py, gateway/...).
  if [[ -r /proc/$pid/cmdline ]]; then
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    [[ $cmd == *"${1%%.*}"* ]] || return 1 # points.2 runs services.points.app
  fi
  echo "$pid"
}
