/**
 * Ports for the services the host and the tests start, and bounded waits for them to answer.
 *
 * Waits are generous (a 2-core machine shared with other work can take tens of seconds to start
 * Azurite) and observable: while waiting they report what is still not answering, and a timeout
 * names every service still missing, so a slow start is never mistaken for a hang.
 */
import net from 'node:net';

/** Default bound on a service's start: long enough for a machine at load 15, short enough to notice a hang. */
export const START_TIMEOUT_MS = 90_000;
const REPORT_EVERY_MS = 10_000;
const POLL_MS = 100;

/** A port that was free a moment ago (the OS picks it; we release it for the caller). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether nothing listens on host:port right now (so a service may take it). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on host:port right now. */
export function listens(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface WaitOptions {
  /** What is starting, for messages ("Azurite", "redis-server"). */
  service?: string;
  timeoutMs?: number;
  /** Called about every 10 s while something is still missing, with what and for how long. */
  onSlow?: (message: string) => void;
  /** Stop early (e.g. the process exited): a reason to throw instead. */
  abandoned?: () => string | undefined;
}

/**
 * Resolve when every named check passes; poll them until then. On timeout, throw an error naming
 * each check still failing: "Azurite did not start within 90 s: still not answering: table (127.0.0.1:10002)".
 */
export async function waitUntilReady(
  checks: Record<string, () => Promise<boolean>>,
  opts: WaitOptions = {},
): Promise<void> {
  const service = opts.service ?? 'service';
  const timeoutMs = opts.timeoutMs ?? START_TIMEOUT_MS;
  const started = Date.now();
  let nextReport = started + REPORT_EVERY_MS;
  const missing = new Set(Object.keys(checks));
  for (;;) {
    await Promise.all(
      [...missing].map(async (name) => {
        if (await checks[name]!().catch(() => false)) missing.delete(name);
      }),
    );
    if (missing.size === 0) return;
    const gaveUp = opts.abandoned?.();
    if (gaveUp) throw new Error(`${service} did not start: ${gaveUp}`);
    const waited = Date.now() - started;
    if (waited > timeoutMs)
      throw new Error(
        `${service} did not start within ${Math.round(timeoutMs / 1000)} s: still not answering: ${[...missing].join(', ')}`,
      );
    if (Date.now() >= nextReport) {
      opts.onSlow?.(
        `still waiting for ${service} after ${Math.round(waited / 1000)} s: ${[...missing].join(', ')} not answering yet`,
      );
      nextReport += REPORT_EVERY_MS;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Resolve when something accepts TCP connections on host:port (see waitUntilReady for the bounds and messages). */
export async function waitForPort(port: number, opts: WaitOptions & { host?: string } = {}): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  await waitUntilReady({ [`${host}:${port}`]: () => listens(port, host) }, opts);
}
