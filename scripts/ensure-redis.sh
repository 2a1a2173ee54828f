#!/usr/bin/env bash
# Tests and benchmarks start real redis-server processes. Install Debian's when missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  # The package starts a system service; Strata's tests run their own servers, so stop it.
  (service redis-server stop || systemctl stop redis-server) >/dev/null 2>&1 || true
else
  echo "redis-server is required by the tests. Install it: sudo apt-get install -y redis-server" >&2
  exit 1
fi
