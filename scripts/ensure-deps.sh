#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian machine that has only
# Node 20 and npm: the npm packages (which bring Node 24) and the Debian packages
# (HAProxy, iptables; for the benchmarks wrk, etcd and etcdctl, serf and nginx + ModSecurity + CRS). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "lumos: installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund
fi

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
# The packet-loss tests (scripts/fleet/packet-loss.ts) and bench/failover.
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
if [ "${LUMOS_BENCH_DEPS:-0}" = "1" ]; then
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
  command -v serf >/dev/null 2>&1 || missing+=(serf)
  [ -d /usr/share/modsecurity-crs ] || missing+=(nginx libnginx-mod-http-modsecurity modsecurity-crs)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "lumos: missing ${missing[*]}; install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "lumos: installing ${missing[*]} (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
