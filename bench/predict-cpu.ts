/**
 * Predict's CPU per request, in one process: Strata's ServingService.predict (routing,
 * hydration, policy, ONNX, metrics, optional prediction log) against the bare floor's work
 * (bench/lib/predict-floor: one HGETALL, one onnxruntime run), both on the same Redis data and
 * model, alternating rounds. CPU time (process.cpuUsage) barely moves with the neighbours' load,
 * where requests/s on a shared machine does (bench/predict), so this is the figure to compare
 * changes of Strata's core by. Redis's own CPU is not counted (the same on both sides).
 * Like for like (issue 19): `noLog`, neither logs; `log`, both hand the same record to
 * PredictionLog with a LocalBusSink posting to a server in this process that discards it.
 * Target (issue 19, as for requests/s): floor CPU / Strata CPU >= 0.8.
 *   node dist/bench/predict-cpu.js   (BENCH_REQUESTS per round, BENCH_ROUNDS, BENCH_CONCURRENCY)
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { machine, spread, target } from './lib/ab';
import { floorPredict, floorSession, type FloorModel } from './lib/predict-floor';
import { expectedPrediction, FEATURES, MODEL, seedPredictModel, VIEW } from './lib/predict-model';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { LocalBusSink } from '../shared/azure/event-hub-sink';
import { ModelTable } from '../shared/azure/model-table';
import { storageFor } from '../shared/azure/storage';
import { DEFAULT_KEY_PREFIX } from '../shared/features/online/codec';
import { RedisOnlineStore } from '../shared/features/online/redis';
import { PredictionLog, type PredictionRecord } from '../shared/serving/prediction-log';
import { ServingService } from '../shared/serving/service';

const requests = Number(process.env.BENCH_REQUESTS ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const entities = 10_000;
const entity = (i: number) => `e${(i * 7919) % entities}`;

/** CPU µs per call of `one`, `concurrency` calls in flight. */
async function cpuPerCall(one: (i: number) => Promise<number>): Promise<number> {
  let i = 0;
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < requests) await one(i++);
    }),
  );
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / requests;
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-predict-cpu-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: tmp }), startRedis()]);
  // The sink's endpoint: takes each batch (the body is read, as a bus would) and discards it.
  const discard = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => discard.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(discard.address() as { port: number }).port}`;
  const sink = () => new LocalBusSink<PredictionRecord>(sinkUrl, 'predictions', 'unused');
  const closing: Array<() => Promise<unknown>> = [];
  try {
    const artifact = await seedPredictModel({
      storageConnectionString: azurite.connectionString,
      redisUrl: redis.url,
      entities,
    });
    const session = await floorSession(artifact);
    const client = new Redis(redis.url);
    closing.push(async () => client.disconnect());
    const result: Record<string, unknown> = {};
    const before = machine();
    for (const mode of ['noLog', 'log'] as const) {
      const store = new RedisOnlineStore(redis.url);
      const serving = new ServingService({
        models: new ModelTable(storageFor(azurite.connectionString)),
        store,
        sessionGraceMs: 1000,
        ...(mode === 'log' ? { sink: sink() } : {}),
      });
      closing.push(
        () => serving.close(),
        () => store.close(),
      );
      const floor: FloorModel = {
        redis: client,
        session,
        keyPrefix: `${DEFAULT_KEY_PREFIX}:${VIEW}`,
        view: VIEW,
        model: MODEL,
        features: FEATURES,
        ...(mode === 'log' ? { log: new PredictionLog(sink()) } : {}),
      };
      const strata = async (i: number) => {
        const r = await serving.predict(MODEL, { entityId: entity(i) });
        return JSON.stringify(r).length; // the answer is serialised once, as the HTTP layer does
      };
      const bare = async (i: number) => {
        const p = await floorPredict(floor, entity(i), performance.now());
        return JSON.stringify({ entityId: entity(i), prediction: p }).length;
      };
      // Both answer the hand math; then warm up (JIT, session, connections).
      for (const e of [1, 4242]) {
        const s = (await serving.predict(MODEL, { entityId: `e${e}` })).predictions[0]!.prediction as number;
        const b = await floorPredict(floor, `e${e}`, performance.now());
        if (Math.abs(s - expectedPrediction(e)) > 1e-5 || Math.abs(b - expectedPrediction(e)) > 1e-5)
          throw new Error(`entity e${e}: Strata ${s}, floor ${b}, by hand ${expectedPrediction(e)}`);
      }
      await cpuPerCall(strata);
      await cpuPerCall(bare);
      const runs = { strata: [] as number[], floor: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        // A B, B A, ...: neither side always runs first.
        const order = r % 2 ? (['floor', 'strata'] as const) : (['strata', 'floor'] as const);
        for (const side of order) runs[side].push(await cpuPerCall(side === 'strata' ? strata : bare));
      }
      await Promise.all([serving.log?.flush(), floor.log?.flush()]);
      const ratio = spread(runs.floor.map((f, i) => f / runs.strata[i]!));
      result[mode] = {
        floorCpuUsPerRequest: spread(runs.floor, 1),
        strataCpuUsPerRequest: spread(runs.strata, 1),
        strataExtraCpuUs: spread(
          runs.strata.map((s, i) => s - runs.floor[i]!),
          1,
        ),
        floorVsStrataCpu: { ...ratio, ...target('>=', 0.8, ratio.median) },
        logged: mode === 'log' ? { strata: serving.log!.stats().sent, floor: floor.log!.stats().sent } : undefined,
      };
    }
    console.log(
      JSON.stringify(
        {
          benchmark: 'predict-cpu',
          machine: { ...machine(), loadAverageAtStart: before.loadAverage },
          requests,
          rounds,
          concurrency,
          features: FEATURES.length,
          ...result,
          note: 'CPU µs per predict in one process (user + system), Strata ServingService.predict vs the bare floor (HGETALL + onnxruntime run), alternating rounds; the ratio is floor / Strata per round. log: both log the same record through PredictionLog to a LocalBusSink whose endpoint (in this process) discards it.',
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of closing.reverse()) await c().catch(() => undefined);
    await new Promise((r) => discard.close(r));
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
