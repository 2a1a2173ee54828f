import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Sized for CI's 2 cores, shared: each test file may run Azurite, redis-server and a host process
// of its own, so more than two files at once only makes every wait longer. Fewer cores, fewer files.
const workers = Math.max(1, Math.min(2, os.availableParallelism()));
// A few of test/helpers/wait.ts's WAIT_MS (90 s) per test or hook; only a failing test ever uses it all.
const TEST_TIMEOUT_MS = 240_000;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous bounds (a machine at load 15 runs everything ~10x slower); waits inside say what they waited for.
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: TEST_TIMEOUT_MS,
    teardownTimeout: 60_000,
    pool: 'forks',
    maxWorkers: workers,
    reporters: ['default'],
  },
});
