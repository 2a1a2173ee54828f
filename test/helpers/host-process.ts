/**
 * Run the local host (dist/local/cli.js, what `npm start` runs) as a child process, like a
 * user would, and talk to it over HTTP.
 *
 * Start-up waits are generous (a busy 2-core machine) and say what is still starting: every
 * 10 s the host's last output line is reported, and a timeout carries its whole output.
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, START_TIMEOUT_MS } from '../../local/processes/ports';
import { BUSY_REDIS_SETTINGS } from './wait';

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
  /** Send a signal to the host's whole process group (needs `detached`), as a terminal's Ctrl-C or a `kill -9 -<pgid>` does. */
  signalGroup(signal: NodeJS.Signals): void;
}

export interface HostProcessOptions {
  /** --entry; leave it out to load package.json `main` of `cwd`. */
  entry?: string;
  /** AzureWebJobsStorage; without it the host starts (or reuses) the data dir's embedded Azurite. */
  storageConnection?: string;
  dataDir: string;
  /** Run the host as the leader of its own process group (for signalGroup). */
  detached?: boolean;
  env?: Record<string, string>;
  port?: number;
  /** The port comes from the app's local.settings.json (Host.LocalHttpPort): no --port flag. */
  portFromSettings?: boolean;
  /** The folder the host runs in (default: the repository). */
  cwd?: string;
  args?: string[];
  /** Do not wait for readiness (for processes expected to fail at start). */
  noWait?: boolean;
  /** Start it as `strata start` (dist/cli/main.js) rather than with the local host's own command line. */
  viaStrata?: boolean;
  /** The Node.js executable to run the host with (default: the one running the tests). */
  node?: string;
}

export async function startHostProcess(o: HostProcessOptions): Promise<HostProcess> {
  const port = o.port ?? (await freePort());
  const flags = [
    ...(o.entry !== undefined ? ['--entry', o.entry] : []),
    ...(o.portFromSettings ? [] : ['--port', String(port)]),
    '--data-dir',
    o.dataDir,
    '--blob-poll-ms',
    '200',
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AzureWebJobsStorage: o.storageConnection,
    STRATA_ADMIN_KEY: ADMIN_KEY,
    STRATA_FUNCTION_KEY: FUNCTION_KEY,
    STRATA_DURABLETASK_EXTENSION_KEY: SYSTEM_KEY,
    STRATA_LOG_LEVEL: 'info',
    ...BUSY_REDIS_SETTINGS,
    ...o.env,
  };
  if (o.storageConnection === undefined) delete env.AzureWebJobsStorage;
  const command = o.viaStrata ? [path.join(ROOT, 'dist/cli/main.js'), 'start'] : [path.join(ROOT, 'dist/local/cli.js')];
  const child = spawn(o.node ?? process.execPath, [...command, ...flags, ...(o.args ?? [])], {
    cwd: o.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached === true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // 'close', not 'exit': by then all of the host's output has been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
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
    signalGroup(signal) {
      if (!o.detached) throw new Error('signalGroup needs a host started with detached: true');
      process.kill(-child.pid!, signal);
    },
  };
  if (o.noWait) return handle;
  const started = Date.now();
  let nextReport = started + 10_000;
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
    const waited = Date.now() - started;
    if (waited > START_TIMEOUT_MS) {
      await handle.kill();
      throw new Error(`host on port ${port} did not become ready in ${START_TIMEOUT_MS / 1000} s; its output:\n${out}`);
    }
    if (Date.now() >= nextReport) {
      nextReport += 10_000;
      console.warn(
        `[host :${port}] still starting after ${Math.round(waited / 1000)} s; last output: ${out.trim().split('\n').pop() ?? '(none yet)'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { eventually } from './wait';

/** Run the CLI once to completion (for --help, --version and refusals): its exit code and output. */
export function runCli(
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string }> {
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
