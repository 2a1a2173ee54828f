#!/usr/bin/env bash
# The test command: makes sure redis-server, chromium and prometheus exist (tests start their own on free ports),
# builds (end-to-end tests run the compiled host like `npm start` does), checks the tests'
# types and that no promise is left unawaited, then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
bash scripts/ensure-debian-package.sh chromium chromium
bash scripts/ensure-debian-package.sh prometheus prometheus prometheus
npm run --silent build
# The tests themselves are type-checked too (vitest only strips types).
npx tsc -p tsconfig.test.json
# No promise left unawaited (typescript-eslint's no-floating-promises rule, on the same program).
node scripts/check-floating-promises.js tsconfig.test.json
npx vitest run "$@"
