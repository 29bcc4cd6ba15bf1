#!/usr/bin/env bash
# Installs whatever the local stack needs and is missing. Cheap to re-run: every step is skipped
# when its stamp (or the binary it looks for) says it is current.
#   install.sh            everything: Debian packages (with chromium for the browser tests), Python
#                         venv, gateway and console npm packages
#   install.sh python     only the venv (and python3-venv if the machine lacks it): for unit tests
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

only=${1:-all}
[[ $only == all || $only == python ]] || die "usage: $0 [python]"

# --- Debian packages ---------------------------------------------------------------------------
# Use what is on the machine (any version on the PATH, or Debian's layout); install from Debian
# only what is missing, all in one apt-get run.
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null; }
have_rabbitmq() { [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || command -v rabbitmq-server >/dev/null; }
# haproxy: the one address per service in front of its instances when the stack runs with SCALE > 1
have_haproxy() { command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]]; }

pkgs=()
if [[ ! -x .venv/bin/python ]]; then
  # Debian's python3 comes without ensurepip (it is in python3-venv), so `-m venv` would fail.
  py=$(command -v python3.11 || command -v python3 || true)
  if [[ -z $py ]]; then
    pkgs+=(python3 python3-venv)
  elif ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
    pkgs+=(python3-venv)
  fi
fi
if [[ $only == all ]]; then
  have_postgres || pkgs+=(postgresql)
  have_rabbitmq || pkgs+=(rabbitmq-server)
  have_haproxy || pkgs+=(haproxy)
  if [[ -f gateway/package-lock.json ]] && ! command -v npm >/dev/null; then
    pkgs+=(nodejs npm)
  fi
  # The browser tests (tests/browser) drive Debian's chromium through playwright-core: no browser
  # download from Playwright's CDN. CHROMIUM_PATH may point at another build.
  if [[ -f console/package-lock.json && -z ${CHROMIUM_PATH:-} ]] && ! command -v chromium >/dev/null; then
    pkgs+=(chromium)
  fi
fi
((${#pkgs[@]} == 0)) || ensure_debian_packages "${pkgs[@]}"

# --- Python venv ---------------------------------------------------------------------------------
stamp_ok() { [[ -f $1 && $(<"$1") == "$2" ]]; }

lock_sum=$(sha256sum requirements.lock | cut -d' ' -f1)
py_stamp=.venv/.flywheel-requirements.sha256
if [[ -x .venv/bin/python ]] && stamp_ok "$py_stamp" "$lock_sum"; then
  log "python venv is current"
else
  if [[ ! -x .venv/bin/python ]]; then
    py=$(command -v python3.11 || command -v python3) || die "no python3 found"
    "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
      || log "warning: $py is not Python 3.11 (pyproject.toml asks for 3.11)"
    log "creating .venv with $py"
    "$py" -m venv .venv
  fi
  log "installing Python packages from requirements.lock"
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
  echo "$lock_sum" >"$py_stamp"
fi
[[ $only == all ]] || exit 0

npm_install() { # npm_install FOLDER: npm ci when its package-lock.json or patches/ changed since the last run
  local dir=$1 sum stamp inputs
  # patches/: what npm's postinstall (patch-package) applies to the installed packages.
  inputs=("$dir/package-lock.json")
  [[ ! -d $dir/patches ]] || inputs+=("$dir"/patches/*.patch)
  sum=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
  stamp=$dir/node_modules/.flywheel-package-lock.sha256
  if [[ -d $dir/node_modules ]] && stamp_ok "$stamp" "$sum"; then
    log "$dir npm packages are current"
  else
    log "installing $dir npm packages (npm ci)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    mkdir -p "$dir/node_modules" # npm makes none when there is nothing to install
    echo "$sum" >"$stamp"
  fi
}

# --- gateway and console npm packages -----------------------------------------------------------
if [[ -f gateway/package-lock.json ]]; then
  # Hive Gateway runs on Node >= 20, but Node 24 spends about a third less of the gateway's CPU on a
  # cache miss than Node 20 (README, Benchmarks); Debian 12 ships 18. The npm registry has Node itself as
  # a package: put one under .run/node (lib.sh puts it first on the PATH when it is there).
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((node_major < 24)); then
    log "node $(node --version 2>/dev/null || echo '(none)') is older than the gateway's 24: installing node 24 into .run/node"
    npm install --prefix "$RUN/node" --no-audit --no-fund --loglevel=error node@24
    node_first
  fi
  npm_install gateway
  [[ ! -f console/package-lock.json ]] || npm_install console
else
  log "gateway/package-lock.json not found, skipping npm"
fi
