/**
 * Segment write throughput: FeatureRows -> Parquet -> Blob (Azurite) -> manifest row, through
 * OfflineStore.writeRows, vs the bare floor: the same rows appended to DuckDB (data chunks)
 * and COPY'd to a local Parquet file. Large batches show the per-row cost, small batches the
 * per-segment cost (manifest check, upload, commit). Prints one JSON object.
 *
 *   node dist/bench/offline-segment-write.js   (BATCH_ROWS, BATCHES, SMALL_ROWS, SMALL_BATCHES to change the run)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DOUBLE, VARCHAR, BOOLEAN, DuckDBDataChunk } from '@duckdb/node-api';
import { startAzurite } from '../local/processes/azurite';
import { Storage } from '../shared/azure/storage';
import { OfflineStore, withConnection, type SegmentSpec } from '../shared/features/offline';
import { literal } from '../shared/features/offline/duckdb';
import type { FeatureColumn, FeatureRow } from '../shared/features/definitions/values';

const BATCH_ROWS = Number(process.env.BATCH_ROWS ?? 100_000);
const BATCHES = Number(process.env.BATCHES ?? 5);
const SMALL_ROWS = Number(process.env.SMALL_ROWS ?? 500);
const SMALL_BATCHES = Number(process.env.SMALL_BATCHES ?? 100);
const T0 = Date.UTC(2024, 0, 1);

const COLUMNS: FeatureColumn[] = [
  { name: 'clicks_1h', type: 'int' },
  { name: 'clicks_24h', type: 'int' },
  { name: 'spend_1h', type: 'float' },
  { name: 'spend_24h', type: 'float' },
  { name: 'country', type: 'string' },
  { name: 'active', type: 'bool' },
];

function rows(n: number, batch: number): FeatureRow[] {
  return Array.from({ length: n }, (_, i) => ({
    entityId: `user-${(i * 7919 + batch) % 50_000}`,
    eventTs: T0 + batch * 1000 + i, // one day: one segment per batch
    createdTs: T0 + batch * 1000 + i + 50,
    values: {
      clicks_1h: i % 17,
      clicks_24h: i % 101,
      spend_1h: i * 0.25,
      spend_24h: i * 1.5,
      country: `c${i % 20}`,
      active: i % 3 === 0,
    },
  }));
}

/** The floor: data-chunk appends into DuckDB, then COPY to Parquet. */
async function bare(batch: FeatureRow[], file: string): Promise<void> {
  await withConnection(async (c) => {
    await c.run(
      'CREATE TEMP TABLE t (entity_id VARCHAR, event_ts DOUBLE, created_ts DOUBLE, clicks_1h DOUBLE, clicks_24h DOUBLE, spend_1h DOUBLE, spend_24h DOUBLE, country VARCHAR, active BOOLEAN)',
    );
    const types = [VARCHAR, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, VARCHAR, BOOLEAN];
    const appender = await c.createAppender('t', 'main', 'temp');
    for (let off = 0; off < batch.length; off += 2048) {
      const n = Math.min(2048, batch.length - off);
      const cols: Array<Array<string | number | boolean | null>> = types.map(() => new Array(n));
      for (let j = 0; j < n; j++) {
        const r = batch[off + j]!;
        cols[0]![j] = r.entityId;
        cols[1]![j] = r.eventTs;
        cols[2]![j] = r.createdTs;
        COLUMNS.forEach((col, k) => (cols[k + 3]![j] = r.values[col.name] ?? null));
      }
      const chunk = DuckDBDataChunk.create(types, n);
      chunk.setColumns(cols);
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    await c.run(
      `COPY (SELECT entity_id, event_ts::BIGINT AS event_ts, created_ts::BIGINT AS created_ts, clicks_1h::BIGINT AS clicks_1h, clicks_24h::BIGINT AS clicks_24h, spend_1h, spend_24h, country, active FROM t) TO ${literal(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  });
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-segw-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  try {
    const store = await OfflineStore.open({
      storage: new Storage(azurite.connectionString),
      cacheDir: path.join(tmp, 'cache'),
    });
    const spec = (view: string, i: number): SegmentSpec => ({
      view,
      version: 'v1',
      columns: COLUMNS,
      lineage: { input: { kind: 'eventhub', source: 'bench', partition: '0', firstSeq: i, lastSeq: i } },
    });

    const run = async (label: string, n: number, count: number) => {
      const batches = Array.from({ length: count }, (_, i) => rows(n, i));
      await store.writeRows(spec(`warm-${label}`, 0), batches[0]!); // warm up clients and DuckDB
      await bare(batches[0]!, path.join(tmp, 'warm.parquet'));
      let apiMs = 0;
      let bareMs = 0;
      for (let i = 0; i < count; i++) {
        // Alternate, so both see the same machine conditions.
        let s = performance.now();
        const r = await store.writeRows(spec(label, i), batches[i]!);
        apiMs += performance.now() - s;
        if (r.rowsCommitted !== n) throw new Error(`batch ${i}: committed ${r.rowsCommitted} of ${n} rows`);
        s = performance.now();
        await bare(batches[i]!, path.join(tmp, `bare-${label}-${i}.parquet`));
        bareMs += performance.now() - s;
      }
      // Redelivery of everything: the no-op path.
      const s = performance.now();
      for (let i = 0; i < count; i++) await store.writeRows(spec(label, i), batches[i]!);
      const redeliverMs = performance.now() - s;
      const total = n * count;
      return {
        rowsPerBatch: n,
        batches: count,
        apiRowsPerSec: Math.round(total / (apiMs / 1000)),
        bareRowsPerSec: Math.round(total / (bareMs / 1000)),
        apiMsPerBatch: Number((apiMs / count).toFixed(1)),
        bareMsPerBatch: Number((bareMs / count).toFixed(1)),
        ratio: Number((apiMs / bareMs).toFixed(2)),
        redeliveredMsPerBatch: Number((redeliverMs / count).toFixed(1)),
      };
    };

    const large = await run('large', BATCH_ROWS, BATCHES);
    const small = await run('small', SMALL_ROWS, SMALL_BATCHES);
    console.log(
      JSON.stringify(
        {
          bench: 'offline-segment-write',
          columns: COLUMNS.length + 3,
          large,
          small,
          note: 'ratio = api time / bare DuckDB append+COPY time; api adds sort, stats, Blob upload and the manifest commit',
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

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
