#!/usr/bin/env bash
# Some tests run real Debian programs (Chromium for the dashboard, Prometheus). Install the
# package when its command is missing (as root, with apt-get), and stop the system service
# a package may start: the tests run their own instances on free ports.
#   scripts/ensure-debian-package.sh <command> <package> [service]
set -euo pipefail
cmd="$1"; pkg="$2"; service="${3:-}"
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "$cmd not found: installing Debian's $pkg" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
  if [ -n "$service" ]; then (service "$service" stop || systemctl stop "$service") >/dev/null 2>&1 || true; fi
  command -v "$cmd" >/dev/null 2>&1 || { echo "installed $pkg but $cmd is still not on PATH" >&2; exit 1; }
else
  echo "$cmd is required by the tests. Install it: sudo apt-get install -y $pkg" >&2
  exit 1
fi
