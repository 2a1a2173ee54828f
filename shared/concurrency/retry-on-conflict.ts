/**
 * Optimistic concurrency, written once: read, compute, write on the condition that what was read
 * is unchanged (a Table row's ETag, or any store's version tag), and on a lost race read again
 * and recompute. The Table stores that read-modify-write (the interval ledger's rows, a model's
 * state, a training run) and the alert service (an alert's row, behind its AlertStore) call this
 * with one attempt; the rules they apply stay pure functions of what was read. It knows no
 * storage: each caller says what a lost race is (a 409 or 412 for the Table stores: azure/status.ts
 * isTaken; a ConflictError from a store contract).
 *
 *   await retryOnConflict(async () => (await tryOnce()) ?? LOST_RACE, { attempts: 8, exhausted: () => new DependencyError(...) })
 *
 * An attempt returns its result, or LOST_RACE when another writer got there first; the next
 * attempt waits a short random while that grows with the attempt number, so racing writers
 * spread out. After `attempts` lost races, `exhausted()` is thrown: it says what kept changing
 * and that a retry is safe.
 */
export const LOST_RACE: unique symbol = Symbol('lost race');

export async function retryOnConflict<T>(
  attempt: (n: number) => Promise<T | typeof LOST_RACE>,
  opts: { attempts: number; exhausted: () => Error },
): Promise<T> {
  for (let n = 1; n <= opts.attempts; n++) {
    const r = await attempt(n);
    if (r !== LOST_RACE) return r;
    if (n < opts.attempts) await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * n));
  }
  throw opts.exhausted();
}
