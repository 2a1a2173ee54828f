/**
 * Predict throughput and latency: POST /api/predict/{model} for a logistic model over 20
 * features (one online-store view) with 64 concurrent clients, against floors measured in
 * the same run on the same Redis data and model, each server in its own process:
 *   floor          node:http + one ioredis HGETALL + one onnxruntime run (bench/fixtures/predict-floor-server)
 *   strataCore     node:http + Strata's ServingService.predict, no Azure Functions (what Strata's own code costs)
 *   libraryFloor   node:http -> @azure/functions' invocation of Strata's predict function (no host)
 *   strata         the local host serving Strata's predict function (keys, routing, body limits)
 * Like for like (issue 19), every variant runs twice: `noLog`, no variant logs predictions
 * (Strata with STRATA_PREDICTION_LOG=off), and `log`, every variant logs each prediction with
 * the same record, writer (PredictionLog) and batching: the floor, strataCore and libraryFloor
 * to a local-bus sink (LocalBusSink) on their own port that discards it, the host to its bus.
 * Loaded by wrk (bench/lib/wrk.ts), one server at a time, the order rotating each round; figures
 * are medians over rounds with min-max, ratios per round (the two measured in one round),
 * beside the load average and Node version.
 * Targets (issue 19): strataCore >= 0.8x floor's requests/s; strata >= 0.95x libraryFloor's.
 *   node dist/bench/predict.js   (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_ENTITIES;
 *                                 BENCH_LOG=both|noLog|log (default both);
 *                                 BENCH_PROFILE=<dir>: --cpu-prof of every server into <dir>)
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureWrk, wrk, type WrkResult } from './lib/wrk';
import { machine, spread, target } from './lib/ab';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { DEFAULT_KEY_PREFIX } from '../shared/features/online/codec';
import { spawnLocalHost } from './lib/local-host';
import { expectedPrediction, FEATURES, MODEL, seedPredictModel, VIEW } from './lib/predict-model';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const entities = Number(process.env.BENCH_ENTITIES ?? 10_000);
const profileDir = process.env.BENCH_PROFILE;
const root = path.resolve(__dirname, '../..');
const FUNCTION_KEY = 'bench-function-key';

const VARIANTS = ['floor', 'strataCore', 'libraryFloor', 'strata'] as const;
type Variant = (typeof VARIANTS)[number];
const MODES = ['noLog', 'log'] as const;
type Mode = (typeof MODES)[number];
const modes: readonly Mode[] =
  process.env.BENCH_LOG === 'noLog' || process.env.BENCH_LOG === 'log' ? [process.env.BENCH_LOG] : MODES;
/** One server: a variant in a mode ("strataCore/log"). */
type Name = `${Variant}/${Mode}`;
const entity = (i: number) => `e${(i * 7919) % entities}`;

async function main() {
  ensureWrk();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-predict-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const children: ChildProcess[] = [];
  try {
    // Features of `entities` entities and the model, through the real online store and registry.
    const artifact = await seedPredictModel({
      storageConnectionString: azurite.connectionString,
      redisUrl: redis.url,
      entities,
    });
    const modelFile = path.join(tmp, 'model.onnx');
    fs.writeFileSync(modelFile, artifact);

    const prof = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const env = {
      ...process.env,
      AzureWebJobsStorage: azurite.connectionString,
      REDIS_URL: redis.url,
      STRATA_FUNCTION_KEY: FUNCTION_KEY,
      STRATA_LOG_LEVEL: 'warn',
    };
    const names = modes.flatMap((m) => VARIANTS.map((v): Name => `${v}/${m}`));
    const ports = {} as Record<Name, number>;
    for (const n of names) ports[n] = await freePort();
    const spawnServer = (v: Variant, m: Mode, port: number): ChildProcess => {
      // noLog: Strata's own switch; log: the default, each Strata variant sending to its own port or bus.
      const modeEnv = m === 'noLog' ? { STRATA_PREDICTION_LOG: 'off' } : {};
      const own = {
        ...env,
        ...modeEnv,
        STRATA_LOCAL_HOST_URL: `http://127.0.0.1:${port}`,
        STRATA_DATA_DIR: path.join(tmp, `${v}-${m}`),
      };
      if (v === 'floor') {
        const args = [String(port), redis.url, `${DEFAULT_KEY_PREFIX}:${VIEW}`, VIEW, modelFile, FEATURES.join(',')];
        return spawn(
          process.execPath,
          [...prof, path.join(__dirname, 'fixtures/predict-floor-server.js'), ...args, ...(m === 'log' ? ['log'] : [])],
          {
            stdio: 'ignore',
          },
        );
      }
      if (v === 'strata')
        return spawnLocalHost({
          entry: path.join(__dirname, 'fixtures/predict-app.js'),
          port,
          dataDir: path.join(tmp, `host-${m}`),
          env: { ...env, ...modeEnv },
          args: prof,
        });
      const script = v === 'strataCore' ? 'predict-core-server.js' : 'predict-library-floor.js';
      return spawn(process.execPath, [...prof, path.join(__dirname, 'fixtures', script), String(port)], {
        cwd: root,
        stdio: 'ignore',
        env: own,
      });
    };
    for (const n of names) {
      const [v, m] = n.split('/') as [Variant, Mode];
      children.push(spawnServer(v, m, ports[n]));
    }
    await Promise.all(Object.values(ports).map((p) => waitForPort(p)));

    const url = (n: Name) => `http://127.0.0.1:${ports[n]}/api/predict/${MODEL}`;
    const headers = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };
    const ask = async (n: Name, id: string) => {
      const res = await fetch(url(n), { method: 'POST', headers, body: JSON.stringify({ entityId: id }) });
      return res.status === 200 ? ((await res.json()) as { prediction: number }).prediction : undefined;
    };
    // Ready (the host answers 503 while starting; the first predict loads the session), and every
    // server answers the logistic math done by hand.
    let correct = true;
    for (const e of [1, 4242]) {
      const expected = expectedPrediction(e);
      for (const n of Object.keys(ports) as Name[]) {
        let p: number | undefined;
        for (let i = 0; i < 200 && (p = await ask(n, `e${e}`).catch(() => undefined)) === undefined; i++)
          await new Promise((r) => setTimeout(r, 100));
        if (p === undefined) throw new Error(`${n} never answered a prediction`);
        if (Math.abs(p - expected) > 1e-5) correct = false;
      }
    }

    const load = {
      concurrency,
      seconds,
      method: 'POST',
      headers,
      bodyLua: `'{"entityId":"e' .. ((i * 7919) % ${entities}) .. '"}'`,
    };
    const order = names;
    for (const n of order) await wrk({ ...load, seconds: 2, url: url(n) }); // warm-up: JIT, sessions, connections
    const before = machine();
    const runs = Object.fromEntries(names.map((n) => [n, [] as WrkResult[]])) as Record<Name, WrkResult[]>;
    for (let r = 0; r < rounds; r++) {
      for (const n of order.map((_, i) => order[(i + r) % order.length]!))
        runs[n].push(await wrk({ ...load, url: url(n) }));
    }
    const summary = (n: Name) => ({
      rps: spread(
        runs[n].map((x) => x.rps),
        0,
      ),
      p50Ms: spread(runs[n].map((x) => x.p50Ms)),
      p99Ms: spread(runs[n].map((x) => x.p99Ms)),
      errors: runs[n].reduce((e, x) => e + x.errors, 0),
      usPerRequest: Math.round(1e6 / spread(runs[n].map((x) => x.rps)).median),
    });
    /** Per round (the two measured minutes apart at most), then median and min-max. */
    const versus = (a: Name, b: Name) => ({
      rps: spread(runs[a].map((x, i) => x.rps / runs[b][i]!.rps)),
      p99: spread(runs[a].map((x, i) => x.p99Ms / runs[b][i]!.p99Ms)),
    });
    const report = (m: Mode) => {
      const at = (v: Variant): Name => `${v}/${m}`;
      const coreVsFloor = versus(at('strataCore'), at('floor'));
      const hostVsLibrary = versus(at('strata'), at('libraryFloor'));
      return {
        ...Object.fromEntries(VARIANTS.map((v) => [v, summary(at(v))])),
        ratio: {
          strataCoreVsFloor: { ...coreVsFloor, ...target('>=', 0.8, coreVsFloor.rps.median) },
          strataVsLibraryFloor: { ...hostVsLibrary, ...target('>=', 0.95, hostVsLibrary.rps.median) },
          strataVsFloor: versus(at('strata'), at('floor')),
          libraryFloorVsFloor: versus(at('libraryFloor'), at('floor')),
        },
      };
    };
    console.log(
      JSON.stringify(
        {
          benchmark: 'predict',
          client: 'wrk -t1',
          machine: { ...machine(), loadAverageAtStart: before.loadAverage },
          seconds,
          rounds,
          concurrency,
          entities,
          features: FEATURES.length,
          answersMatchHandMath: correct,
          ...Object.fromEntries(modes.map((m) => [m, report(m)])),
          runs,
          note: "noLog: no variant logs predictions (Strata: STRATA_PREDICTION_LOG=off). log: every variant logs each prediction, the same record through Strata's PredictionLog (batches of 500 or 200 ms): floor, strataCore and libraryFloor to a LocalBusSink on their own port (202, discarded), strata (the local host) to its Event Hubs bus (kept on disk, no consumer). floor = node:http + ioredis HGETALL + onnxruntime run; strataCore = node:http + ServingService.predict; libraryFloor = node:http -> @azure/functions invocation of Strata's predict function. All processes share the machine with wrk and Redis.",
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve(),
      ),
    );
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
