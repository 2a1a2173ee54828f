/**
 * Function-level retry policies (`retry: { strategy, maxRetryCount, ... }` in app.* options),
 * carried out by the host as in Azure for timer and Event Hubs triggers, with `retryContext`.
 */
import type { FunctionsCore, InvocationRequest, InvocationResponse, RegisteredFunction } from './functions-core';

interface RpcRetryOptions {
  retryStrategy?: string;
  strategy?: string;
  maxRetryCount?: number;
  delayInterval?: { seconds?: number };
  minimumInterval?: { seconds?: number };
  maximumInterval?: { seconds?: number };
}

/** Delay before retry number `attempt` (1-based), in ms. */
export function retryDelayMs(o: RpcRetryOptions, attempt: number): number {
  const strategy = o.retryStrategy ?? o.strategy;
  if (strategy === 'exponentialBackoff') {
    const min = (o.minimumInterval?.seconds ?? 1) * 1000;
    const max = (o.maximumInterval?.seconds ?? 900) * 1000;
    return Math.min(max, min * 2 ** (attempt - 1));
  }
  return (o.delayInterval?.seconds ?? 0) * 1000;
}

export async function invokeWithRetry(
  core: FunctionsCore,
  fn: RegisteredFunction,
  req: InvocationRequest,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<InvocationResponse> {
  const o = fn.metadata.retryOptions as RpcRetryOptions | undefined;
  const max = o?.maxRetryCount ?? 0;
  for (let retry = 0; ; retry++) {
    try {
      return await core.invoke(fn.id, retry === 0 ? req : { ...req, retryContext: { retryCount: retry, maxRetryCount: max } });
    } catch (err) {
      if (!o || (max >= 0 && retry >= max)) throw err;
      await sleep(retryDelayMs(o, retry + 1));
    }
  }
}
