/**
 * HTTP load with wrk (Debian's `wrk`), a C client: a Node load generator on the same 2 cores
 * takes CPU from the servers it measures and understates the fast ones (bare node:http by about
 * 20%). One wrk thread, `concurrency` keep-alive connections, a fixed duration; a POST body and
 * headers go through a small Lua script. Latency percentiles come from `--latency`.
 *
 *   await wrk({ url, concurrency: 32, seconds: 5, method?, headers?, body? | bodyLua? }) -> { rps, p50Ms, p90Ms, p99Ms, errors }
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WrkOptions {
  url: string;
  concurrency: number;
  seconds: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A Lua expression for each request's body, with `i` the request number (1, 2, ...): varies the body. */
  bodyLua?: string;
}

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors. */
  errors: number;
}

/** Fails with how to install wrk when it is missing (apt-get when root, as the tests do for redis). */
export function ensureWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    // wrk --version exits 1 after printing its usage; only a missing binary is a problem
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
    if (process.getuid?.() === 0) {
      execFileSync(
        'bash',
        [
          '-c',
          'apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)',
        ],
        { stdio: 'inherit' },
      );
      return;
    }
    throw new Error('the HTTP benchmarks need wrk as their client: sudo apt-get install wrk');
  }
}

export function wrk(o: WrkOptions): Promise<WrkResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-wrk-'));
  const script = path.join(dir, 'request.lua');
  fs.writeFileSync(
    script,
    [
      `wrk.method = ${luaString(o.method ?? 'GET')}`,
      ...(o.body !== undefined ? [`wrk.body = ${luaString(o.body)}`] : []),
      ...Object.entries(o.headers ?? {}).map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`),
      ...(o.bodyLua !== undefined
        ? ['local i = 0', `request = function() i = i + 1; return wrk.format(nil, nil, nil, ${o.bodyLua}) end`]
        : []),
    ].join('\n'),
  );
  const args = ['-t1', `-c${o.concurrency}`, `-d${o.seconds}s`, '--latency', '-s', script, o.url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (o.seconds + 30) * 1000 }, (err, stdout) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (err) return reject(new Error(`wrk ${args.join(' ')}: ${err.message}`));
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The figures of wrk's text report. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  if (!rps || !requests) throw new Error(`cannot read wrk's report:\n${out}`);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return Math.round((m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v) * 1000) / 1000;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  return {
    rps: Math.round(Number(rps[1])),
    p50Ms: pct('50'),
    p90Ms: pct('90'),
    p99Ms: pct('99'),
    requests: Number(requests[1]),
    errors: (non2xx ? Number(non2xx[1]) : 0) + socketErrors,
  };
}

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for the ASCII we send
}
