/**
 * The host watchdog: what stops a host whose own event loop cannot. A synchronous loop (or a very
 * long CPU-bound stretch) in an activity or an orchestrator blocks the main thread, so no timer
 * fires there: host.json functionTimeout cannot fail the task, HTTP stops answering, and nothing
 * says why. Memory allocated without bound ends the same way (a V8 out-of-memory abort) or worse.
 *
 * So the watch runs on a worker thread (watchdog-thread.ts), which has its own event loop:
 *   - the main thread bumps a counter in shared memory every HEARTBEAT_MS; when it has not moved
 *     for longer than functionTimeout plus a grace (STRATA_WATCHDOG_GRACE), the loop is stuck;
 *   - the thread reads the process's resident memory; past STRATA_MEMORY_BUDGET_MB the host is
 *     over budget (the budget is the host's: one process cannot measure memory per instance; the
 *     code that was running is blamed, as below);
 *   - either way it writes what was running (record.ts) to the data folder, fsynced, and kills
 *     the process: `npm start` restarts it (local/cli/supervise.ts), and the next host fails the
 *     blamed work instead of running it again (local/durable/engine.ts).
 * What was running: Durable invocations post their label to the thread when they start and end
 * (begin()); while the app's callback runs synchronously, a slot in shared memory names it
 * (enter(), functions-core's callback observer). A stall in that synchronous stretch (the common
 * `for(;;){}`) is blamed on exactly that code; one after an await inside the callback is not
 * located, and every Durable invocation still open is only suspected (the engine's crash-restart
 * count then fails the one that keeps stopping the host).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RunningCode } from './record';

/** How often the main thread proves its event loop turns. */
const HEARTBEAT_MS = 250;

/** Slots of the shared Int32Array. */
export const HEARTBEAT_SLOT = 0;
/** 0: no app callback on the stack; > 0: a Durable invocation's token; < 0: -(1 + index of another function's name). */
export const CURRENT_SLOT = 1;

export interface WatchdogOptions {
  /** A main-thread stall longer than this stops the host; undefined: no stall watch (functionTimeout -1). */
  stallMs?: number;
  /** The stall limit in words for messages ("host.json functionTimeout 00:00:05 plus 10 s grace"). */
  stallLimit?: string;
  /** host.json functionTimeout (ms), for the timeout the blamed code is failed with. */
  functionTimeoutMs?: number;
  /** Resident memory above this stops the host; 0: no budget. */
  memoryBudgetBytes: number;
  /** Where the record goes (the host's data folder). */
  dataDir: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

export interface WatchdogThreadData {
  shared: Int32Array;
  stallMs: number | undefined;
  stallLimit: string;
  functionTimeoutMs: number | undefined;
  memoryBudgetBytes: number;
  dataDir: string;
}

export type WatchdogMessage =
  | { op: 'begin'; token: number; code: RunningCode }
  | { op: 'end'; token: number }
  | { op: 'function'; index: number; name: string };

/** What the Durable engine tells the watchdog: this code started (and the returned function: it ended). */
export interface CodeWatch {
  begin(invocationId: string, code: RunningCode): () => void;
}

export class HostWatchdog implements CodeWatch {
  private readonly shared = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  private worker: Worker | undefined;
  private beat: NodeJS.Timeout | undefined;
  private nextToken = 1;
  /** Open Durable invocations by invocation id: their token. */
  private readonly tokens = new Map<string, number>();
  private readonly functionIndex = new Map<string, number>();

  constructor(private readonly o: WatchdogOptions) {}

  start(): void {
    const data: WatchdogThreadData = {
      shared: this.shared,
      stallMs: this.o.stallMs,
      stallLimit: this.o.stallLimit ?? '',
      functionTimeoutMs: this.o.functionTimeoutMs,
      memoryBudgetBytes: this.o.memoryBudgetBytes,
      dataDir: this.o.dataDir,
    };
    const worker = new Worker(path.join(__dirname, 'watchdog-thread.js'), { workerData: data });
    worker.unref();
    worker.on('error', (e) =>
      this.o.log('error', `the host watchdog thread failed (${e.message}); the host runs unwatched`),
    );
    this.worker = worker;
    this.beat = setInterval(() => Atomics.add(this.shared, HEARTBEAT_SLOT, 1), HEARTBEAT_MS);
    this.beat.unref();
    const watches = [
      this.o.stallMs !== undefined ? `an event loop blocked past ${this.o.stallLimit}` : undefined,
      this.o.memoryBudgetBytes ? `memory over ${Math.round(this.o.memoryBudgetBytes / 2 ** 20)} MB` : undefined,
    ].filter(Boolean);
    if (watches.length) this.o.log('debug', `watchdog: restarts the host on ${watches.join(' or ')}`);
  }

  async stop(): Promise<void> {
    clearInterval(this.beat);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  begin(invocationId: string, code: RunningCode): () => void {
    const w = this.worker;
    if (!w) return () => undefined;
    const token = this.nextToken++;
    this.tokens.set(invocationId, token);
    w.postMessage({ op: 'begin', token, code } satisfies WatchdogMessage);
    return () => {
      this.tokens.delete(invocationId);
      w.postMessage({ op: 'end', token } satisfies WatchdogMessage);
    };
  }

  /** The app's callback of this invocation starts running synchronously; the returned function: it returned. */
  enter(invocationId: string, functionName: string): () => void {
    let slot = this.tokens.get(invocationId);
    if (slot === undefined) {
      let index = this.functionIndex.get(functionName);
      if (index === undefined) {
        index = this.functionIndex.size;
        this.functionIndex.set(functionName, index);
        this.worker?.postMessage({ op: 'function', index, name: functionName } satisfies WatchdogMessage);
      }
      slot = -(1 + index);
    }
    const before = Atomics.exchange(this.shared, CURRENT_SLOT, slot);
    return () => void Atomics.store(this.shared, CURRENT_SLOT, before);
  }
}
