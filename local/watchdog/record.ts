/**
 * What the host watchdog leaves behind when it kills a host (local/watchdog/watchdog.ts): one
 * JSON file in the data folder, written and fsynced by the watchdog thread before the kill, read
 * by the next host on that folder before anything resumes, and removed once every extension has
 * taken what it needs. A file and not a Table row: the watchdog thread must write it while the
 * main thread (and with it every storage client) is stuck, and it is only ever read by the next
 * host on the same data folder (the folder lock guarantees there is one at a time).
 */
import fs from 'node:fs';
import path from 'node:path';

export const WATCHDOG_RECORD_FILE = 'watchdog-stop.json';

/** Code the host was running: a Durable activity or orchestrator episode, or another function. */
export interface RunningCode {
  kind: 'activity' | 'orchestrator' | 'function';
  /** The function's name. */
  name: string;
  instanceId?: string;
  executionId?: string;
  /** The activity's task id in its orchestration's history. */
  taskId?: number;
}

export interface WatchdogStop {
  at: string;
  cause: 'stall' | 'memory';
  /** Why, in words: how long the event loop stood still, or how much memory was in use. */
  detail: string;
  /** The limit that was passed, in words ("host.json functionTimeout 00:00:05 plus 10 s grace", "300 MB"). */
  limit: string;
  /** A stall: host.json functionTimeout (ms), the timeout the blamed code is failed with. */
  functionTimeoutMs?: number;
  /** The code that was on the main thread's stack when it stopped (known when the stretch was synchronous). */
  culprit?: RunningCode;
  /** Every Durable invocation that had started and not finished. */
  running: RunningCode[];
}

export function watchdogRecordPath(dataDir: string): string {
  return path.join(dataDir, WATCHDOG_RECORD_FILE);
}

/** Write the record durably (temp file, fsync, rename): the process is killed right after. */
export function writeWatchdogRecord(dataDir: string, stop: WatchdogStop): void {
  const file = watchdogRecordPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(stop));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** The record a watchdog left, if the last host on this folder was stopped by one. */
export function readWatchdogRecord(dataDir: string): WatchdogStop | undefined {
  let text: string;
  try {
    text = fs.readFileSync(watchdogRecordPath(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as WatchdogStop;
  } catch {
    return undefined; // torn by a crash mid-write: nothing reliable to say
  }
}

export function clearWatchdogRecord(dataDir: string): void {
  fs.rmSync(watchdogRecordPath(dataDir), { force: true });
}

/** "activity 'spin' of orchestration 'abc' (task 1)". */
export function describeCode(c: RunningCode): string {
  const what = c.kind === 'function' ? `function '${c.name}'` : `${c.kind} '${c.name}'`;
  return c.instanceId
    ? `${what} of orchestration '${c.instanceId}'${c.taskId !== undefined ? ` (task ${c.taskId})` : ''}`
    : what;
}
