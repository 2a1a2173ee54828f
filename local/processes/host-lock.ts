/**
 * One lock per local host and a clear refusal for a taken port. Several hosts may share a data
 * folder (`npm start -- --instances N`, or `npm start` twice): they share its embedded Azurite
 * (processes/embedded-azurite.ts starts one per folder) and one task hub, as Function App
 * instances share a storage account. Each takes a slot of the folder:
 *
 *   <data dir>/host.lock, host-1.lock, ...   { pid, port, startedAt, entry } written with O_EXCL;
 *                          a host takes the first free slot, and a lock whose process is gone (a
 *                          killed host) is free again, so a restarted host gets its slot back: the
 *                          slot names the host (its Durable leases, its watchdog record) across restarts
 *   the port               tried before anything starts; when it is taken, the host status route
 *                          says whether another Strata host holds it, and which
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StartupError } from '../errors';

export const LOCK_FILE = 'host.lock';
/** Enough for any machine this runs on; a guard against a runaway loop of starts. */
const MAX_SLOTS = 64;

export interface LockInfo {
  pid: number;
  port: number;
  startedAt: string;
  entry: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

const slotFile = (dataDir: string, slot: number) => path.join(dataDir, slot === 0 ? LOCK_FILE : `host-${slot}.lock`);

export interface DataDirLock {
  readonly file: string;
  /** 0 for the first host on the folder, 1 for the second, ... */
  readonly slot: number;
  release(): void;
}

/** Take the first free host slot of `dataDir` (a slot of a dead host is free). */
export function lockDataDir(dataDir: string, info: { port: number; entry: string }): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const mine: LockInfo = { pid: process.pid, port: info.port, startedAt: new Date().toISOString(), entry: info.entry };
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const file = slotFile(dataDir, slot);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
        return {
          file,
          slot,
          release() {
            if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const held = readLock(file);
      if (held && (held.pid === process.pid || alive(held.pid))) break; // taken: try the next slot
      fs.rmSync(file, { force: true }); // left by a host that is gone
    }
  }
  throw new StartupError(`data dir ${dataDir}: all ${MAX_SLOTS} host slots are taken by running hosts`);
}

/** The live hosts holding slots of `dataDir`, other than this process (a lock left by a killed host does not count). */
export function lockHolders(dataDir: string): LockInfo[] {
  const out: LockInfo[] = [];
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const file = slotFile(dataDir, slot);
    if (!fs.existsSync(file)) continue;
    const held = readLock(file);
    if (held && held.pid !== process.pid && alive(held.pid)) out.push(held);
  }
  return out;
}

/** A live host on `dataDir` other than this process, if any. */
export function lockHolder(dataDir: string): LockInfo | undefined {
  return lockHolders(dataDir)[0];
}

/** Resolve when `port` can be listened on; throw StartupError saying who holds it otherwise. */
export async function checkPortFree(port: number, adminKey: string, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  const free = await new Promise<boolean>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(false) : reject(e),
    );
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
  if (!free) throw await portInUse(port, adminKey);
}

/** The refusal for a taken port, naming the Strata host on it when it is one. */
export async function portInUse(port: number, adminKey: string): Promise<StartupError> {
  let who = 'another process';
  try {
    const r = await fetch(`http://127.0.0.1:${port}/admin/host/status`, {
      headers: { 'x-functions-key': adminKey },
      signal: AbortSignal.timeout(2000),
    });
    if (r.ok) {
      const s = (await r.json()) as { id?: string; pid?: number; dataDir?: string };
      if (s.id === 'strata-local') who = `another Strata host (pid ${s.pid ?? '?'}, data dir ${s.dataDir ?? '?'})`;
    }
  } catch {
    /* not an HTTP server that answers: someone else */
  }
  return new StartupError(`port ${port} is in use by ${who}: stop it, or pass --port <another port>`);
}
