/**
 * Training speed and quality: 1M rows × 20 features (80% train, the newest 20% holdout),
 * Strata's trainers side by side with XGBoost (tree_method=hist, nthread=2) and scikit-learn
 * (HistGradientBoostingClassifier, LogisticRegression) from /usr/bin/python3, on the same data
 * (bench/lib/training-data.ts, written once as float32 binary files every process reads; a
 * Parquet copy for Strata's out-of-core path). Every fit runs in its own process, so peak memory (max RSS) is its own.
 * Time covers each library building its own structure (bins, DMatrix) and fitting, not
 * reading the files or predicting. A peer that is not installed is skipped, and said so.
 *
 *   node dist/bench/training.js         (BENCH_ROWS, BENCH_TREES, BENCH_ROUNDS, BENCH_THREADS)
 *
 * Targets: GBDT time <= 2x XGBoost hist with AUC within 0.005 of it; logistic <= 1.5x
 * scikit-learn with AUC within 0.002. Also measured: rows × features per GB when the
 * training set is read from Parquet in chunks and kept binned (one byte per cell).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Random } from '../shared/training/random';
import { generateBenchData, readFloats, writeBinary, writeParquet } from './lib/training-data';
import { denseData } from '../shared/training/data';
import { binDense, loadBinned } from '../shared/training/bins';
import { parquetSource } from '../shared/training/parquet';
import { logisticTrainer } from '../shared/training/logistic';
import { gbdtTrainer } from '../shared/training/gbdt/trainer';
import { auc } from '../shared/training/metrics';
import type { FittedModel } from '../shared/training/trainer';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const FEATURES = 20;
const TREES = Number(process.env.BENCH_TREES ?? 100);
const DEPTH = 6;
const ETA = 0.3;
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const PYTHON = '/usr/bin/python3';
const root = path.resolve(__dirname, '../..');
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r4 = (x: number) => Math.round(x * 10000) / 10000;

interface Meta {
  rows: number;
  features: number;
  trainRows: number;
}

interface Fit {
  seconds: number;
  cpuSeconds?: number;
  auc: number;
  peakRssMB: number;
  [k: string]: unknown;
}
type Outcome = Fit | { skipped: string };

const names = Array.from({ length: FEATURES }, (_, f) => `f${f}`);
const QUARTER = (meta: Meta) => Math.floor(meta.trainRows / 4);

/** The data once: binary for every process, Parquet (all training rows, and a quarter) for the out-of-core fits. */
async function prepare(dir: string): Promise<Meta> {
  const d = generateBenchData(ROWS, FEATURES);
  writeBinary(dir, d);
  const meta = { rows: ROWS, features: FEATURES, trainRows: Math.floor(ROWS * 0.8) };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  await writeParquet(d, [
    { rows: QUARTER(meta), file: path.join(dir, 'train-quarter.parquet') },
    { rows: meta.trainRows, file: path.join(dir, 'train.parquet') },
  ]);
  return meta;
}

const ctx = (threads: number) => {
  const rng = new Random(1);
  return { task: 'binary' as const, seed: 1, threads, random: (l: string) => rng.fork(l), progress: () => {} };
};

/** One of Strata's fits, in this (child) process; prints its JSON line. */
async function runOurs(which: string, dir: string, file = 'train.parquet', trees = TREES): Promise<void> {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  const n = meta.trainRows;
  const read = () => ({
    x: readFloats(path.join(dir, 'x.bin')),
    y: Float64Array.from(readFloats(path.join(dir, 'y.bin'))),
  });
  const outOfCore = which === 'strata-gbdt-parquet';
  // The out-of-core fit reads nothing but its Parquet before it is done, so its peak RSS is its own.
  let data = outOfCore ? undefined : read();
  const train = () => denseData(names, data!.x.subarray(0, n * FEATURES), data!.y.subarray(0, n));
  const gbdtParams = gbdtTrainer.parseParams({ trees, maxDepth: DEPTH, learningRate: ETA, l2: 1, minChildWeight: 1 });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let model: FittedModel;
  const extra: Record<string, unknown> = {};
  if (which === 'strata-logistic') {
    model = logisticTrainer.fit(train(), logisticTrainer.parseParams({}), ctx(1));
    extra.iterations = { warmStart: model.summary.warmStartIterations, fullData: model.summary.fullDataIterations };
  } else if (which === 'strata-gbdt') {
    model = gbdtTrainer.fit(binDense(train(), { maxBins: gbdtParams.maxBins, seed: 1 }), gbdtParams, ctx(THREADS));
    extra.threads = Math.min(THREADS, os.availableParallelism());
  } else if (outOfCore) {
    // Out of core: Parquet read in chunks through DuckDB, kept as one byte per cell.
    const binned = await loadBinned(
      parquetSource({ kind: 'parquet', files: [path.join(dir, file)], features: names, label: 'label' }),
      { seed: 1 },
    );
    extra.loadSeconds = r3((performance.now() - t0) / 1000);
    extra.trainRows = binned.nRows;
    model = gbdtTrainer.fit(binned, gbdtParams, ctx(THREADS));
    extra.trees = trees;
  } else throw new Error(`unknown fit ${which}`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const peakRssMB = peakRss();
  data ??= read();
  const p = model.predict(data.x.subarray(n * FEATURES), meta.rows - n);
  const out: Fit = {
    seconds: r3(seconds),
    cpuSeconds: r3((cpu.user + cpu.system) / 1e6),
    auc: auc(data.y.subarray(n), p)!,
    peakRssMB,
    ...extra,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * This process's peak RSS in MB: VmHWM of /proc/self/status (Linux), the peak of this
 * program's own memory map. (getrusage's maxrss is not usable here: Linux carries it over from
 * the parent across fork and exec, so every child would report at least the parent's size.)
 */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Math.round(((m ? Number(m[1]) : process.resourceUsage().maxRSS) / 1024) * 10) / 10;
}

function child(cmd: string, args: string[]): Outcome {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    return { skipped: `${cmd} not found; apt-get install python3 python3-sklearn python3-xgboost` };
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as Outcome;
}

const ours = (which: string, dir: string, ...args: string[]) =>
  child(process.execPath, [__filename, '--run', which, dir, ...args]);
const peer = (which: string, dir: string, params: object) =>
  child(PYTHON, [path.join(root, 'bench/training-peers.py'), which, dir, JSON.stringify(params)]);

/** Mean of each numeric field over rounds (skipped if any round skipped). */
function mean(runs: Outcome[]): Outcome {
  const skipped = runs.find((r): r is { skipped: string } => 'skipped' in r);
  if (skipped) return skipped;
  const fits = runs as Fit[];
  const out: Record<string, unknown> = { ...fits[0] };
  for (const k of Object.keys(out)) {
    if (typeof out[k] === 'number') out[k] = fits.reduce((s, f) => s + (f[k] as number), 0) / fits.length;
  }
  out.seconds = r3(out.seconds as number);
  out.auc = r4(out.auc as number);
  if (runs.length > 1) out.rounds = runs.length;
  return out as Fit;
}

/**
 * Memory per training row, measured: the growth of peak RSS between the same 10-tree fit
 * from Parquet of a quarter of the rows and of all of them, over the rows added (fixed
 * costs, Node, DuckDB, the code, cancel out). Peak RSS moves by some MB with garbage
 * collection timing, hence the wide spread of sizes.
 */
function perRow(full: Outcome, small: Outcome) {
  if ('skipped' in full || 'skipped' in small) return null;
  const rows = (full.trainRows as number) - (small.trainRows as number);
  const bytesPerRow = ((full.peakRssMB - small.peakRssMB) * 2 ** 20) / rows;
  const fixedMB = Math.round(small.peakRssMB - (bytesPerRow * (small.trainRows as number)) / 2 ** 20);
  return {
    peakRssMB: { [String(small.trainRows)]: small.peakRssMB, [String(full.trainRows)]: full.peakRssMB },
    bytesPerRow: Math.round(bytesPerRow),
    fixedMB,
    rowsPerGB: Math.floor(2 ** 30 / bytesPerRow),
    rowsTimesFeaturesPerGB: Math.floor((2 ** 30 / bytesPerRow) * FEATURES),
    features: FEATURES,
  };
}

function versus(a: Outcome, b: Outcome, target: { time: number; auc: number }) {
  if ('skipped' in a || 'skipped' in b)
    return { skipped: 'skipped' in b ? b.skipped : (a as { skipped: string }).skipped };
  const time = Math.round((a.seconds / b.seconds) * 100) / 100;
  const aucDiff = r4(a.auc - b.auc);
  return {
    time,
    aucDiff,
    targets: { time: `<= ${target.time}`, aucWithin: target.auc },
    met: time <= target.time && Math.abs(aucDiff) <= target.auc,
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-training-'));
  try {
    const meta = await prepare(dir);
    const xgbParams = {
      rounds: TREES,
      max_depth: DEPTH,
      eta: ETA,
      max_bin: 256,
      lambda: 1,
      min_child_weight: 1,
      nthread: 2,
    };
    const runs: Record<string, Outcome[]> = {};
    const plan: Array<[string, () => Outcome]> = [
      ['strataLogistic', () => ours('strata-logistic', dir)],
      ['sklearnLogistic', () => peer('sklearn-logistic', dir, { C: 1 })],
      ['strataGbdt', () => ours('strata-gbdt', dir)],
      ['xgboostHist', () => peer('xgboost', dir, xgbParams)],
      ['sklearnHistGradientBoosting', () => peer('sklearn-hgb', dir, xgbParams)],
      ['strataGbdtFromParquet', () => ours('strata-gbdt-parquet', dir)],
      // Memory per row: the same short fit on a quarter and on all of the rows.
      ['memoryQuarter', () => ours('strata-gbdt-parquet', dir, 'train-quarter.parquet', '10')],
      ['memoryFull', () => ours('strata-gbdt-parquet', dir, 'train.parquet', '10')],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so neither side always runs on a warmer (or busier) machine.
      const order = round % 2 ? [...plan].reverse() : plan;
      for (const [name, fn] of order) {
        console.error(`# training: ${name} (round ${round + 1}/${ROUNDS})`);
        (runs[name] ??= []).push(fn());
      }
    }
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, mean(v)]));
    const load = os.loadavg()[0];
    const result = {
      bench: 'training',
      data: { rows: meta.rows, features: FEATURES, trainRows: meta.trainRows, holdoutRows: meta.rows - meta.trainRows },
      machine: { cores: os.availableParallelism(), loadAverage1m: Math.round(load! * 100) / 100 },
      logistic: {
        strata: m.strataLogistic,
        sklearn: m.sklearnLogistic,
        ratio: versus(m.strataLogistic!, m.sklearnLogistic!, { time: 1.5, auc: 0.002 }),
      },
      gbdt: {
        params: { trees: TREES, maxDepth: DEPTH, learningRate: ETA, strataThreads: THREADS, xgboostThreads: 2 },
        strata: m.strataGbdt,
        xgboost: m.xgboostHist,
        sklearn: m.sklearnHistGradientBoosting,
        ratio: versus(m.strataGbdt!, m.xgboostHist!, { time: 2, auc: 0.005 }),
        ratioToSklearn: versus(m.strataGbdt!, m.sklearnHistGradientBoosting!, { time: 2, auc: 0.005 }),
      },
      outOfCore: { ...m.strataGbdtFromParquet, memory: perRow(m.memoryFull!, m.memoryQuarter!) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--run') {
  runOurs(
    process.argv[3]!,
    process.argv[4]!,
    process.argv[5],
    process.argv[6] ? Number(process.argv[6]) : undefined,
  ).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
