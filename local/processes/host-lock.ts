/**
 * One local host per data folder and per port, and a clear refusal otherwise: a second host on
 * the same folder would run a second embedded Azurite on the same files and both would deliver
 * the same events and timers; a second one on the same port would die with EADDRINUSE after
 * starting everything else.
 *
 *   <data dir>/host.lock   { pid, port, startedAt, entry } written with O_EXCL; a lock whose
 *                          process is gone (a killed host) is taken over
 *   the port               tried before anything starts; when it is taken, the host status route
 *                          says whether another Strata host holds it, and which
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StartupError } from '../errors';

export const LOCK_FILE = 'host.lock';

interface LockInfo {
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

export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/** Take `<dataDir>/host.lock`, or throw StartupError naming the host that holds it. */
export function lockDataDir(dataDir: string, info: { port: number; entry: string }): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, port: info.port, startedAt: new Date().toISOString(), entry: info.entry };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
      return {
        file,
        release() {
          if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock(file);
    if (held && held.pid !== process.pid && alive(held.pid)) {
      throw new StartupError(
        `data dir ${dataDir} is in use by another Strata host (pid ${held.pid}, port ${held.port}, started ${held.startedAt}): stop it, or pass --data-dir <another folder>`,
      );
    }
    fs.rmSync(file, { force: true }); // left by a host that is gone
  }
  throw new StartupError(`data dir ${dataDir}: could not take ${file} (another host is starting there at the same moment?)`);
}

/** Resolve when `port` can be listened on; throw StartupError saying who holds it otherwise. */
export async function checkPortFree(port: number, adminKey: string, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  const free = await new Promise<boolean>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? resolve(false) : reject(e)));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
  if (!free) throw await portInUse(port, adminKey);
}

/** The refusal for a taken port, naming the Strata host on it when it is one. */
export async function portInUse(port: number, adminKey: string): Promise<StartupError> {
  let who = 'another process';
  try {
    const r = await fetch(`http://127.0.0.1:${port}/admin/host/status`, { headers: { 'x-functions-key': adminKey }, signal: AbortSignal.timeout(2000) });
    if (r.ok) {
      const s = (await r.json()) as { id?: string; pid?: number; dataDir?: string };
      if (s.id === 'strata-local') who = `another Strata host (pid ${s.pid ?? '?'}, data dir ${s.dataDir ?? '?'})`;
    }
  } catch {
    /* not an HTTP server that answers: someone else */
  }
  return new StartupError(`port ${port} is in use by ${who}: stop it, or pass --port <another port>`);
}
