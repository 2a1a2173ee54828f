/**
 * The training runner: fits run in worker threads, never on the thread that serves
 * requests, and at most `maxConcurrent` at a time per process (default 1: one instance's
 * CPU is for serving first). Jobs tagged `heavy` are held to `maxHeavyConcurrent` (default
 * 1) and fit on one thread, whatever they ask for; other jobs queued behind a waiting heavy
 * job are not held up by it. Queued jobs start in arrival order.
 *
 * `run(job)` resolves with the FitOutcome, or rejects with the fit's error (a ValidationError
 * stays one, so the caller can answer 400 naming the field), with an AbortError when its
 * signal aborts (queued: dropped; running: its worker is terminated), or with an error saying
 * the worker died (e.g. out of memory). Progress messages (queued, started, loading,
 * fitting with trees built / total, evaluating, baseline) go to `onProgress`.
 *
 * The worker script is `worker.js` beside this file in dist/, or `worker.ts` through the
 * TypeScript bootstrap under vitest (worker-script.ts).
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { StrataError, ValidationError } from '../errors';
import type { FitJob, FitOutcome, JobProgress } from './fit';
import { startWorker } from './worker-script';
import type { WorkerMessage } from './worker';

export const HEAVY_TAG = 'heavy';

export interface TrainingRunnerOptions {
  /** Fits running at once in this process (default 1). */
  maxConcurrent?: number;
  /** Fits tagged `heavy` running at once (default 1, never more than maxConcurrent). */
  maxHeavyConcurrent?: number;
  /** Threads one fit may use (default: the machine's cores); heavy fits always get 1. */
  maxThreadsPerFit?: number;
  /** Heap limit of a fit worker in MB (typed arrays live outside it). Default: Node's. */
  maxHeapMb?: number;
}

export type RunnerProgress =
  JobProgress | { phase: 'queued'; position: number } | { phase: 'started'; threads: number };

export interface RunOptions {
  tags?: readonly string[];
  onProgress?: (p: RunnerProgress) => void;
  signal?: AbortSignal;
}

export interface RunnerStatus {
  running: number;
  heavyRunning: number;
  queued: number;
}

interface Entry {
  job: FitJob;
  onAbort?: () => void;
  heavy: boolean;
  opts: RunOptions;
  resolve: (o: FitOutcome) => void;
  reject: (e: unknown) => void;
  worker?: Worker;
  settled: boolean;
}

function positive(v: number | undefined, fallback: number, where: string): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new ValidationError('invalid training runner option', [
      { where, problem: `must be a whole number >= 1, got ${v}` },
    ]);
  return v;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === 'string' ? reason : 'the fit was cancelled');
  e.name = 'AbortError';
  return e;
}

/** A fit error as it crossed the thread boundary, rebuilt as the error type it was. */
function rebuild(e: Extract<WorkerMessage, { type: 'error' }>['error']): Error {
  const err =
    e.status === 400
      ? new ValidationError(e.message, e.details)
      : e.status < 500
        ? new StrataError(e.message, e.status, e.details)
        : new Error(e.message);
  if (!(err instanceof StrataError)) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

export class TrainingRunner {
  readonly maxConcurrent: number;
  readonly maxHeavyConcurrent: number;
  readonly maxThreadsPerFit: number;
  private readonly maxHeapMb: number | undefined;
  private readonly queue: Entry[] = [];
  private readonly running = new Set<Entry>();
  private closed = false;

  constructor(o: TrainingRunnerOptions = {}) {
    this.maxConcurrent = positive(o.maxConcurrent, 1, 'maxConcurrent');
    this.maxHeavyConcurrent = Math.min(this.maxConcurrent, positive(o.maxHeavyConcurrent, 1, 'maxHeavyConcurrent'));
    this.maxThreadsPerFit = positive(o.maxThreadsPerFit, os.availableParallelism(), 'maxThreadsPerFit');
    this.maxHeapMb = o.maxHeapMb;
  }

  status(): RunnerStatus {
    return {
      running: this.running.size,
      heavyRunning: [...this.running].filter((e) => e.heavy).length,
      queued: this.queue.length,
    };
  }

  run(job: FitJob, opts: RunOptions = {}): Promise<FitOutcome> {
    if (this.closed) return Promise.reject(new Error('the training runner is closed'));
    return new Promise<FitOutcome>((resolve, reject) => {
      const entry: Entry = { job, heavy: (opts.tags ?? []).includes(HEAVY_TAG), opts, resolve, reject, settled: false };
      if (opts.signal?.aborted) return reject(abortError(opts.signal));
      entry.onAbort = () => this.cancel(entry);
      opts.signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.queue.push(entry);
      this.pump();
      if (!entry.worker) opts.onProgress?.({ phase: 'queued', position: this.queue.indexOf(entry) + 1 });
    });
  }

  /** Stop every fit: running workers are terminated, queued jobs rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the training runner was closed');
    for (const e of this.queue.splice(0)) this.settle(e, () => e.reject(err));
    await Promise.all(
      [...this.running].map(async (e) => {
        this.settle(e, () => e.reject(err));
        await e.worker?.terminate();
      }),
    );
    this.running.clear();
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.running.size < this.maxConcurrent;) {
      const e = this.queue[i]!;
      const heavyRunning = [...this.running].filter((r) => r.heavy).length;
      if (e.heavy && heavyRunning >= this.maxHeavyConcurrent) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.start(e);
    }
  }

  private start(e: Entry): void {
    const threads = e.heavy ? 1 : Math.min(e.job.threads ?? 1, this.maxThreadsPerFit);
    const job: FitJob = { ...e.job, threads };
    this.running.add(e);
    let worker: Worker;
    try {
      worker = startWorker(__dirname, 'worker', {
        workerData: { job },
        ...(this.maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } } : {}),
      });
    } catch (err) {
      this.finish(e, () => e.reject(err));
      return;
    }
    e.worker = worker;
    e.opts.onProgress?.({ phase: 'started', threads });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') e.opts.onProgress?.(m.progress);
      else if (m.type === 'result') this.finish(e, () => e.resolve(m.outcome));
      else this.finish(e, () => e.reject(rebuild(m.error)));
    });
    worker.on('error', (err) => this.finish(e, () => e.reject(err)));
    worker.on('exit', (code) => {
      this.finish(e, () =>
        e.reject(new Error(`the fit worker exited with code ${code} before finishing (out of memory? see maxHeapMb)`)),
      );
    });
  }

  private cancel(e: Entry): void {
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
    this.finish(e, () => e.reject(abortError(e.opts.signal!)));
  }

  private settle(e: Entry, fn: () => void): void {
    if (e.settled) return;
    e.settled = true;
    if (e.onAbort) e.opts.signal?.removeEventListener('abort', e.onAbort);
    fn();
  }

  /** Settle once, free the slot, stop the worker, start whatever can start now. */
  private finish(e: Entry, fn: () => void): void {
    this.settle(e, fn);
    if (this.running.delete(e)) {
      void e.worker?.terminate();
      this.pump();
    }
  }
}
