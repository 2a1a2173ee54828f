#!/usr/bin/env bash
# Tests and benchmarks start real redis-server processes. Install Debian's when missing.
exec bash "$(dirname "$0")/ensure-debian-package.sh" redis-server redis-server redis-server
