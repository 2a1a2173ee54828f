/**
 * Durable engine throughput against a real Azurite: orchestrations/s for a 5-activity sequence
 * and activities/s for 100-way fan-outs, both with real durable-functions orchestrator code. The
 * bare baseline, measured in the same run, calls the same activity straight through the functions
 * core (no history, no storage): the ratio is what durability costs per activity.
 * Prints one JSON object.
 *   node dist/bench/durable.js   (BENCH_SEQUENCES, BENCH_FANOUTS, BENCH_FANOUT_WIDTH to change the run)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { functionsCore } from '../local/functions-core';
import { DurableEngine } from '../local/durable/engine';
import { startAzurite } from '../local/processes/azurite';
import type { HostJson } from '../local/extension';

const sequences = Number(process.env.BENCH_SEQUENCES ?? 500);
const fanouts = Number(process.env.BENCH_FANOUTS ?? 10);
const width = Number(process.env.BENCH_FANOUT_WIDTH ?? 100);
const root = path.resolve(__dirname, '../..');

/** The benchmark's app, registered like any app (after the functions core is installed). */
function registerApp(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const df = require('durable-functions') as typeof import('durable-functions');
  df.app.activity('benchStep', { handler: (n: number) => n + 1 });
  df.app.orchestration('benchSequence', function* (ctx) {
    let n = ctx.df.getInput<number>();
    for (let i = 0; i < 5; i++) n = yield ctx.df.callActivity('benchStep', n);
    return n;
  });
  df.app.orchestration('benchFanOut', function* (ctx) {
    const w = ctx.df.getInput<number>();
    const rs: number[] = yield ctx.df.Task.all(
      Array.from({ length: w }, (_, i) => ctx.df.callActivity('benchStep', i)),
    );
    return rs.length;
  });
}

async function runAll(engine: DurableEngine, name: string, inputs: unknown[]): Promise<number> {
  const t0 = performance.now();
  const ids = await Promise.all(inputs.map(async (input) => (await engine.startNew(name, { input })).instanceId));
  const results = await Promise.all(ids.map((id) => engine.waitForCompletion(id, 600_000, 20)));
  const seconds = (performance.now() - t0) / 1000;
  const bad = results.filter((s) => s?.runtimeStatus !== 'Completed');
  if (bad.length) throw new Error(`${bad.length} ${name} instances did not complete: ${JSON.stringify(bad[0])}`);
  return seconds;
}

async function directActivityRate(count: number): Promise<number> {
  const fn = functionsCore.byTrigger('activityTrigger').find((f) => f.name === 'benchStep')!;
  const t0 = performance.now();
  for (let i = 0; i < count; i++)
    await functionsCore.invoke(fn.id, { inputData: [{ name: fn.triggerKey, data: { string: String(i) } }] });
  return count / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-durable-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  const hostJson = JSON.parse(fs.readFileSync(path.join(root, 'host.json'), 'utf8')) as HostJson;
  const cfg = hostJson.extensions?.durableTask ?? {};
  functionsCore.install();
  functionsCore.logSink = () => undefined;
  registerApp();
  await functionsCore.finishStartup(root);
  const engine = new DurableEngine({
    core: functionsCore,
    storageConnection: azurite.connectionString,
    hubName: 'BenchHub',
    maxConcurrentActivities: cfg.maxConcurrentActivityFunctions ?? 10,
    maxConcurrentOrchestrations: cfg.maxConcurrentOrchestratorFunctions ?? 10,
    log: (level, m) => level === 'error' && console.error(m),
  });
  try {
    await engine.start();
    await runAll(engine, 'benchSequence', [0, 1, 2, 3, 4]); // warm-up: tables, JIT

    const direct = await directActivityRate(2000);

    let e0 = engine.stats.episodes;
    const seqSeconds = await runAll(
      engine,
      'benchSequence',
      Array.from({ length: sequences }, (_, i) => i),
    );
    const seqEpisodes = engine.stats.episodes - e0;

    e0 = engine.stats.episodes;
    const fanSeconds = await runAll(
      engine,
      'benchFanOut',
      Array.from({ length: fanouts }, () => width),
    );
    const fanEpisodes = engine.stats.episodes - e0;

    const r = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    const seqActivityRate = (sequences * 5) / seqSeconds;
    const fanActivityRate = (fanouts * width) / fanSeconds;
    console.log(
      JSON.stringify({
        benchmark: 'durable',
        storage: 'azurite',
        limits: {
          maxConcurrentActivityFunctions: cfg.maxConcurrentActivityFunctions ?? 10,
          maxConcurrentOrchestratorFunctions: cfg.maxConcurrentOrchestratorFunctions ?? 10,
        },
        sequence: {
          instances: sequences,
          activitiesEach: 5,
          seconds: r(seqSeconds, 2),
          orchestrationsPerSec: r(sequences / seqSeconds),
          activitiesPerSec: r(seqActivityRate),
          episodesPerInstance: r(seqEpisodes / sequences, 2),
        },
        fanOut: {
          orchestrations: fanouts,
          width,
          seconds: r(fanSeconds, 2),
          activitiesPerSec: r(fanActivityRate),
          episodesPerOrchestration: r(fanEpisodes / fanouts, 1),
        },
        baseline: { directActivityInvocationsPerSec: r(direct) },
        ratio: {
          directVsSequenceActivities: r(direct / seqActivityRate, 2),
          directVsFanOutActivities: r(direct / fanActivityRate, 2),
        },
      }),
    );
  } finally {
    await engine.stop();
    await azurite.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
