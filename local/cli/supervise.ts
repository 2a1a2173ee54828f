/**
 * `start --restart` (what `npm start` runs): the host runs as a child process and is started
 * again when it dies of a crash, as the Functions host restarts a worker that died. A crash is a
 * death by a signal nobody asked for (SIGKILL from the host watchdog or the kernel's OOM killer,
 * SIGABRT from a V8 out-of-memory or fatal error, SIGSEGV, ...). A clean exit, a refused start
 * (exit code 1: a bad setting, a port in use) or a stop the user asked for (Ctrl-C, SIGTERM,
 * forwarded to the host, which stops gracefully) ends the supervisor with the host's exit code.
 *
 * Poison work does not loop the host forever: the next host fails what the watchdog blamed, and
 * the Durable engine fails an instance after a few crash restarts (local/durable/engine.ts). As a
 * last bound, more than MAX_CRASHES crashes within CRASH_WINDOW_MS stop the restarts, saying so.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const CRASH_SIGNALS = new Set<NodeJS.Signals>([
  'SIGKILL',
  'SIGABRT',
  'SIGSEGV',
  'SIGBUS',
  'SIGILL',
  'SIGFPE',
  'SIGTRAP',
]);
const RESTART_DELAY_MS = 1_000;
const CRASH_WINDOW_MS = 10 * 60_000;
const MAX_CRASHES = 10;

export const RESTART_FLAG = '--restart';

/** Run `cli` with `args` as the host, restarting it after crashes; resolves with the exit code to end with. */
export function superviseHost(
  cli: string,
  args: string[],
  log: (line: string) => void = (line) => console.error(line),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  return new Promise((resolve) => {
    let child: ChildProcess | undefined;
    let stopping = false;
    const crashes: number[] = [];
    const finish = (code: number) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      stopping = true;
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      else finish(0); // between a crash and the restart: nothing runs
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const run = () => {
      if (stopping) return finish(0);
      const c = spawn(process.execPath, [...process.execArgv, cli, ...args], { stdio: 'inherit', env });
      child = c;
      c.on('error', (e) => {
        log(`[supervisor] could not start the host: ${e.message}`);
        finish(1);
      });
      c.on('exit', (code, signal) => {
        if (stopping || !signal || !CRASH_SIGNALS.has(signal)) return finish(code ?? 1);
        const now = Date.now();
        crashes.push(now);
        while (crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
        if (crashes.length > MAX_CRASHES) {
          log(
            `[supervisor] the host died ${crashes.length} times within ${CRASH_WINDOW_MS / 60_000} minutes (last: ${signal}); not starting it again`,
          );
          return finish(1);
        }
        log(`[supervisor] the host died (${signal}); starting it again in ${RESTART_DELAY_MS / 1000} s`);
        setTimeout(run, RESTART_DELAY_MS);
      });
    };
    run();
  });
}
