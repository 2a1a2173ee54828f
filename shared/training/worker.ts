/**
 * The fit worker: one worker thread per fit (started by runner.ts), so the CPU-heavy loop
 * never runs on the thread that answers HTTP. Runs `runFit` on the job it was started with,
 * posts progress (at most every PROGRESS_MS, and every phase change) and then the outcome,
 * transferring the large buffers instead of copying them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StrataError } from '../errors';
import { runFit, type FitJob, type JobProgress } from './fit';

export const PROGRESS_MS = 200;

export type WorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'result'; outcome: Awaited<ReturnType<typeof runFit>> }
  | {
      type: 'error';
      error: {
        name: string;
        message: string;
        status: number;
        details: Array<{ where: string; problem: string }>;
        stack?: string;
      };
    };

const port = parentPort!;
const { job } = workerData as { job: FitJob };
let last = 0;
let lastPhase = '';

function progress(p: JobProgress): void {
  const now = Date.now();
  const final = p.done !== undefined && p.done === p.total;
  if (p.phase !== lastPhase || final || now - last >= PROGRESS_MS) {
    last = now;
    lastPhase = p.phase;
    port.postMessage({ type: 'progress', progress: p } satisfies WorkerMessage);
  }
}

runFit(job, progress).then(
  (outcome) => {
    const transfer: ArrayBuffer[] = [];
    if (outcome.onnx.buffer instanceof ArrayBuffer && outcome.onnx.byteLength === outcome.onnx.buffer.byteLength)
      transfer.push(outcome.onnx.buffer);
    if (outcome.holdoutPredictions && outcome.holdoutPredictions.buffer instanceof ArrayBuffer)
      transfer.push(outcome.holdoutPredictions.buffer);
    port.postMessage({ type: 'result', outcome } satisfies WorkerMessage, transfer);
  },
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({
      type: 'error',
      error: {
        name: err.name,
        message: err.message,
        status: e instanceof StrataError ? e.status : 500,
        details: e instanceof StrataError ? e.details : [],
        stack: err.stack,
      },
    } satisfies WorkerMessage);
  },
);
