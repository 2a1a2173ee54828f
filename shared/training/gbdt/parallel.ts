/**
 * The node kernels spread over helper threads (XGBoost's nthread): each operation on a
 * range of rows is cut into one contiguous chunk per thread; the fit's own thread does the
 * first chunk while helpers do theirs, over the same SharedArrayBuffers. Handing over and
 * waiting are Atomics on a small control array per helper (tens of microseconds), so only
 * ranges of at least MIN_PARALLEL_ROWS are spread.
 *
 * Results do not depend on timing: a split's chunks are stitched back in chunk order, which
 * is exactly the serial stable partition; partial histograms are added in thread order. The
 * sums are grouped differently from one thread's, so a model is reproducible for a given
 * seed and thread count (two threads may differ from one in the last float bits).
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-script';
import {
  SerialKernels,
  accumulateRows,
  addHistogram,
  gradientRows,
  partitionRows,
  type KernelData,
  type NodeKernels,
} from './histogram';

export const MIN_PARALLEL_ROWS = 16_384;

/** Control array slots (Int32) and operations, shared with kernel-worker.ts. */
export const CTRL = {
  SEQ: 0,
  DONE: 1,
  OP: 2,
  BEGIN: 3,
  END: 4,
  FEATURE: 5,
  SIDE: 6,
  WITH_HIST: 7,
  RESULT: 8,
  READY: 9,
  LENGTH: 16,
} as const;

/** A helper that has not come up in this time is given up on (the fit goes on serially). */
const READY_TIMEOUT_MS = 30_000;
/** No kernel call takes this long; a helper silent for it is taken to be dead. */
const STALL_TIMEOUT_MS = 120_000;
export const OP = { GRADIENTS: 1, HISTOGRAM: 2, SPLIT: 3, EXIT: 9 } as const;

export interface KernelWorkerData {
  data: KernelData;
  hist: Float64Array;
  goLeft: Uint8Array;
  ctrl: Int32Array;
}

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  hist: Float64Array;
  seq: number;
}

/** Most threads worth using: the machine's cores. */
export const maxThreads = (): number => os.availableParallelism();

export function createKernels(data: KernelData, threads: number, histLength: number): NodeKernels {
  const t = Math.max(1, Math.min(Math.floor(threads), maxThreads()));
  return t === 1 ? new SerialKernels(data) : new ParallelKernels(data, t, histLength);
}

class ParallelKernels implements NodeKernels {
  private helpers: Helper[] = [];
  private readonly goLeft = new Uint8Array(new SharedArrayBuffer(256));
  private readonly serial: SerialKernels;
  private checked = false;

  constructor(
    readonly data: KernelData,
    threads: number,
    histLength: number,
  ) {
    this.serial = new SerialKernels(data);
    for (let i = 1; i < threads; i++) {
      const ctrl = new Int32Array(new SharedArrayBuffer(CTRL.LENGTH * 4));
      const hist = new Float64Array(new SharedArrayBuffer(histLength * 8));
      const workerData: KernelWorkerData = { data, hist, goLeft: this.goLeft, ctrl };
      const worker = startWorker(__dirname, 'kernel-worker', { workerData });
      worker.unref();
      this.helpers.push({ worker, ctrl, hist, seq: 0 });
    }
  }

  /**
   * Before the first parallel call: every helper must have signalled READY. One that did not
   * (it could not load) would leave this thread waiting forever, so the fit goes on without
   * helpers instead. (A blocked thread cannot see a worker's error event; this is the check.)
   */
  private ready(): boolean {
    if (this.checked) return this.helpers.length > 0;
    this.checked = true;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const h of this.helpers) {
      while (Atomics.load(h.ctrl, CTRL.READY) !== 1 && Date.now() < deadline) Atomics.wait(h.ctrl, CTRL.READY, 0, 50);
    }
    if (this.helpers.every((h) => Atomics.load(h.ctrl, CTRL.READY) === 1)) return true;
    this.close();
    return false;
  }

  /** Chunk boundaries of [begin, end) over 1 + helpers threads. */
  private chunks(begin: number, end: number): number[] {
    const T = this.helpers.length + 1;
    return Array.from({ length: T + 1 }, (_, t) => begin + Math.floor(((end - begin) * t) / T));
  }

  private send(h: Helper, op: number, begin: number, end: number, feature = 0, side = 0, withHist = 0): void {
    const c = h.ctrl;
    c[CTRL.OP] = op;
    c[CTRL.BEGIN] = begin;
    c[CTRL.END] = end;
    c[CTRL.FEATURE] = feature;
    c[CTRL.SIDE] = side;
    c[CTRL.WITH_HIST] = withHist;
    h.seq++;
    Atomics.store(c, CTRL.SEQ, h.seq);
    Atomics.notify(c, CTRL.SEQ);
  }

  private wait(h: Helper): number {
    const deadline = Date.now() + STALL_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(h.ctrl, CTRL.DONE);
      if (done === h.seq) return h.ctrl[CTRL.RESULT]!;
      if (Date.now() > deadline)
        throw new Error(`a histogram helper thread stopped answering (no result in ${STALL_TIMEOUT_MS / 1000} s)`);
      Atomics.wait(h.ctrl, CTRL.DONE, done, 1_000);
    }
  }

  gradients(n: number): void {
    if (n < MIN_PARALLEL_ROWS || !this.ready()) return this.serial.gradients(n);
    const c = this.chunks(0, n);
    this.helpers.forEach((h, i) => this.send(h, OP.GRADIENTS, c[i + 1]!, c[i + 2]!));
    gradientRows(this.data, c[0]!, c[1]!);
    for (const h of this.helpers) this.wait(h);
  }

  rootHistogram(hist: Float64Array, n: number): void {
    if (n < MIN_PARALLEL_ROWS || !this.ready()) return this.serial.rootHistogram(hist, n);
    const c = this.chunks(0, n);
    this.helpers.forEach((h, i) => this.send(h, OP.HISTOGRAM, c[i + 1]!, c[i + 2]!));
    hist.fill(0);
    accumulateRows(this.data, hist, c[0]!, c[1]!);
    for (const h of this.helpers) {
      this.wait(h);
      addHistogram(hist, h.hist);
    }
  }

  split(
    begin: number,
    end: number,
    feature: number,
    goLeft: Uint8Array,
    hist: Float64Array | undefined,
    side: number,
  ): number {
    if (end - begin < MIN_PARALLEL_ROWS || !this.ready())
      return this.serial.split(begin, end, feature, goLeft, hist, side);
    this.goLeft.set(goLeft);
    const c = this.chunks(begin, end);
    this.helpers.forEach((h, i) => this.send(h, OP.SPLIT, c[i + 1]!, c[i + 2]!, feature, side, hist ? 1 : 0));
    hist?.fill(0);
    const lefts = [partitionRows(this.data, c[0]!, c[1]!, feature, this.goLeft, hist, side)];
    for (const h of this.helpers) {
      lefts.push(this.wait(h));
      if (hist) addHistogram(hist, h.hist);
    }
    // Stitch: every chunk's left rows (rows[chunk start..]) in order, then every chunk's right rows (scratch).
    const { rows, scratch } = this.data;
    let at = begin;
    lefts.forEach((nLeft, t) => {
      if (at !== c[t]) rows.copyWithin(at, c[t]!, c[t]! + nLeft);
      at += nLeft;
    });
    const mid = at;
    lefts.forEach((nLeft, t) => {
      const nRight = c[t + 1]! - c[t]! - nLeft;
      rows.set(scratch.subarray(c[t]!, c[t]! + nRight), at);
      at += nRight;
    });
    return mid;
  }

  /** Stop the helpers; returns the CPU time they used (ms, 0 where the platform cannot tell). */
  close(): number {
    let cpuMs = 0;
    for (const h of this.helpers) {
      const ready = Atomics.load(h.ctrl, CTRL.READY) === 1;
      this.send(h, OP.EXIT, 0, 0);
      // A ready helper answers EXIT with its thread's CPU time; give it a moment, never long.
      if (ready) {
        const deadline = Date.now() + 2_000;
        while (Atomics.load(h.ctrl, CTRL.DONE) !== h.seq && Date.now() < deadline)
          Atomics.wait(h.ctrl, CTRL.DONE, Atomics.load(h.ctrl, CTRL.DONE), 50);
        if (Atomics.load(h.ctrl, CTRL.DONE) === h.seq) cpuMs += Math.max(0, h.ctrl[CTRL.RESULT]!);
      }
      void h.worker.terminate();
    }
    this.helpers = [];
    return cpuMs;
  }
}
