/**
 * Bounded parallel work that never leaves work running behind the caller's back. When one task
 * fails, the others are not abandoned: the call waits until every started task has settled,
 * starts no new one, and only then throws the first error. A caller's cleanup (removing the
 * temporary files the tasks read, a `finally`) therefore never races a task still running, and
 * no rejection is left without a handler.
 *
 *   await forEachLimit(items, 4, async (item, i) => { ... })
 *   const [a, b] = await settleAll([p1, p2])     Promise.all, but waits for both before throwing
 */

/** Run `fn` over `items`, at most `limit` at once. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}

/** Like Promise.all, but settles every promise before throwing the first rejection. */
export async function settleAll<T extends readonly unknown[]>(
  promises: readonly [...T],
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
