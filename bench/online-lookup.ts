/**
 * Online lookup latency over HTTP: GET /api/features/{entity}?view=user_clicks (one entity) and
 * POST /api/features/lookup (100 entities) through the local host running Strata's app on
 * Redis, vs a bare node:http server doing one ioredis HGETALL / one pipeline of 100, in the same
 * run against the same Redis data. Prints one JSON object. Target: p99 <= 2x the floor.
 *   node dist/bench/online-lookup.js   (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_ENTITIES)
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad, LoadResult } from './lib/load';
import { freePort, waitForPort } from '../local/processes/ports';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { RedisOnlineStore } from '../shared/features/online/redis';
import { DEFAULT_KEY_PREFIX } from '../shared/features/online/codec';
import type { FeatureRow } from '../shared/features/types';

const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const entities = Number(process.env.BENCH_ENTITIES ?? 10_000);
const root = path.resolve(__dirname, '../..');
const FUNCTION_KEY = 'bench-function-key';

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const cmp = (strata: LoadResult, floor: LoadResult) => ({ p50: ratio(strata.p50Ms, floor.p50Ms), p99: ratio(strata.p99Ms, floor.p99Ms), rps: ratio(floor.rps, strata.rps) });

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-lookup-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const children: ChildProcess[] = [];
  try {
    // Latest values for `entities` users, written through the real store.
    const store = new RedisOnlineStore(redis.url);
    const now = Date.now();
    const rows: FeatureRow[] = Array.from({ length: entities }, (_, i) => ({
      entityId: `u${i}`, eventTs: now - 60_000, createdTs: now - 59_000,
      values: { clicks_1h: i % 17, clicks_24h: i % 97, distinct_pages_24h: i % 7, last_page: `/p${i % 13}`, clicks_per_day: i % 31 },
    }));
    await store.write('user_clicks', rows, 2 * 86_400_000);
    await store.close();

    const floorPort = await freePort();
    children.push(spawn(process.execPath, [path.join(__dirname, 'fixtures/bare-redis-lookup-server.js'), String(floorPort), redis.url, DEFAULT_KEY_PREFIX], { stdio: 'ignore' }));
    const hostPort = await freePort();
    const host = spawn(process.execPath, [path.join(root, 'dist/local/cli.js'), '--port', String(hostPort), '--data-dir', path.join(tmp, 'data')], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, AzureWebJobsStorage: azurite.connectionString, REDIS_URL: redis.url, STRATA_FUNCTION_KEY: FUNCTION_KEY, STRATA_LOG_LEVEL: 'warn' },
    });
    children.push(host);
    await Promise.all([waitForPort(floorPort), waitForPort(hostPort)]);
    const base = `http://127.0.0.1:${hostPort}`;
    for (let i = 0; i < 100 && (await fetch(`${base}/api/health`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));

    const pick = (i: number) => `u${(i * 7919) % entities}`;
    const hundred = (i: number) => Array.from({ length: 100 }, (_, k) => pick(i * 100 + k));
    const load = { concurrency, durationMs: seconds * 1000, warmupMs: 1500 };

    const floorOne = await runLoad({ ...load, url: `http://127.0.0.1:${floorPort}/?ids=u1` });
    const strataOne = await runLoad({ ...load, url: `${base}/api/features/u1?view=user_clicks`, headers: { 'x-functions-key': FUNCTION_KEY } });
    const floorMany = await runLoad({ ...load, url: `http://127.0.0.1:${floorPort}/?ids=${hundred(1).join(',')}` });
    const strataMany = await runLoad({
      ...load,
      url: `${base}/api/features/lookup`,
      method: 'POST',
      headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ entityIds: hundred(1), views: ['user_clicks'] }),
    });
    console.log(
      JSON.stringify(
        {
          benchmark: 'online-lookup',
          seconds, concurrency, entities,
          oneEntity: { floor: floorOne, strata: strataOne, ratio: cmp(strataOne, floorOne) },
          hundredEntities: { floor: floorMany, strata: strataMany, ratio: cmp(strataMany, floorMany) },
          target: { p99RatioAtMost: 2 },
          note: 'floor = node:http + ioredis HGETALL (one) / pipeline of 100 HGETALL (many), same Redis data, same load',
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
