/**
 * A histogram helper thread (see parallel.ts): waits on its control array, runs the kernel
 * it is handed on its chunk of rows, writes the result, signals done; never touches its
 * event loop until told to exit, when it answers with the CPU time it used.
 */
import { workerData } from 'node:worker_threads';
import { accumulateRows, gradientRows, partitionRows } from './histogram';
import { CTRL, OP, type KernelWorkerData } from './parallel';
import { threadCpuMs } from '../thread-cpu';

const { data, hist, goLeft, ctrl } = workerData as KernelWorkerData;
let seen = 0;
Atomics.store(ctrl, CTRL.READY, 1);
Atomics.notify(ctrl, CTRL.READY);
for (;;) {
  Atomics.wait(ctrl, CTRL.SEQ, seen);
  seen = Atomics.load(ctrl, CTRL.SEQ);
  const op = ctrl[CTRL.OP];
  if (op === OP.EXIT) {
    ctrl[CTRL.RESULT] = Math.round(threadCpuMs() ?? -1);
    Atomics.store(ctrl, CTRL.DONE, seen);
    Atomics.notify(ctrl, CTRL.DONE);
    break;
  }
  const begin = ctrl[CTRL.BEGIN]!;
  const end = ctrl[CTRL.END]!;
  let result = 0;
  if (op === OP.GRADIENTS) gradientRows(data, begin, end);
  else if (op === OP.HISTOGRAM) {
    hist.fill(0);
    accumulateRows(data, hist, begin, end);
  } else if (op === OP.SPLIT) {
    const withHist = ctrl[CTRL.WITH_HIST] === 1;
    if (withHist) hist.fill(0);
    result = partitionRows(
      data,
      begin,
      end,
      ctrl[CTRL.FEATURE]!,
      goLeft,
      withHist ? hist : undefined,
      ctrl[CTRL.SIDE]!,
    );
  }
  ctrl[CTRL.RESULT] = result;
  Atomics.store(ctrl, CTRL.DONE, seen);
  Atomics.notify(ctrl, CTRL.DONE);
}
