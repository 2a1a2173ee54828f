#!/usr/bin/env bash
# The test command: makes sure redis-server, chromium and prometheus exist (tests start their own on free ports),
# builds (end-to-end tests run the compiled host like `npm start` does), checks the tests'
# types, the formatting and lint rules (no promise left unawaited) and that no modules import each other
# in a circle, then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
bash scripts/ensure-debian-package.sh chromium chromium
bash scripts/ensure-debian-package.sh prometheus prometheus prometheus
npm run --silent build
# The tests themselves are type-checked too (vitest only strips types).
npx tsc -p tsconfig.test.json
# Formatting (prettier) and the linter (typescript-eslint, no-floating-promises first), in check mode.
npm run --silent lint
# No import circles among the app's modules (a folder reads, tests and moves from the bottom up).
node scripts/check-import-cycles.js tsconfig.json
npx vitest run "$@"
