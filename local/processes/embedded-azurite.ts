/**
 * The embedded Azurite of a data dir (`npm start`'s storage), as its own detached process.
 *
 *   const storage = await ensureEmbeddedAzurite({ dataDir, log })   finds the one running for dataDir, or starts one
 *   await storage.stop()                                             graceful: one SIGTERM, then wait until it has saved and exited
 *   await stopEmbeddedAzurite(dataDir, { log })                      the same from another process (`cli.js stop-storage`)
 *
 * Why detached. Azurite keeps its metadata (containers, blobs, tables, entities) in LokiJS
 * databases that it saves every 5 s and on a graceful close. In the host's process group it died
 * with the host: a SIGKILL of the group lost the last seconds of acknowledged writes, and Ctrl-C
 * sent it SIGINT and then the host's SIGTERM, which crashed its second shutdown before the save.
 * In its own session (setsid) it gets no terminal signal and outlives a host crash, like Azure
 * Storage outlives a worker; only a machine crash can still lose up to its autosave interval.
 *
 * Why a pid file. A new host on the same data dir must reuse the Azurite that kept running,
 * never start a second one on the same folder (two LokiJS writers overwrite each other).
 * `<dataDir>/azurite.json` names its pid and ports (kept after a stop, so the next start takes the
 * same ports and connection strings stay valid); it counts as running when that pid is alive,
 * is an Azurite of this folder (/proc cmdline, where there is one) and its three services answer
 * with Azurite's Server header. `<dataDir>/azurite.lock` is held while one process checks and
 * starts, so two processes starting it at once still start one Azurite (and host-lock.ts keeps
 * a second host off a data folder in use).
 *
 * Stopping never SIGKILLs: Azurite's own SIGTERM handler closes the servers and the databases
 * (LokiJS saves what is dirty), and the process exits when that is done. A stop that takes too
 * long is reported and left running, not killed: killing it is what loses data.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { azuriteCommand, waitForAzurite, type AzuritePorts } from './azurite';
import { freePort, portIsFree, START_TIMEOUT_MS } from './ports';
import { azuriteConnectionString } from '../../shared/config';

/** What the pid file holds. */
export interface AzuriteRecord {
  pid: number;
  ports: AzuritePorts;
  location: string;
  startedAt: string;
  /** Set once it was sent its SIGTERM (it is closing and saving). */
  stopRequestedAt?: string;
  /** Set once it exited after a stop: the record stays, so the next start takes the same ports. */
  stoppedAt?: string;
}

export interface EmbeddedAzurite {
  connectionString: string;
  ports: AzuritePorts;
  location: string;
  pid: number;
  /** Found running (a host before this one crashed), not started now. */
  reused: boolean;
  /** Stop it gracefully and wait until it has saved and exited. */
  stop(): Promise<StopResult>;
}

export type StopResult = { status: 'stopped'; pid: number; ms: number } | { status: 'not-running' };

export interface EmbeddedAzuriteOptions {
  dataDir: string;
  log: Logger;
  /** Bound on the start, or on waiting for a running one to answer (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Bound on a graceful stop (default 60 s). */
  stopTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 60_000;
const REPORT_EVERY_MS = 10_000;

export function embeddedAzuriteFiles(dataDir: string) {
  const dir = path.resolve(dataDir);
  return {
    location: path.join(dir, 'azurite'),
    record: path.join(dir, 'azurite.json'),
    lock: path.join(dir, 'azurite.lock'),
    log: path.join(dir, 'azurite.log'),
  };
}
type Files = ReturnType<typeof embeddedAzuriteFiles>;

export async function ensureEmbeddedAzurite(opts: EmbeddedAzuriteOptions): Promise<EmbeddedAzurite> {
  const files = embeddedAzuriteFiles(opts.dataDir);
  fs.mkdirSync(files.location, { recursive: true });
  const timeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
  return withStartLock(files, timeoutMs, opts.log, async () => {
    const last = readRecord(files);
    const previousPorts = last?.ports;
    let running = last?.stoppedAt === undefined ? last : undefined;
    if (running?.stopRequestedAt !== undefined && isAzuriteOf(running.pid, files.location)) {
      // Closing (a stop was asked for): let it finish saving, then start a new one on its data.
      await stopEmbeddedAzurite(opts.dataDir, {
        log: opts.log,
        ...(opts.stopTimeoutMs !== undefined ? { timeoutMs: opts.stopTimeoutMs } : {}),
      });
      running = undefined;
    }
    if (running && isAzuriteOf(running.pid, files.location)) {
      opts.log(
        'info',
        `embedded Azurite: pid ${running.pid} is still running for ${files.location} (started ${running.startedAt}); reusing it`,
      );
      try {
        await waitForAzurite(running.ports, {
          timeoutMs,
          service: `the running Azurite (pid ${running.pid})`,
          onSlow: (m) => opts.log('warn', m),
          abandoned: () => (isAlive(running.pid) ? undefined : 'it exited'),
        });
      } catch (e) {
        if (isAlive(running.pid)) {
          throw new Error(
            `${(e as Error).message}. It keeps the data folder ${files.location}; stop it (node dist/local/cli.js stop-storage --data-dir ${opts.dataDir}) or end pid ${running.pid}, then start again. Its log: ${files.log}`,
          );
        }
        // It died while we waited: start a new one below.
      }
      if (isAlive(running.pid)) return handleOf(files, running, true, opts);
    }
    if (running) opts.log('info', `embedded Azurite: pid ${running.pid} of an earlier run is gone; starting a new one`);
    else if (last)
      opts.log(
        'info',
        `embedded Azurite: starting it again on the data it saved at ${last.stoppedAt ?? last.stopRequestedAt}`,
      );
    return handleOf(files, await spawnDetached(files, previousPorts, timeoutMs, opts), false, opts);
  });
}

/** Stop the embedded Azurite of dataDir (if one runs), waiting until it has saved and exited. */
export async function stopEmbeddedAzurite(
  dataDir: string,
  opts: { log: Logger; timeoutMs?: number },
): Promise<StopResult> {
  const files = embeddedAzuriteFiles(dataDir);
  const rec = readRecord(files);
  if (!rec || rec.stoppedAt !== undefined || !isAzuriteOf(rec.pid, files.location)) return { status: 'not-running' };
  const timeoutMs = opts.timeoutMs ?? STOP_TIMEOUT_MS;
  const started = Date.now();
  // One SIGTERM only: Azurite handles the first one (close and save) and no other, so a second
  // would end it mid-save. A stop already asked for (by a host, or an earlier stop-storage) is waited for.
  if (rec.stopRequestedAt === undefined) {
    opts.log('info', `embedded Azurite: stopping pid ${rec.pid} (waiting until it has saved its data)`);
    writeRecord(files, { ...rec, stopRequestedAt: new Date().toISOString() });
    try {
      process.kill(rec.pid, 'SIGTERM');
    } catch {
      /* gone already */
    }
  } else {
    opts.log(
      'info',
      `embedded Azurite: pid ${rec.pid} was asked to stop at ${rec.stopRequestedAt}; waiting until it has saved its data`,
    );
  }
  let nextReport = started + REPORT_EVERY_MS;
  while (isAlive(rec.pid)) {
    const waited = Date.now() - started;
    if (waited > timeoutMs) {
      throw new Error(
        `embedded Azurite (pid ${rec.pid}) has not exited ${Math.round(waited / 1000)} s after SIGTERM; it is left running so it can finish saving (stop-storage again waits for it, without another signal); its log: ${files.log}`,
      );
    }
    if (Date.now() >= nextReport) {
      opts.log('info', `embedded Azurite: still saving and closing (pid ${rec.pid}, ${Math.round(waited / 1000)} s)`);
      nextReport += REPORT_EVERY_MS;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const current = readRecord(files);
  if (current?.pid === rec.pid && current.stoppedAt === undefined)
    writeRecord(files, { ...current, stoppedAt: new Date().toISOString() });
  return { status: 'stopped', pid: rec.pid, ms: Date.now() - started };
}

/** The embedded Azurite running for dataDir (its pid file), if one runs. */
export function readEmbeddedAzurite(dataDir: string): AzuriteRecord | undefined {
  const files = embeddedAzuriteFiles(dataDir);
  const rec = readRecord(files);
  return rec && rec.stoppedAt === undefined && isAzuriteOf(rec.pid, files.location) ? rec : undefined;
}

// ---------------------------------------------------------------------------------------------

function handleOf(files: Files, rec: AzuriteRecord, reused: boolean, opts: EmbeddedAzuriteOptions): EmbeddedAzurite {
  return {
    connectionString: azuriteConnectionString('127.0.0.1', rec.ports),
    ports: rec.ports,
    location: files.location,
    pid: rec.pid,
    reused,
    stop: () =>
      stopEmbeddedAzurite(path.dirname(files.record), {
        log: opts.log,
        ...(opts.stopTimeoutMs !== undefined ? { timeoutMs: opts.stopTimeoutMs } : {}),
      }),
  };
}

async function spawnDetached(
  files: Files,
  previous: AzuritePorts | undefined,
  timeoutMs: number,
  opts: EmbeddedAzuriteOptions,
): Promise<AzuriteRecord> {
  // The same ports as last time when they are free: connection strings (Storage Explorer) stay valid.
  const reuse =
    previous &&
    (await Promise.all([previous.blob, previous.queue, previous.table].map((p) => portIsFree(p)))).every(Boolean);
  const ports = reuse ? previous : { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const out = fs.openSync(files.log, 'a');
  fs.writeSync(out, `\n--- ${new Date().toISOString()} started by pid ${process.pid}\n`);
  const child = spawn(process.execPath, azuriteCommand(files.location, ports), {
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.unref();
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = `it exited (${signal ?? `code ${code}`}) during start`));
  child.once('error', (e) => (exit = `it could not be started: ${e.message}`));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`embedded Azurite could not be started: ${exit ?? 'no pid'}`);
  // Written before it answers: a host that dies now still leaves a record of it, so the next one waits for it.
  const rec: AzuriteRecord = { pid, ports, location: files.location, startedAt: new Date().toISOString() };
  writeRecord(files, rec);
  try {
    await waitForAzurite(ports, {
      timeoutMs,
      service: `embedded Azurite (pid ${pid})`,
      onSlow: (m) => opts.log('warn', m),
      abandoned: () => exit,
    });
  } catch (e) {
    if (!exit) process.kill(pid, 'SIGTERM');
    fs.rmSync(files.record, { force: true });
    throw new Error(`${(e as Error).message}. Last lines of ${files.log}:\n${tail(files.log, 15)}`);
  }
  opts.log(
    'info',
    `embedded Azurite: started pid ${pid} (its own process group: it outlives a host crash; \`npm run stop-storage\` stops it)`,
  );
  return rec;
}

/** Run `fn` holding dataDir's start lock (an exclusive file with our pid); a dead holder's lock is taken over. */
async function withStartLock<T>(files: Files, timeoutMs: number, log: Logger, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let reported = false;
  for (;;) {
    try {
      fs.writeFileSync(files.lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(files.lock, { encoding: 'utf8', flag: 'a+' }).trim());
      const age = Date.now() - (statMs(files.lock) ?? Date.now());
      if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder) || age > 2 * timeoutMs) {
        fs.rmSync(files.lock, { force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `process ${holder} has been starting the embedded Azurite of ${files.location} for over ${Math.round(timeoutMs / 1000)} s (lock ${files.lock})`,
        );
      if (!reported) log('info', `embedded Azurite: process ${holder} is starting it; waiting`);
      reported = true;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    if (fs.readFileSync(files.lock, { encoding: 'utf8', flag: 'a+' }).trim() === String(process.pid))
      fs.rmSync(files.lock, { force: true });
  }
}

function readRecord(files: Files): AzuriteRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(files.record, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as AzuriteRecord;
    const portOk = (p: unknown) => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;
    if (
      Number.isInteger(r.pid) &&
      r.pid > 0 &&
      r.ports &&
      portOk(r.ports.blob) &&
      portOk(r.ports.queue) &&
      portOk(r.ports.table)
    )
      return r;
  } catch {
    /* a torn write: treat as absent */
  }
  return undefined;
}

function writeRecord(files: Files, rec: AzuriteRecord): void {
  const tmp = `${files.record}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(rec, null, 2)}\n`);
  fs.renameSync(tmp, files.record);
}

/** Alive and not a zombie (an orphan nobody reaps stays a zombie in some containers). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): the signal check is all there is
  }
}

/** Alive and, where /proc shows command lines, an Azurite of this folder (not another process that got the pid). */
function isAzuriteOf(pid: number, location: string): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string[];
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return true;
  }
  const at = cmdline.indexOf('--location');
  return (
    cmdline.some((a) => a.includes('azurite')) &&
    at >= 0 &&
    path.resolve(cmdline[at + 1] ?? '') === path.resolve(location)
  );
}

function statMs(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
