/**
 * Ingest throughput: click events through Strata's IngestService (validation, the feature DAG,
 * Parquet segments to Blob + manifest rows, the interval ledger, Redis online writes) in Event
 * Hubs-sized batches, vs the bare floor on the same events in the same process: a DuckDB
 * appender writing each batch to a Parquet file and one Redis pipeline of HSETs per batch.
 *
 * One long-lived IngestService, as on an instance: every round continues the stream (later event
 * times, next sequence numbers), so windows carry state from round to round. Floor and Strata
 * alternate (F S, S F, ...); medians and min-max are printed with the load average, and a curve
 * of events/s against batch size (the host.json maxEventBatchSize choice). Prints one JSON object.
 *   node dist/bench/ingest.js   (BENCH_EVENTS per round, BENCH_BATCH, BENCH_ROUNDS, BENCH_USERS,
 *                                BENCH_CURVE="256,1000,...", BENCH_CURVE_EVENTS)
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
import type { IngestService } from '../shared/features/ingest/service';
import { machine, spread, target } from './lib/ab';

const hostJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'host.json'), 'utf8')) as {
  extensions?: { eventHubs?: { maxEventBatchSize?: number } };
};
const HOST_BATCH = hostJson.extensions?.eventHubs?.maxEventBatchSize ?? 100;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const BATCH = Number(process.env.BENCH_BATCH ?? HOST_BATCH);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const USERS = Number(process.env.BENCH_USERS ?? 2_000);
const CURVE = (process.env.BENCH_CURVE ?? '256,1000,2500,5000,10000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const CURVE_EVENTS = Number(process.env.BENCH_CURVE_EVENTS ?? 20_000);
const PAGES = ['/home', '/shop', '/cart', '/help', '/account'];
/** Event time between consecutive events of the stream (all users together). */
const STEP_MS = 100;

type Click = { user_id: string; page: string; ts: string };

/** The stream from event `from` on: one event per STEP_MS of event time across the users. */
class Stream {
  private next = 0;
  constructor(private readonly start: number) {}
  take(n: number, batchSize: number): { first: number; batches: Click[][] } {
    const first = this.next;
    const batches: Click[][] = [];
    for (let b = 0; b < n; b += batchSize) {
      const batch: Click[] = [];
      for (let i = first + b; i < first + Math.min(n, b + batchSize); i++) {
        batch.push({
          user_id: `u${(i * 7919) % USERS}`,
          page: PAGES[i % PAGES.length]!,
          ts: new Date(this.start + i * STEP_MS).toISOString(),
        });
      }
      batches.push(batch);
    }
    this.next += n;
    return { first, batches };
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-ingest-'));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const raw = new Redis(redis.url);
  const cfg = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    REDIS_URL: redis.url,
    STRATA_DATA_DIR: path.join(tmp, 'data'),
  });
  const platform = createPlatform(cfg, featureRepo);
  try {
    const totalEvents = (ROUNDS + 1) * EVENTS + CURVE.length * CURVE_EVENTS;
    const stream = new Stream(Date.now() - totalEvents * STEP_MS - 60_000);
    const floorDir = path.join(tmp, 'floor');
    fs.mkdirSync(floorDir);
    let floorFiles = 0;

    // Floor: DuckDB appender -> Parquet file per batch, Redis pipeline of HSET per event.
    const floor = async (batches: Click[][]) => {
      const t0 = performance.now();
      await withConnection(async (c) => {
        for (const batch of batches) {
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
          await c.run(`COPY staged TO ${literal(path.join(floorDir, `b${floorFiles++}.parquet`))} (FORMAT parquet)`);
          const p = raw.pipeline();
          for (const e of batch) p.hset(`floor:${e.user_id}`, 'page', e.page, 'ts', e.ts);
          await p.exec();
        }
      });
      return (performance.now() - t0) / 1000;
    };
    // Strata: the IngestService the Event Hubs functions call, on the same events.
    const ingest: IngestService = await platform.ingest();
    let rows = 0;
    const strata = async (first: number, batches: Click[][]) => {
      const t0 = performance.now();
      let seq = first;
      for (const batch of batches) {
        const r = await ingest.ingest({
          source: 'clicks',
          records: batch.map((record, i) => ({ record, position: `sequence ${seq + i}` })),
          batch: { kind: 'eventhub', source: 'clicks', partition: '0', firstSeq: seq, lastSeq: seq + batch.length - 1 },
        });
        seq += batch.length;
        rows += Object.values(r.views).reduce((n, v) => n + v.rows, 0);
      }
      return (performance.now() - t0) / 1000;
    };
    /** One floor run and one Strata run on the same events, in the order given. */
    const pair = async (n: number, batchSize: number, floorFirst: boolean) => {
      const { first, batches } = stream.take(n, batchSize);
      let f = 0;
      let s = 0;
      if (floorFirst) f = await floor(batches);
      s = await strata(first, batches);
      if (!floorFirst) f = await floor(batches);
      return { floor: n / f, strata: n / s };
    };

    const before = machine();
    await pair(EVENTS, BATCH, true); // warm-up: JIT, connections, the pipeline's first windows
    const rounds: Array<{ floor: number; strata: number }> = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await pair(EVENTS, BATCH, r % 2 === 1));
    const curve = [];
    for (const [i, size] of CURVE.entries()) {
      const p = await pair(CURVE_EVENTS, size, i % 2 === 0);
      curve.push({
        batchSize: size,
        strataEventsPerSecond: Math.round(p.strata),
        floorEventsPerSecond: Math.round(p.floor),
        floorOverStrata: Math.round((p.floor / p.strata) * 100) / 100,
      });
    }
    const after = machine();

    const strataRate = spread(
      rounds.map((r) => r.strata),
      0,
    );
    const ratio = spread(rounds.map((r) => r.floor / r.strata));
    console.log(
      JSON.stringify(
        {
          benchmark: 'ingest',
          machine: { ...after, loadAverageAtStart: before.loadAverage },
          eventsPerRound: EVENTS,
          rounds: ROUNDS,
          batchSize: BATCH,
          hostJsonMaxEventBatchSize: HOST_BATCH,
          users: USERS,
          floor: {
            eventsPerSecond: spread(
              rounds.map((r) => r.floor),
              0,
            ),
            what: 'DuckDB appender -> Parquet file per batch + Redis pipeline HSET per event',
          },
          strata: {
            eventsPerSecond: strataRate,
            featureRowsWritten: rows,
            what: 'validation + DAG (user_clicks, user_engagement) + Parquet segments to Blob with manifest commits (2 views + source) + interval ledger + Redis Lua CAS writes',
            ...target('>=', 50_000, strataRate.median),
          },
          ratio: { floorOverStrata: ratio, ...target('<=', 3, ratio.median) },
          batchSizeCurve: curve,
        },
        null,
        2,
      ),
    );
  } finally {
    await raw.quit();
    await platform.online.close();
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
