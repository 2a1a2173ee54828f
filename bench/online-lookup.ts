/**
 * Online lookup latency over HTTP: GET /api/features/{entity}?view=user_clicks (one entity) and
 * POST /api/features/lookup (100 entities) through the local host running Strata's app on
 * Redis, vs a bare node:http server doing one ioredis HGETALL / one pipeline of 100, and (one
 * entity) the same features function through the @azure/functions library without a host: the
 * ceiling of any host that runs the real programming model. Same Redis data; wrk as the client
 * (bench/lib/wrk.ts), the servers' order rotating each round, medians with min-max.
 * Target (issue 19): one entity's p99 through the host <= 1.1x the library floor's.
 *   node dist/bench/online-lookup.js   (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_ENTITIES, BENCH_ROUNDS)
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureWrk, wrk, type WrkOptions, type WrkResult } from './lib/wrk';
import { machine, spread, target } from './lib/ab';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { RedisOnlineStore } from '../shared/features/online/redis';
import { DEFAULT_KEY_PREFIX } from '../shared/features/online/codec';
import type { FeatureRow } from '../shared/features/definitions/values';

const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const entities = Number(process.env.BENCH_ENTITIES ?? 10_000);
const root = path.resolve(__dirname, '../..');
const FUNCTION_KEY = 'bench-function-key';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const summary = (runs: WrkResult[]) => ({
  rps: spread(
    runs.map((x) => x.rps),
    0,
  ),
  p50Ms: spread(runs.map((x) => x.p50Ms)),
  p99Ms: spread(runs.map((x) => x.p99Ms)),
  errors: runs.reduce((e, x) => e + x.errors, 0),
});
/** Per round, then median and min-max. */
const versus = (a: WrkResult[], b: WrkResult[]) => ({
  p50: spread(a.map((x, i) => x.p50Ms / b[i]!.p50Ms)),
  p99: spread(a.map((x, i) => x.p99Ms / b[i]!.p99Ms)),
  rps: spread(a.map((x, i) => x.rps / b[i]!.rps)),
});

async function main() {
  ensureWrk();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-lookup-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const children: ChildProcess[] = [];
  try {
    // Latest values for `entities` users, written through the real store.
    const store = new RedisOnlineStore(redis.url);
    const now = Date.now();
    const rows: FeatureRow[] = Array.from({ length: entities }, (_, i) => ({
      entityId: `u${i}`,
      eventTs: now - 60_000,
      createdTs: now - 59_000,
      values: {
        clicks_1h: i % 17,
        clicks_24h: i % 97,
        distinct_pages_24h: i % 7,
        last_page: `/p${i % 13}`,
        clicks_per_day: i % 31,
      },
    }));
    await store.write('user_clicks', rows, 2 * 86_400_000);
    await store.close();

    const floorPort = await freePort();
    children.push(
      spawn(
        process.execPath,
        [
          path.join(__dirname, 'fixtures/bare-redis-lookup-server.js'),
          String(floorPort),
          redis.url,
          DEFAULT_KEY_PREFIX,
        ],
        { stdio: 'ignore' },
      ),
    );
    const env = {
      ...process.env,
      AzureWebJobsStorage: azurite.connectionString,
      REDIS_URL: redis.url,
      STRATA_FUNCTION_KEY: FUNCTION_KEY,
      STRATA_LOG_LEVEL: 'warn',
    };
    const libraryPort = await freePort();
    children.push(
      spawn(process.execPath, [path.join(__dirname, 'fixtures/features-library-floor.js'), String(libraryPort)], {
        cwd: root,
        stdio: 'ignore',
        env: { ...env, STRATA_DATA_DIR: path.join(tmp, 'lib-data') },
      }),
    );
    const hostPort = await freePort();
    children.push(
      spawn(
        process.execPath,
        [path.join(root, 'dist/local/cli.js'), '--port', String(hostPort), '--data-dir', path.join(tmp, 'data')],
        { cwd: root, stdio: 'ignore', env },
      ),
    );
    await Promise.all([waitForPort(floorPort), waitForPort(libraryPort), waitForPort(hostPort)]);
    const base = `http://127.0.0.1:${hostPort}`;
    for (let i = 0; i < 100 && (await fetch(`${base}/api/health`)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 100));
    for (
      let i = 0;
      i < 100 &&
      (await fetch(`http://127.0.0.1:${libraryPort}/api/features/u1?view=user_clicks`).catch(() => undefined))
        ?.status !== 200;
      i++
    )
      await new Promise((r) => setTimeout(r, 100));

    const pick = (i: number) => `u${(i * 7919) % entities}`;
    const hundred = (i: number) => Array.from({ length: 100 }, (_, k) => pick(i * 100 + k));
    const key = { 'x-functions-key': FUNCTION_KEY };
    const one: Record<'floor' | 'libraryFloor' | 'strata', Omit<WrkOptions, 'concurrency' | 'seconds'>> = {
      floor: { url: `http://127.0.0.1:${floorPort}/?ids=u1` },
      libraryFloor: { url: `http://127.0.0.1:${libraryPort}/api/features/u1?view=user_clicks`, headers: key },
      strata: { url: `${base}/api/features/u1?view=user_clicks`, headers: key },
    };
    const many: Record<'floor' | 'strata', Omit<WrkOptions, 'concurrency' | 'seconds'>> = {
      floor: { url: `http://127.0.0.1:${floorPort}/?ids=${hundred(1).join(',')}` },
      strata: {
        url: `${base}/api/features/lookup`,
        method: 'POST',
        headers: { ...key, 'content-type': 'application/json' },
        body: JSON.stringify({ entityIds: hundred(1), views: ['user_clicks'] }),
      },
    };
    const run = (o: Omit<WrkOptions, 'concurrency' | 'seconds'>, s = seconds) => wrk({ ...o, concurrency, seconds: s });
    for (const o of [...Object.values(one), ...Object.values(many)]) await run(o, 2); // warm-up
    const before = machine();
    const oneRuns = { floor: [] as WrkResult[], libraryFloor: [] as WrkResult[], strata: [] as WrkResult[] };
    const manyRuns = { floor: [] as WrkResult[], strata: [] as WrkResult[] };
    for (let r = 0; r < rounds; r++) {
      const names = Object.keys(one) as Array<keyof typeof one>;
      for (const n of names.map((_, i) => names[(i + r) % names.length]!)) oneRuns[n].push(await run(one[n]));
      for (const n of (r % 2 ? ['strata', 'floor'] : ['floor', 'strata']) as Array<keyof typeof many>)
        manyRuns[n].push(await run(many[n]));
    }
    const hostVsLibrary = versus(oneRuns.strata, oneRuns.libraryFloor);
    console.log(
      JSON.stringify(
        {
          benchmark: 'online-lookup',
          client: 'wrk -t1',
          machine: { ...machine(), loadAverageAtStart: before.loadAverage },
          seconds,
          concurrency,
          entities,
          rounds,
          oneEntity: {
            floor: summary(oneRuns.floor),
            libraryFloor: summary(oneRuns.libraryFloor),
            strata: summary(oneRuns.strata),
            strataVsLibraryFloor: { ...hostVsLibrary, p99Target: target('<=', 1.1, hostVsLibrary.p99.median) },
            strataVsFloor: versus(oneRuns.strata, oneRuns.floor),
            libraryFloorVsFloor: versus(oneRuns.libraryFloor, oneRuns.floor),
          },
          hundredEntities: {
            floor: summary(manyRuns.floor),
            strata: summary(manyRuns.strata),
            strataVsFloor: versus(manyRuns.strata, manyRuns.floor),
          },
          note: "floor = node:http + ioredis HGETALL (one) / pipeline of 100 HGETALL (many); libraryFloor = node:http -> @azure/functions invocation of Strata's features-get function; same Redis data, same load",
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
