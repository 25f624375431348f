#!/usr/bin/env bash
# Installs the programs the test suite drives for real, from Debian's packages, when they
# are missing: chromium (UI and dashboard checks), prometheus-pushgateway (metrics),
# prometheus (its promtool checks the example alert rules), node/npm (workflow lint). Shared by `make test` and .ci/run so both install the same.
set -euo pipefail
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-liberation)
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
[ ${#need_apt[@]} -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! command -v apt-get >/dev/null 2>&1; then
  echo "the tests need: ${need_apt[*]} (no apt-get here: install them yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
# The Debian packages start a Pushgateway on :9091 and a Prometheus on :9090; tests start
# their own gateways on free ports and need only promtool of the other.
"${sudo[@]}" pkill -x prometheus-pushgateway 2>/dev/null || true
"${sudo[@]}" pkill -x prometheus 2>/dev/null || true
