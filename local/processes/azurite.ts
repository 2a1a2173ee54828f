/**
 * Azurite (npm) as a child process: Blob, Queue and Table on free or given ports,
 * data in a folder. A child process, not in-process, so a host that is killed in a
 * crash test leaves storage running, exactly like Azure storage outlives a worker.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { freePort, waitForPort } from './ports';
import { azuriteConnectionString } from '../../shared/config';

export interface AzuriteHandle {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  location: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  location: string;
  ports?: Partial<{ blob: number; queue: number; table: number }>;
  /** Write Azurite's own output here (default: discard). */
  logFile?: string;
}

/** Azurite is a devDependency (the deployment package leaves it out): say so when it is missing. */
function azuriteEntry(): string {
  try {
    return require.resolve('azurite/dist/src/azurite.js');
  } catch {
    throw new Error('azurite is not installed: it is a devDependency, so run `npm ci` without --omit=dev, or set AzureWebJobsStorage to a storage account');
  }
}

export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteHandle> {
  fs.mkdirSync(opts.location, { recursive: true });
  const ports = {
    blob: opts.ports?.blob ?? (await freePort()),
    queue: opts.ports?.queue ?? (await freePort()),
    table: opts.ports?.table ?? (await freePort()),
  };
  const bin = azuriteEntry();
  const args = [
    bin, '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry',
    '--location', opts.location,
    '--blobPort', String(ports.blob), '--queuePort', String(ports.queue), '--tablePort', String(ports.table),
  ];
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', out, out] });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  try {
    await Promise.race([
      Promise.all([waitForPort(ports.blob), waitForPort(ports.queue), waitForPort(ports.table)]),
      exitedPromise.then(() => { throw new Error(`azurite exited during start (location ${opts.location})`); }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    connectionString: azuriteConnectionString('127.0.0.1', ports),
    ports,
    location: opts.location,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitedPromise;
      clearTimeout(t);
    },
  };
}
