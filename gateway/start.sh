#!/usr/bin/env bash
# Runs Hive Gateway in the foreground (exec), so the caller can background it and stop it by pid.
# Sources nothing: the caller exports the settings (GATEWAY_HOST, GATEWAY_PORT, <NAME>_PORT or
# <NAME>_URL, OTEL_EXPORTER_OTLP_ENDPOINT); gateway.config.ts reads them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -x node_modules/.bin/hive-gateway ]]; then
  echo "gateway: dependencies missing; run: (cd gateway && npm ci)" >&2
  exit 1
fi
if [[ ! -f "${SUPERGRAPH_FILE:-supergraph.graphql}" ]]; then
  echo "gateway: ${SUPERGRAPH_FILE:-supergraph.graphql} missing; run: (cd gateway && node compose.mjs)" >&2
  exit 1
fi

# Plain log lines when not on a terminal (set LOG_JSON=1 for JSON lines, LOG_LEVEL=debug for more).
if [[ ! -t 1 ]]; then
  export NO_COLOR="${NO_COLOR:-1}"
fi

# The CLI would let generic HOST/PORT variables override the config file; pass ours explicitly.
exec node_modules/.bin/hive-gateway supergraph \
  --config-path gateway.config.ts \
  --host "${GATEWAY_HOST:-127.0.0.1}" \
  --port "${GATEWAY_PORT:-4000}" \
  "$@"
