/**
 * Backfill throughput for one view over 30 days: runBackfill (plan, one interval per day two at
 * a time, each reading the day plus its windows' reach from the source's Parquet segments,
 * computing the windows in one DuckDB query (backfill/sql-windows.ts; `computedBy` counts the
 * intervals per engine), writing a Parquet segment to Blob + manifest + ledger), against
 * the bare floor measured in the same run: one DuckDB query computing the same aggregates at
 * every event (window functions over RANGE frames) over the same local Parquet files, written
 * to a local Parquet file. Prints one JSON object. Target (issue 19): <= 5x the bare query.
 *
 *   node dist/bench/backfill.js      (DAYS, USERS, EVENTS_PER_DAY to change the run)
 *
 * The backfill emits more rows than the query: besides one per event, the rows where a window's
 * value changes by time alone (an event leaving the 1h window), which a point-in-time join needs.
 * Rates are per source record, so both sides are measured on the same input; `agreement` checks
 * the values the two sides share (at event times).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { startAzurite } from '../local/processes/azurite';
import { Storage } from '../shared/azure/storage';
import { OfflineStore } from '../shared/features/offline/store';
import { fileList, literal, withConnection } from '../shared/features/offline/duckdb';
import { EmbeddedOnlineStore } from '../shared/features/online/embedded';
import { IntervalLedger } from '../shared/features/ledger/ledger';
import { LedgerTable } from '../shared/azure/ledger-table';
import { sourceColumns, sourceSegmentView } from '../shared/features/ingest/service';
import { defineRepo, entity, featureView, sliding, source } from '../shared/features/definitions/language';
import { runBackfill } from '../shared/features/backfill';
import { machine, target } from './lib/ab';
import type { FeatureRow } from '../shared/features/definitions/values';

const DAYS = Number(process.env.DAYS ?? 30);
const USERS = Number(process.env.USERS ?? 2_000);
const EVENTS_PER_DAY = Number(process.env.EVENTS_PER_DAY ?? 20_000);
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

const user = entity({ name: 'user', joinKey: 'user_id' });
const payments = source({
  name: 'payments',
  schema: z.object({ user_id: z.string(), amount: z.number(), ts: z.number() }),
  eventTime: 'ts',
  file: true,
});
const activity = featureView({
  name: 'activity',
  entity: user,
  input: payments,
  features: (f) => ({
    n_1h: f.count(sliding('1h')),
    amount_1h: f.sum('amount', sliding('1h')),
    avg_24h: f.mean('amount', sliding('24h')),
    max_24h: f.max('amount', sliding('24h')),
  }),
});
const repo = defineRepo({ entities: [user], sources: [payments], views: [activity] });

/** A deterministic day of payments, spread over the day, a few users busier than others. */
function day(d: number): FeatureRow[] {
  const out: FeatureRow[] = [];
  let x = (d + 1) * 2654435761;
  const rand = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < EVENTS_PER_DAY; i++) {
    const u = `u${Math.floor(rand() * rand() * USERS)}`;
    const ts = T0 + d * DAY + Math.floor((i / EVENTS_PER_DAY) * DAY);
    const amount = Math.round(rand() * 10_000) / 100;
    out.push({ entityId: u, eventTs: ts, createdTs: ts + 1_000, values: { user_id: u, amount, ts } });
  }
  return out;
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-backfill-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  try {
    const storage = new Storage(azurite.connectionString);
    const offline = await OfflineStore.open({ storage, cacheDir: path.join(tmp, 'cache') });
    const src = repo.source('payments');
    const srcView = sourceSegmentView('payments');
    for (let d = 0; d < DAYS; d++) {
      await offline.writeRows(
        {
          view: srcView,
          version: src.version,
          columns: sourceColumns(src),
          lineage: { input: { kind: 'file', source: 'payments', sha256: `${d}`.padStart(64, '0') } },
        },
        day(d),
      );
    }
    const sourceRows = DAYS * EVENTS_PER_DAY;
    const deps = {
      repo,
      offline,
      online: new EmbeddedOnlineStore(),
      ledger: new IntervalLedger(await LedgerTable.open(storage)),
      now: () => T0 + (DAYS + 2) * DAY,
    };
    const { files } = await offline.localFiles(srcView, { version: src.version });

    // The bare floor: the same aggregates at every event, one query, to a local Parquet file.
    const bareOut = path.join(tmp, 'bare.parquet');
    const bare = async () => {
      const s = performance.now();
      await withConnection((c) =>
        c.run(`COPY (
        SELECT entity_id, event_ts,
          count(*) OVER h AS n_1h, sum(amount) OVER h AS amount_1h,
          avg(amount) OVER d AS avg_24h, max(amount) OVER d AS max_24h
        FROM read_parquet(${fileList(files)})
        WINDOW h AS (PARTITION BY entity_id ORDER BY event_ts RANGE BETWEEN 3599999 PRECEDING AND CURRENT ROW),
               d AS (PARTITION BY entity_id ORDER BY event_ts RANGE BETWEEN 86399999 PRECEDING AND CURRENT ROW)
      ) TO ${literal(bareOut)} (FORMAT parquet, COMPRESSION zstd)`),
      );
      return (performance.now() - s) / 1000;
    };
    await bare(); // warm the files and DuckDB
    const bareSeconds = Math.min(await bare(), await bare());

    const s = performance.now();
    const done = await runBackfill(
      deps,
      { views: ['activity'], from: T0, to: T0 + DAYS * DAY, intervalMs: DAY, maxParallel: 2 },
      { jobId: 'bench', refreshOnline: false },
    );
    const backfillSeconds = (performance.now() - s) / 1000;
    const rowsOut = done.rows.activity ?? 0;

    // The values both sides compute (at event times) agree.
    const out = await offline.localFiles('activity', { version: repo.view('activity').version });
    const agreement = await withConnection(async (c) => {
      const r = await c.runAndReadAll(`
        WITH b AS (SELECT entity_id, event_ts, n_1h, amount_1h, avg_24h, max_24h FROM read_parquet(${fileList(out.files)})),
             q AS (SELECT DISTINCT entity_id, event_ts, n_1h, amount_1h, avg_24h, max_24h FROM read_parquet(${literal(bareOut)}))
        SELECT count(*) AS compared,
               count(*) FILTER (WHERE b.n_1h <> q.n_1h OR abs(b.amount_1h - q.amount_1h) > 1e-6 OR abs(b.avg_24h - q.avg_24h) > 1e-6 OR b.max_24h <> q.max_24h) AS different
        FROM q JOIN b USING (entity_id, event_ts)`);
      const [compared, different] = r.getRows()[0]!.map(Number) as [number, number];
      return { compared, different };
    });

    console.log(
      JSON.stringify(
        {
          bench: 'backfill',
          days: DAYS,
          users: USERS,
          sourceRows,
          backfill: {
            seconds: round(backfillSeconds),
            intervals: done.intervals.total,
            rowsOut,
            sourceRowsPerSec: Math.round(sourceRows / backfillSeconds),
            rowsOutPerSec: Math.round(rowsOut / backfillSeconds),
            computedBy: countBy(done.results.flatMap((r) => r.views.map((v) => v.computedBy ?? 'none'))),
          },
          bareDuckdb: {
            seconds: round(bareSeconds),
            rowsOut: sourceRows,
            sourceRowsPerSec: Math.round(sourceRows / bareSeconds),
          },
          ratio: round(backfillSeconds / bareSeconds),
          ...target('<=', 5, backfillSeconds / bareSeconds),
          machine: machine(),
          agreement,
          note: "ratio = backfill time / bare DuckDB window query time over the same source Parquet files; the backfill also emits the rows where windows change by time alone, reads each day's 24h reach again, uploads segments to Blob and commits manifest and ledger rows",
        },
        null,
        2,
      ),
    );
  } finally {
    await azurite.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const round = (x: number) => Number(x.toFixed(2));
const countBy = (xs: string[]) =>
  Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
