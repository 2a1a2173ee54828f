/**
 * Predict p99 while a monitoring window runs vs idle (issue 14: monitoring never slows
 * serving). The local host serves Strata's predict function (a logistic ONNX model over 20
 * online features in Redis, bench/lib/predict-model.ts) and, in the same process, a bench
 * route that computes monitoring windows the way the monitor does: computeWindow on
 * monitoring's own DuckDB instance with its thread limit (STRATA_MONITOR_DUCKDB_THREADS,
 * default 1), over a window of 1M logged predictions × 20 features (bench/monitoring's
 * data). wrk loads predict for BENCH_SECONDS idle, then for BENCH_SECONDS while windows are
 * computed back to back, in BENCH_ROUNDS rounds; prints both p99s and their ratio (per round,
 * median and min-max) with the load average.
 *
 * The load guard (shared/monitoring/load-guard.ts) is not in this path on purpose: it would
 * defer the window under this load, and what is measured is the cost when a window does run
 * (a run that started while the host was quiet, and then traffic came).
 *
 *   node dist/bench/monitoring-serving.js   (ROWS, BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONCURRENCY,
 *                                            STRATA_MONITOR_DUCKDB_THREADS)
 */
import type { ChildProcess } from 'node:child_process';
import { spawnLocalHost } from './lib/local-host';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureWrk, wrk, type WrkResult } from './lib/wrk';
import { machine, spread } from './lib/ab';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { withConnection } from '../shared/features/offline/duckdb';
import { benchWindow } from './lib/monitoring-data';
import { expectedPrediction, MODEL, seedPredictModel } from './lib/predict-model';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const entities = 10_000;
const FUNCTION_KEY = 'bench-function-key';
const START = Date.UTC(2026, 0, 5, 10);

interface WindowRun {
  windows: number;
  rows: number;
  seconds: number[];
  threads: number;
}

async function main() {
  ensureWrk();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-monitoring-serving-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  let host: ChildProcess | undefined;
  try {
    await seedPredictModel({ storageConnectionString: azurite.connectionString, redisUrl: redis.url, entities });
    const window = await withConnection((c) =>
      benchWindow(c, tmp, { rows: ROWS, features: 20, model: 'monitored', start: START }),
    );
    const windowFile = path.join(tmp, 'window.json');
    fs.writeFileSync(windowFile, JSON.stringify(window));

    const port = await freePort();
    host = spawnLocalHost({
      entry: path.join(__dirname, 'fixtures/monitoring-serving-app.js'),
      port,
      dataDir: path.join(tmp, 'data'),
      env: {
        ...process.env,
        AzureWebJobsStorage: azurite.connectionString,
        REDIS_URL: redis.url,
        STRATA_FUNCTION_KEY: FUNCTION_KEY,
        STRATA_LOG_LEVEL: 'warn',
        BENCH_WINDOW_FILE: windowFile,
      },
    });
    await waitForPort(port);
    const base = `http://127.0.0.1:${port}/api`;
    const headers = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };

    // Ready (503 while the host starts; the first predict loads the session) and right.
    let answer: number | undefined;
    for (let i = 0; i < 300 && answer === undefined; i++) {
      const res = await fetch(`${base}/predict/${MODEL}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ entityId: 'e1' }),
      }).catch(() => undefined);
      if (res?.status === 200) answer = ((await res.json()) as { prediction: number }).prediction;
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (answer === undefined) throw new Error('the host never answered a prediction (waited 30 s)');
    const correct = Math.abs(answer - expectedPrediction(1)) < 1e-5;

    const runWindows = async (s: number): Promise<WindowRun> => {
      const res = await fetch(`${base}/bench/monitoring-window/${s}`, { method: 'POST', headers });
      if (res.status !== 200) throw new Error(`the window route answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as WindowRun;
    };
    const first = await runWindows(0); // one window alone: its time, and the data warm in the page cache

    const load = {
      url: `${base}/predict/${MODEL}`,
      concurrency,
      seconds,
      method: 'POST',
      headers,
      bodyLua: `'{"entityId":"e' .. ((i * 7919) % ${entities}) .. '"}'`,
    };
    await wrk({ ...load, seconds: 2 }); // warm-up: JIT, sessions, connections
    const start = machine();
    const idle: WrkResult[] = [];
    const during: WrkResult[] = [];
    const windows: WindowRun[] = [];
    for (let r = 0; r < rounds; r++) {
      idle.push(await wrk(load));
      const computing = runWindows(seconds);
      during.push(await wrk(load));
      windows.push(await computing);
    }
    const ratio = spread(during.map((d, i) => d.p99Ms / idle[i]!.p99Ms));
    console.log(
      JSON.stringify(
        {
          bench: 'monitoring-serving',
          client: 'wrk -t1',
          machine: { ...machine(), loadAverageAtStart: start.loadAverage },
          seconds,
          rounds,
          concurrency,
          answersMatchHandMath: correct,
          window: {
            rows: first.rows,
            features: 20,
            duckdbThreads: first.threads,
            aloneSeconds: round(first.seconds[0]!),
          },
          idle: {
            p99Ms: spread(idle.map((x) => x.p99Ms)),
            p50Ms: spread(idle.map((x) => x.p50Ms)),
            rps: spread(
              idle.map((x) => x.rps),
              0,
            ),
          },
          duringWindow: {
            p99Ms: spread(during.map((x) => x.p99Ms)),
            p50Ms: spread(during.map((x) => x.p50Ms)),
            rps: spread(
              during.map((x) => x.rps),
              0,
            ),
            windowsComputed: windows.map((w) => w.windows),
            windowSeconds: spread(windows.flatMap((w) => w.seconds)),
          },
          ratio: { p99DuringVsIdle: ratio },
          errors: [...idle, ...during].reduce((e, x) => e + x.errors, 0),
          runs: { idle, during },
          note: "per round: wrk on predict idle, then wrk on predict while the same host process computes monitoring windows back to back (computeWindow on monitoring's thread-limited DuckDB); ratio = during p99 / idle p99 per round. wrk, Redis, Azurite and the host share the machine.",
        },
        null,
        2,
      ),
    );
  } finally {
    if (host && host.exitCode === null && host.signalCode === null) {
      const exited = new Promise((r) => host!.once('exit', r));
      host.kill('SIGTERM');
      await exited;
    }
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
