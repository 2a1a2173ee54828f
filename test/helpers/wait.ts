/**
 * Bounded waits for tests, sized for a busy machine. The suite runs on 2 cores shared with other
 * work (CI, other builds): something that takes 1 s idle can take 30 s at load 15. A wait only
 * lasts long when the thing waited for is slow, so the bound is generous; when it runs out, the
 * error names what was waited for (and the last error seen), never just "timed out".
 *
 *   await eventually(check, WAIT_MS?, 'what')   poll until check() gives a value; errors from check are retried
 *   await until('what', check, WAIT_MS?)        the same, but an error from check fails at once
 *   BUSY_REDIS / BUSY_REDIS_SETTINGS            Redis command timeouts for tests that are not about them
 *
 * Redis timeouts: production reads give up after 1 s (a frozen Redis must answer 503 quickly),
 * but a starved test machine is not a frozen Redis; tests that do not test the timeouts use
 * these instead (the host processes get them as settings, stores built in-process as options).
 */

/** Default bound on one wait in a test. */
export const WAIT_MS = 90_000;

/** Poll until `check` returns a value (not undefined) or time runs out. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = WAIT_MS,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Poll until `check` returns a value; an error it throws ends the wait at once. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = WAIT_MS,
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export const BUSY_REDIS = { readTimeoutMs: 30_000, writeTimeoutMs: 60_000, connectTimeoutMs: 10_000 } as const;
export const BUSY_REDIS_SETTINGS: Record<string, string> = {
  STRATA_REDIS_READ_TIMEOUT_MS: String(BUSY_REDIS.readTimeoutMs),
  STRATA_REDIS_WRITE_TIMEOUT_MS: String(BUSY_REDIS.writeTimeoutMs),
  STRATA_REDIS_CONNECT_TIMEOUT_MS: String(BUSY_REDIS.connectTimeoutMs),
};
