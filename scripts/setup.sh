#!/usr/bin/env bash
# Installs what cipherscope needs and is missing on this machine, then builds it. Safe to run again.
#   - Debian packages: tshark (tests cross-check against it, and captures), tcpdump (the capture filter is checked
#     against its), zstd and xz-utils (compressed captures are read through them), openssl (the certificates of
#     the generated TLS bench capture), python3-dpkt (benchmark anchor),
#     chromium + chromium-driver (the testbed's headless browser and its WebDriver server),
#     python3-sklearn (the random forest is checked against scikit-learn), python3-pandas (the output types are checked
#     in pandas, and python/cipherscope_pandas.py loads records with them), postgresql (the profile store's tests
#     start a real server on loopback), tinyproxy (the proxy-host capture test), redis-server (the
#     distributed workers' test), dnsmasq-base, caddy, nginx-light, iproute2 and ethtool (the namespaced testbed's resolver, TLS front ends,
#     network, and its radio links, which need checksums computed in software), g++ and make (better-sqlite3
#     compiles its SQLite at npm ci)
#   - npm dependencies (npm ci, from package-lock.json) and the TypeScript build (dist/)
# With --bench, also the benchmark anchors that no test needs: python3-torch (bench/ml's PyTorch LSTM).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
[ -x /usr/bin/tcpdump ] || [ -x /usr/sbin/tcpdump ] || need_apt+=(tcpdump)
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
/usr/bin/python3 -c 'import dpkt' >/dev/null 2>&1 || need_apt+=(python3-dpkt)
/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || need_apt+=(python3-sklearn)
/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || need_apt+=(python3-pandas)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/tinyproxy ] || need_apt+=(tinyproxy)
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
[ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
[ -x /usr/bin/caddy ] || need_apt+=(caddy)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[ -x /usr/sbin/ethtool ] || need_apt+=(ethtool)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if [ "${1:-}" = "--bench" ]; then
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need_apt+=(python3-torch)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_apt[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
