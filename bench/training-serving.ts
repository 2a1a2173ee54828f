/**
 * Does training starve serving? One serving process (bench/fixtures/training-serving-server:
 * node:http + an onnxruntime predict per request) under closed-loop load, measured idle, then
 * while a GBDT fit on 1M rows × 20 features runs in it through the TrainingRunner (a worker
 * thread), then while the same kind of fit runs on its main thread (what training without a
 * worker does). Same process, same load, one run. Prints one JSON object with p50/p99 per
 * phase and the ratios to idle.
 *
 *   node dist/bench/training-serving.js   (BENCH_ROWS, BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_TREES)
 *
 * Each fit starts a second into its load window; the worker fit must outlast the window (the
 * JSON says whether it did: `fitOutlasted`). During the main-thread fit requests wait for the
 * fit's synchronous part to end, so that phase's p99 is about the length of the fit (fewer
 * trees there, BENCH_MAIN_TREES).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../local/processes/ports';
import { runLoad } from './lib/load';
import { generateBenchData, writeParquet } from './lib/training-data';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const TREES = Number(process.env.BENCH_TREES ?? 100);
const MAIN_TREES = Number(process.env.BENCH_MAIN_TREES ?? 20);
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-training-serving-'));
  const file = path.join(dir, 'train.parquet');
  await writeParquet(generateBenchData(ROWS), [{ rows: ROWS, file }]);
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [path.join(__dirname, 'fixtures/training-serving-server.js'), String(port), file],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port);
    const loopDelay = async () =>
      (await (await fetch(`${base}/loop`)).json()) as { p50Ms: number; p99Ms: number; maxMs: number };
    // Requests under closed-loop load, and the server's own event-loop delay over the same window
    // (a stalled loop shows there even when only a few requests were waiting through it).
    const load = async () => {
      await loopDelay();
      const l = await runLoad({
        url: `${base}/predict`,
        concurrency: CONCURRENCY,
        durationMs: SECONDS * 1000,
        warmupMs: 500,
      });
      return { ...l, eventLoopDelay: await loopDelay() };
    };
    const status = async () =>
      (await (await fetch(`${base}/fit`)).json()) as { running: boolean; ms: number; error: string };
    type Phase = Awaited<ReturnType<typeof load>>;
    const during = async (
      where: string,
      trees: number,
    ): Promise<{ load: Phase; fitOutlasted: boolean; fitMs: number }> => {
      // The fit starts a second into the load window (after the warm-up), so the window sees it start and run.
      const measured = load();
      await new Promise((r) => setTimeout(r, 1_500));
      await fetch(`${base}/fit?where=${where}&trees=${trees}`, { method: 'POST' });
      const l = await measured;
      const fitOutlasted = (await status()).running;
      for (;;) {
        const s = await status();
        if (s.error) throw new Error(`the ${where} fit failed: ${s.error}`);
        if (!s.running) return { load: l, fitOutlasted, fitMs: s.ms };
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    console.error('# training-serving: idle');
    const idle = await load();
    console.error('# training-serving: fit in a worker thread');
    const worker = await during('worker', TREES);
    console.error('# training-serving: fit on the main thread');
    const main = await during('main', MAIN_TREES);
    const ratio = (x: Phase) => ({
      p50: r2(x.p50Ms / idle.p50Ms),
      p99: r2(x.p99Ms / idle.p99Ms),
      throughput: r2(x.rps / idle.rps),
      eventLoopDelayMax: r2(x.eventLoopDelay.maxMs / idle.eventLoopDelay.maxMs),
    });
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'training-serving',
          fit: { rows: ROWS, features: 20, trees: TREES, mainThreadTrees: MAIN_TREES, maxDepth: 6 },
          load: { seconds: SECONDS, concurrency: CONCURRENCY },
          machine: { cores: os.availableParallelism(), loadAverage1m: r2(os.loadavg()[0]!) },
          idle,
          duringWorkerFit: {
            ...worker.load,
            fitMs: worker.fitMs,
            fitOutlasted: worker.fitOutlasted,
            vsIdle: ratio(worker.load),
          },
          duringMainThreadFit: {
            ...main.load,
            fitMs: main.fitMs,
            fitOutlasted: main.fitOutlasted,
            vsIdle: ratio(main.load),
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    server.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
