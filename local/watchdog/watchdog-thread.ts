/**
 * The watchdog's worker thread (see watchdog.ts): its own event loop watches the main thread's
 * heartbeat and the process's memory, keeps the labels of the code that is running, and when
 * the host is stuck or over budget, writes what was running to the data folder and kills the
 * process (SIGKILL: a stuck main thread would never run a SIGTERM handler).
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { describeCode, RunningCode, writeWatchdogRecord, type WatchdogStop } from './record';
import { CURRENT_SLOT, HEARTBEAT_SLOT, type WatchdogMessage, type WatchdogThreadData } from './watchdog';

/** How often the thread looks: bounds how late a stall is seen and how far memory overshoots the budget. */
const CHECK_MS = 100;

const data = workerData as WatchdogThreadData;
const running = new Map<number, RunningCode>();
const functions = new Map<number, string>();

parentPort!.on('message', (m: WatchdogMessage) => {
  if (m.op === 'begin') running.set(m.token, m.code);
  else if (m.op === 'end') running.delete(m.token);
  else functions.set(m.index, m.name);
});

let lastBeat = Atomics.load(data.shared, HEARTBEAT_SLOT);
let lastTurn = Date.now();

function onStack(): RunningCode | undefined {
  const slot = Atomics.load(data.shared, CURRENT_SLOT);
  if (slot > 0) return running.get(slot);
  if (slot < 0) {
    const name = functions.get(-slot - 1);
    return name === undefined ? undefined : { kind: 'function', name };
  }
  return undefined;
}

function stopHost(cause: WatchdogStop['cause'], detail: string, limit: string): void {
  const culprit = onStack();
  const stop: WatchdogStop = {
    at: new Date().toISOString(),
    cause,
    detail,
    limit,
    ...(cause === 'stall' && data.functionTimeoutMs !== undefined ? { functionTimeoutMs: data.functionTimeoutMs } : {}),
    ...(culprit ? { culprit } : {}),
    running: [...running.values()],
  };
  const blamed = culprit
    ? `while it ran ${describeCode(culprit)}`
    : stop.running.length
      ? `with ${stop.running.map(describeCode).join(', ')} open`
      : 'with no Durable code running';
  try {
    writeWatchdogRecord(data.dataDir, stop);
  } catch (e) {
    fs.writeSync(2, `[watchdog] could not write its record: ${(e as Error).message}\n`);
  }
  fs.writeSync(2, `[watchdog] ${detail} ${blamed}: killing the host so that it restarts\n`);
  process.kill(process.pid, 'SIGKILL');
}

setInterval(() => {
  const now = Date.now();
  const beat = Atomics.load(data.shared, HEARTBEAT_SLOT);
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastTurn = now;
  }
  const still = now - lastTurn;
  if (data.stallMs !== undefined && still > data.stallMs)
    return stopHost(
      'stall',
      `the host's event loop has not turned for ${(still / 1000).toFixed(1)} s (past ${data.stallLimit})`,
      data.stallLimit,
    );
  if (data.memoryBudgetBytes > 0) {
    const rss = process.memoryUsage.rss();
    if (rss > data.memoryBudgetBytes) {
      const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;
      stopHost(
        'memory',
        `the host process uses ${mb(rss)} of memory, over its budget of ${mb(data.memoryBudgetBytes)} (STRATA_MEMORY_BUDGET_MB)`,
        mb(data.memoryBudgetBytes),
      );
    }
  }
}, CHECK_MS);
