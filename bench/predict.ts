/**
 * Predict throughput and latency: POST /api/predict/{model} for a logistic model over 20
 * features (one online-store view) with 64 concurrent clients, against floors measured in
 * the same run on the same Redis data and model, each server in its own process:
 *   floor          node:http + one ioredis HGETALL + one onnxruntime run (bench/fixtures/predict-floor-server)
 *   strataCore     node:http + Strata's ServingService.predict, no Azure Functions (what Strata's own code costs)
 *   libraryFloor   node:http -> @azure/functions' invocation of Strata's predict function (no host)
 *   strata         the local host serving Strata's predict function (keys, routing, body limits)
 * Rounds alternate the order; figures are the mean over rounds. Prints one JSON object.
 * Targets: strata throughput >= 0.7x floor, strata p95 <= 1.5x floor.
 *   node dist/bench/predict.js   (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_ENTITIES;
 *                                 BENCH_PROFILE=<dir>: --cpu-prof of every server into <dir>)
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad, type LoadResult } from './lib/load';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { RedisOnlineStore } from '../shared/features/online/redis';
import { DEFAULT_KEY_PREFIX } from '../shared/features/online/codec';
import { storageFor } from '../shared/storage/clients';
import { logisticRegressionModel } from '../shared/onnx';
import { ServingService } from '../shared/serving/service';
import type { FeatureRow } from '../shared/features/types';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const entities = Number(process.env.BENCH_ENTITIES ?? 10_000);
const profileDir = process.env.BENCH_PROFILE;
const root = path.resolve(__dirname, '../..');
const FUNCTION_KEY = 'bench-function-key';
const MODEL = 'bench-logistic';
const VIEW = 'bench_features';
const FEATURES = Array.from({ length: 20 }, (_, i) => `f${i}`);
const WEIGHTS = FEATURES.map((_, i) => ((i % 5) - 2) / 10);
const BIAS = -0.3;

type Name = 'floor' | 'strataCore' | 'libraryFloor' | 'strata';
const r2 = (x: number) => Math.round(x * 100) / 100;
const entity = (i: number) => `e${(i * 7919) % entities}`;
const us = (r: LoadResult) => Math.round(1e6 / r.rps);
const featureValue = (e: number, i: number) => ((e * 31 + i * 17) % 100) / 10;

/** The mean of several runs of one server (requests and errors summed). */
function mean(runs: LoadResult[]): LoadResult {
  const avg = (k: keyof LoadResult) => Math.round((runs.reduce((s, r) => s + r[k], 0) / runs.length) * 1000) / 1000;
  return {
    requests: runs.reduce((s, r) => s + r.requests, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    rps: Math.round(avg('rps')),
    p50Ms: avg('p50Ms'), p95Ms: avg('p95Ms'), p99Ms: avg('p99Ms'), meanMs: avg('meanMs'),
  };
}

const versus = (x: LoadResult, base: LoadResult) => ({
  throughput: r2(x.rps / base.rps),
  p50: r2(x.p50Ms / base.p50Ms),
  p95: r2(x.p95Ms / base.p95Ms),
  p99: r2(x.p99Ms / base.p99Ms),
});

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-predict-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const children: ChildProcess[] = [];
  try {
    // Features of `entities` entities, written through the real online store.
    const store = new RedisOnlineStore(redis.url);
    const now = Date.now();
    const rows: FeatureRow[] = Array.from({ length: entities }, (_, e) => ({
      entityId: `e${e}`, eventTs: now - 60_000, createdTs: now - 60_000,
      values: Object.fromEntries(FEATURES.map((f, i) => [f, featureValue(e, i)])),
    }));
    await store.write(VIEW, rows);

    // The model, registered and made production through the registry the host reads.
    const artifact = logisticRegressionModel({ weights: WEIGHTS, bias: BIAS });
    const serving = new ServingService({ storage: storageFor(azurite.connectionString), store, sessionGraceMs: 1000 });
    await serving.register(MODEL, {
      artifact,
      alias: 'production',
      signature: {
        featureService: { name: 'bench20', features: FEATURES.map((feature) => ({ view: VIEW, feature })) },
        input: { name: 'features' },
        outputs: [{ name: 'probability', meaning: 'probability of class 1' }],
      },
    });
    await serving.close();
    await store.close();
    const modelFile = path.join(tmp, 'model.onnx');
    fs.writeFileSync(modelFile, artifact);

    const prof = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const env = { ...process.env, AzureWebJobsStorage: azurite.connectionString, REDIS_URL: redis.url, STRATA_FUNCTION_KEY: FUNCTION_KEY, STRATA_LOG_LEVEL: 'warn' };
    const ports: Record<Name, number> = { floor: await freePort(), strataCore: await freePort(), libraryFloor: await freePort(), strata: await freePort() };
    children.push(spawn(process.execPath, [...prof, path.join(__dirname, 'fixtures/predict-floor-server.js'), String(ports.floor), redis.url, `${DEFAULT_KEY_PREFIX}:${VIEW}`, modelFile, FEATURES.join(',')], { stdio: 'ignore' }));
    children.push(spawn(process.execPath, [...prof, path.join(__dirname, 'fixtures/predict-core-server.js'), String(ports.strataCore)], {
      cwd: root, stdio: 'ignore', env: { ...env, STRATA_LOCAL_HOST_URL: `http://127.0.0.1:${ports.strataCore}`, STRATA_DATA_DIR: path.join(tmp, 'core-data') },
    }));
    children.push(spawn(process.execPath, [...prof, path.join(__dirname, 'fixtures/predict-library-floor.js'), String(ports.libraryFloor)], {
      cwd: root, stdio: 'ignore', env: { ...env, STRATA_LOCAL_HOST_URL: `http://127.0.0.1:${ports.libraryFloor}`, STRATA_DATA_DIR: path.join(tmp, 'lib-data') },
    }));
    children.push(spawn(process.execPath, [
      ...prof,
      path.join(root, 'dist/local/cli.js'), '--entry', path.join(__dirname, 'fixtures/predict-app.js'), '--port', String(ports.strata), '--data-dir', path.join(tmp, 'data'),
    ], { cwd: root, stdio: 'ignore', env }));
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
      const expected = 1 / (1 + Math.exp(-(WEIGHTS.reduce((z, w, i) => z + w * featureValue(e, i), 0) + BIAS)));
      for (const n of Object.keys(ports) as Name[]) {
        let p: number | undefined;
        for (let i = 0; i < 200 && (p = await ask(n, `e${e}`).catch(() => undefined)) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
        if (p === undefined) throw new Error(`${n} never answered a prediction`);
        if (Math.abs(p - expected) > 1e-5) correct = false;
      }
    }

    const load = { concurrency, durationMs: seconds * 1000, warmupMs: 1500, method: 'POST', headers, body: (i: number) => `{"entityId":"${entity(i)}"}` };
    const runs: Record<Name, LoadResult[]> = { floor: [], strataCore: [], libraryFloor: [], strata: [] };
    const order: Name[] = ['floor', 'strataCore', 'libraryFloor', 'strata'];
    for (let r = 0; r < rounds; r++) {
      for (const n of r % 2 ? [...order].reverse() : order) runs[n].push(await runLoad({ ...load, url: url(n) }));
    }
    const floor = mean(runs.floor);
    const strataCore = mean(runs.strataCore);
    const libraryFloor = mean(runs.libraryFloor);
    const strata = mean(runs.strata);
    const vsFloor = versus(strata, floor);
    console.log(JSON.stringify({
      benchmark: 'predict',
      seconds, rounds, concurrency, entities, features: FEATURES.length,
      answersMatchHandMath: correct,
      floor, strataCore, libraryFloor, strata,
      ratio: {
        strataVsFloor: vsFloor,
        strataCoreVsFloor: versus(strataCore, floor),
        libraryFloorVsFloor: versus(libraryFloor, floor),
        strataVsLibraryFloor: versus(strata, libraryFloor),
      },
      /** CPU-bound servers: 1e6 / rps is roughly the microseconds each layer costs per request. */
      usPerRequest: { floor: us(floor), strataCore: us(strataCore), libraryFloor: us(libraryFloor), strata: us(strata) },
      target: { throughputAtLeast: 0.7, p95AtMost: 1.5 },
      met: { throughput: vsFloor.throughput >= 0.7, p95: vsFloor.p95 <= 1.5 },
      runs,
      note: 'floor = node:http + ioredis HGETALL + onnxruntime run; strataCore = node:http + ServingService.predict; libraryFloor = node:http -> @azure/functions invocation of Strata\'s predict function (strataCore and libraryFloor accept the prediction log POSTs and discard them); strata = the local host (prediction log to its Event Hubs bus, no consumer). All processes share the machine with the load generator and Redis.',
    }, null, 2));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
