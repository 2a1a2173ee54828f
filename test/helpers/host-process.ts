/**
 * Run the local host (dist/local/cli.js, what `npm start` runs) as a child process, like a
 * user would, and talk to it over HTTP.
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../local/processes/ports';

export const ROOT = path.resolve(__dirname, '../..');
export const ADMIN_KEY = 'test-admin-key';
export const FUNCTION_KEY = 'test-function-key';
/** The host's durabletask_extension system key (the Durable HTTP API's key). */
export const SYSTEM_KEY = 'test-durabletask-key';

export interface HostProcess {
  baseUrl: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export interface HostProcessOptions {
  /** --entry; leave it out to load package.json `main` of `cwd`. */
  entry?: string;
  storageConnection: string;
  dataDir: string;
  env?: Record<string, string>;
  port?: number;
  /** The port comes from the app's local.settings.json (Host.LocalHttpPort): no --port flag. */
  portFromSettings?: boolean;
  /** The folder the host runs in (default: the repository). */
  cwd?: string;
  args?: string[];
  /** Do not wait for readiness (for processes expected to fail at start). */
  noWait?: boolean;
}

export async function startHostProcess(o: HostProcessOptions): Promise<HostProcess> {
  const port = o.port ?? (await freePort());
  const flags = [
    ...(o.entry !== undefined ? ['--entry', o.entry] : []),
    ...(o.portFromSettings ? [] : ['--port', String(port)]),
    '--data-dir', o.dataDir, '--blob-poll-ms', '200',
  ];
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/local/cli.js'), ...flags, ...(o.args ?? [])], {
    cwd: o.cwd ?? ROOT,
    env: {
      ...process.env,
      AzureWebJobsStorage: o.storageConnection,
      STRATA_ADMIN_KEY: ADMIN_KEY,
      STRATA_FUNCTION_KEY: FUNCTION_KEY,
      STRATA_DURABLETASK_EXTENSION_KEY: SYSTEM_KEY,
      STRATA_LOG_LEVEL: 'info',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const baseUrl = `http://127.0.0.1:${port}`;
  const handle: HostProcess = {
    baseUrl,
    port,
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  if (o.noWait) return handle;
  const deadline = Date.now() + 30_000;
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`host exited during start:\n${out}`);
    try {
      const r = await fetch(`${baseUrl}/admin/host/status`, { headers: { 'x-functions-key': ADMIN_KEY } });
      if (r.status === 200) return handle;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await handle.kill();
      throw new Error(`host did not become ready in 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Poll until `check` returns a value (not undefined) or time runs out. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run the CLI once to completion (for --help, --version and refusals): its exit code and output. */
export function runCli(args: string[], o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/local/cli.js'), ...args], {
      cwd: o.cwd ?? ROOT,
      env: { ...process.env, STRATA_ADMIN_KEY: ADMIN_KEY, STRATA_FUNCTION_KEY: FUNCTION_KEY, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not exit in ${o.timeoutMs ?? 30_000} ms:\n${output}`));
    }, o.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
