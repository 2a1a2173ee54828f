/**
 * Function-level retry policies (`retry: { strategy, maxRetryCount, ... }` in app.* options),
 * carried out by the host as in Azure for timer and Event Hubs triggers, with `retryContext`.
 * `maxRetryCount: -1` retries until the invocation succeeds (Azure's "retry indefinitely");
 * a stopping host ends the waiting with HostStoppingError, so its trigger does not checkpoint
 * the batch (it is delivered again at the next start).
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

/** The host stopped while an invocation waited for its next retry: not done, not to be checkpointed. */
export class HostStoppingError extends Error {
  constructor(readonly lastError: unknown) {
    super(
      `the host is stopping; the invocation was not retried again (last error: ${(lastError as Error)?.message ?? String(lastError)})`,
    );
    this.name = 'HostStoppingError';
  }
}

export async function invokeWithRetry(
  core: FunctionsCore,
  fn: RegisteredFunction,
  req: InvocationRequest,
  opts: {
    signal?: AbortSignal;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    onRetry?: (retry: number, delayMs: number, err: unknown) => void;
  } = {},
): Promise<InvocationResponse> {
  const o = fn.metadata.retryOptions as RpcRetryOptions | undefined;
  const max = o?.maxRetryCount ?? 0;
  const sleep = opts.sleep ?? abortableSleep;
  for (let retry = 0; ; retry++) {
    try {
      return await core.invoke(
        fn.id,
        retry === 0 ? req : { ...req, retryContext: { retryCount: retry, maxRetryCount: max } },
      );
    } catch (err) {
      if (!o || (max >= 0 && retry >= max)) throw err;
      if (opts.signal?.aborted) throw new HostStoppingError(err);
      const delay = retryDelayMs(o, retry + 1);
      opts.onRetry?.(retry + 1, delay, err);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw new HostStoppingError(err);
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
