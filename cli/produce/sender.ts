/**
 * Sending generated records at a target rate: each hub has one worker that sends its queue in
 * batches, one batch at a time (so a hub's events arrive in the order generated), retrying a
 * failed batch with backoff before counting it failed. The pacer hands records to the workers
 * as the clock allows (rate x elapsed), and waits while the workers are behind, so a slow sink
 * lowers the achieved rate instead of filling memory. Stopping (the signal) sends what is
 * queued and ends.
 */
import type { EventHubSink } from '../../shared/azure/event-hub-sink';

export interface Outgoing {
  hub: string;
  body: unknown;
}

export interface SendOptions {
  /** Records per second. */
  rate: number;
  /** Records per send (default 500). */
  batchSize?: number;
  /** Attempts per batch (default 4: waits of 0.25, 1 and 4 s between). */
  attempts?: number;
  signal?: AbortSignal;
  /** After each batch: totals so far. */
  onProgress?: (sent: number, failed: number) => void;
  now?: () => number;
}

export interface SendReport {
  hubs: Record<string, { target: string; sent: number; failed: number }>;
  sent: number;
  failed: number;
  /** The first errors seen (at most 5). */
  errors: string[];
  seconds: number;
  /** Whether the signal stopped it before the records ran out. */
  stopped: boolean;
}

/** How many records the pacer may hand out by `elapsedMs` at `rate`, beyond `taken`. */
export function dueRecords(rate: number, elapsedMs: number, taken: number): number {
  return Math.max(0, Math.floor((rate * elapsedMs) / 1000) - taken);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class HubWorker {
  readonly queue: unknown[] = [];
  sent = 0;
  failed = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  readonly done: Promise<void>;

  constructor(
    private readonly sink: EventHubSink,
    private readonly batchSize: number,
    private readonly attempts: number,
    private readonly report: (error?: string) => void,
  ) {
    this.done = this.loop();
  }

  push(body: unknown): void {
    this.queue.push(body);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (!this.queue.length) {
        if (this.closed) return;
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.splice(0, this.batchSize);
      let error: string | undefined;
      for (let attempt = 0; attempt < this.attempts; attempt++) {
        if (attempt) await sleep(250 * 4 ** (attempt - 1));
        try {
          await this.sink.send(batch);
          error = undefined;
          break;
        } catch (e) {
          error = (e as Error).message;
        }
      }
      if (error === undefined) this.sent += batch.length;
      else this.failed += batch.length;
      this.report(error);
    }
  }
}

export async function sendPaced(
  records: Iterable<Outgoing>,
  sinks: ReadonlyMap<string, EventHubSink>,
  o: SendOptions,
): Promise<SendReport> {
  const now = o.now ?? Date.now;
  const batchSize = o.batchSize ?? 500;
  const errors: string[] = [];
  const workers = new Map<string, HubWorker>();
  const totals = () =>
    [...workers.values()].reduce((t, w) => ({ sent: t.sent + w.sent, failed: t.failed + w.failed }), {
      sent: 0,
      failed: 0,
    });
  const report = (error?: string) => {
    if (error && errors.length < 5) errors.push(error);
    const t = totals();
    o.onProgress?.(t.sent, t.failed);
  };
  const workerFor = (hub: string) => {
    let w = workers.get(hub);
    if (!w) {
      const sink = sinks.get(hub);
      if (!sink) throw new Error(`no sink for hub ${hub}`);
      workers.set(hub, (w = new HubWorker(sink, batchSize, o.attempts ?? 4, report)));
    }
    return w;
  };
  const backlog = () => [...workers.values()].reduce((n, w) => n + w.queue.length, 0);
  const maxBacklog = batchSize * 4 * Math.max(1, sinks.size);
  const tickMs = Math.max(5, Math.min(100, (250 * batchSize) / o.rate));

  const started = now();
  const it = records[Symbol.iterator]();
  let taken = 0;
  let exhausted = false;
  try {
    while (!exhausted && !o.signal?.aborted) {
      const due = Math.min(dueRecords(o.rate, now() - started, taken), maxBacklog - backlog());
      if (due <= 0) {
        await sleep(tickMs);
        continue;
      }
      for (let i = 0; i < due; i++) {
        const next = it.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        workerFor(next.value.hub).push(next.value.body);
        taken++;
      }
    }
  } finally {
    for (const w of workers.values()) w.close();
    await Promise.all([...workers.values()].map((w) => w.done));
  }
  const hubs = Object.fromEntries(
    [...workers].map(([hub, w]) => [hub, { target: sinks.get(hub)!.target, sent: w.sent, failed: w.failed }]),
  );
  const t = totals();
  return { hubs, sent: t.sent, failed: t.failed, errors, seconds: (now() - started) / 1000, stopped: !exhausted };
}
