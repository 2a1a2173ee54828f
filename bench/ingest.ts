/**
 * Ingest throughput: click events through Strata's IngestService (validation, the feature DAG,
 * Parquet segments to Blob + manifest rows, Redis online writes) in Event Hubs-sized batches,
 * vs the bare floor on the same events: a DuckDB appender writing each batch to a Parquet file
 * and one Redis pipeline of HSETs per batch. Prints one JSON object.
 *   node dist/bench/ingest.js   (BENCH_EVENTS, BENCH_BATCH, BENCH_USERS)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { createPlatform } from '../shared/platform';
import { loadConfig } from '../shared/config';
import { featureRepo } from '../shared/definitions';
import { withConnection, literal } from '../shared/features/offline/duckdb';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 2_000);
const USERS = Number(process.env.BENCH_USERS ?? 2_000);
const PAGES = ['/home', '/shop', '/cart', '/help', '/account'];

function events(start: number): Array<{ user_id: string; page: string; ts: string }> {
  // One event per 100 ms of event time across the users, in time order, like a live stream.
  return Array.from({ length: EVENTS }, (_, i) => ({ user_id: `u${(i * 7919) % USERS}`, page: PAGES[i % PAGES.length]!, ts: new Date(start + i * 100).toISOString() }));
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-ingest-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  try {
    const start = Date.now() - EVENTS * 100 - 60_000;
    const evs = events(start);
    const batches: Array<typeof evs> = [];
    for (let i = 0; i < evs.length; i += BATCH) batches.push(evs.slice(i, i + BATCH));

    // Floor: DuckDB appender -> Parquet file per batch, Redis pipeline of HSET per event.
    const raw = new Redis(redis.url);
    const floorDir = path.join(tmp, 'floor');
    fs.mkdirSync(floorDir);
    const t0 = performance.now();
    await withConnection(async (c) => {
      for (const [b, batch] of batches.entries()) {
        await c.run('CREATE OR REPLACE TEMP TABLE staged (entity_id VARCHAR, event_ts BIGINT, page VARCHAR)');
        const app = await c.createAppender('staged');
        for (const e of batch) {
          app.appendVarchar(e.user_id);
          app.appendBigInt(BigInt(Date.parse(e.ts)));
          app.appendVarchar(e.page);
          app.endRow();
        }
        app.flushSync();
        app.closeSync();
        await c.run(`COPY staged TO ${literal(path.join(floorDir, `b${b}.parquet`))} (FORMAT parquet)`);
        const p = raw.pipeline();
        for (const e of batch) p.hset(`floor:${e.user_id}`, 'page', e.page, 'ts', e.ts);
        await p.exec();
      }
    });
    const floorSeconds = (performance.now() - t0) / 1000;
    await raw.quit();

    // Strata: the IngestService the Event Hubs functions call, on the same events.
    const cfg = loadConfig({ AzureWebJobsStorage: azurite.connectionString, REDIS_URL: redis.url, STRATA_DATA_DIR: path.join(tmp, 'data') });
    const platform = createPlatform(cfg, featureRepo);
    const ingest = await platform.ingest();
    const t1 = performance.now();
    let rows = 0;
    for (const [b, batch] of batches.entries()) {
      const r = await ingest.ingest({
        source: 'clicks',
        records: batch.map((record, i) => ({ record, position: `sequence ${b * BATCH + i}` })),
        batch: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: b * BATCH, lastSeq: b * BATCH + batch.length - 1 },
      });
      rows += Object.values(r.views).reduce((n, v) => n + v.rows, 0);
    }
    const strataSeconds = (performance.now() - t1) / 1000;
    await platform.online.close();

    const floorRate = Math.round(EVENTS / floorSeconds);
    const strataRate = Math.round(EVENTS / strataSeconds);
    console.log(
      JSON.stringify(
        {
          benchmark: 'ingest',
          events: EVENTS, batchSize: BATCH, users: USERS,
          floor: { eventsPerSecond: floorRate, seconds: Math.round(floorSeconds * 100) / 100, what: 'DuckDB appender -> Parquet file per batch + Redis pipeline HSET per event' },
          strata: {
            eventsPerSecond: strataRate, seconds: Math.round(strataSeconds * 100) / 100, featureRowsWritten: rows,
            what: 'validation + DAG (user_clicks, user_engagement) + Parquet segments to Blob with manifest commits (2 views + source) + Redis Lua CAS writes',
          },
          ratio: { floorOverStrata: Math.round((floorRate / strataRate) * 100) / 100 },
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
