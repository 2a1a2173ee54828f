#!/usr/bin/env bash
# The test command: makes sure redis-server, chromium and prometheus exist (tests start their own on free ports),
# builds (end-to-end tests run the compiled host like `npm start` does), then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
bash scripts/ensure-debian-package.sh chromium chromium
bash scripts/ensure-debian-package.sh prometheus prometheus prometheus
npm run --silent build
# The tests themselves are type-checked too (vitest only strips types).
npx tsc -p tsconfig.test.json
npx vitest run "$@"
