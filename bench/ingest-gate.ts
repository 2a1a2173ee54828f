/**
 * The per-batch cost of the ingest gate (an Event Hubs batch learning what any instance committed
 * of its partition, under the partition's lease) against the partition's history: the committed
 * mark (one blob read, and the two writes a batch makes: pending, then counted) vs the lineage
 * scan it replaced (a listing of every segment of the source), with the bare lease acquire and
 * release measured in the same rounds as the floor. The scan grows with the history; the mark
 * should not. Prints one JSON object.
 *   node dist/bench/ingest-gate.js   (BENCH_HISTORY="25,100,400" segments, BENCH_ROUNDS, BENCH_CALLS per round)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite } from '../local/processes/azurite';
import { createPlatform } from '../shared/platform';
import { loadConfig } from '../shared/config';
import { featureRepo } from '../shared/definitions';
import { sourceColumns, sourceSegmentView } from '../shared/features/ingest/service';
import { PartitionMark, lineageSeq, type EventHubBatch } from '../shared/features/ingest/partition-mark';
import { eventDay } from '../shared/features/offline/segment-id';
import type { FeatureValue } from '../shared/features/definitions/values';
import { forEachLimit } from '../shared/concurrency';
import { machine, spread } from './lib/ab';

const HISTORY = (process.env.BENCH_HISTORY ?? '25,100,400')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 10);
const PARTITION = '0';

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-gate-'));
  const azurite = await startAzurite({ location: path.join(tmp, 'azurite') });
  const platform = createPlatform(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, STRATA_DATA_DIR: path.join(tmp, 'data') }),
    featureRepo,
  );
  try {
    const offline = await platform.offline();
    const leases = await platform.leases();
    const source = featureRepo.sources.get('clicks')!;
    const view = sourceSegmentView(source.name);
    const columns = sourceColumns(source);
    const lease = `ingest/${source.name}/${PARTITION}`;
    const t0 = Date.now() - 86_400_000;
    const batchOf = (i: number): EventHubBatch => ({
      kind: 'eventhub',
      source: source.name,
      partition: PARTITION,
      firstSeq: i * 10,
      lastSeq: i * 10 + 9,
    });
    /** One committed source segment per batch (one row each: the listing's cost is per segment). */
    const commit = (i: number) =>
      offline.writeRows({ view, version: source.version, columns, lineage: { input: batchOf(i) } }, [
        {
          entityId: `u${i}`,
          eventTs: t0 + i,
          createdTs: t0 + i,
          values: Object.fromEntries(
            columns.map((c) => [c.name, (c.type === 'string' ? 'x' : c.type === 'bool' ? true : i) as FeatureValue]),
          ),
        },
      ]);
    const sources = {
      scan: () => lineageSeq(offline, view, source.version, PARTITION),
      isCommitted: async (b: EventHubBatch, days: readonly string[]) =>
        (await offline.committedSegments(view, source.version, b, days)).size > 0,
    };
    let next = 0;
    const variants: Record<string, () => Promise<unknown>> = {
      bare: () => leases.run(lease, async () => undefined),
      scan: () => leases.run(lease, () => sources.scan()),
      mark: () =>
        leases.run(lease, async (held) => {
          const mark = await PartitionMark.read(held, sources);
          const batch = batchOf(1_000_000 + next++); // a batch past the history (the mark's writes, not a commit)
          await mark.intend(batch, [eventDay(t0)]);
          await mark.committed(batch);
        }),
    };
    const results = [];
    let have = 0;
    for (const size of HISTORY) {
      await forEachLimit(
        Array.from({ length: size - have }, (_, k) => have + k),
        8,
        async (i) => void (await commit(i)),
      );
      have = size;
      const ms: Record<string, number[]> = { bare: [], scan: [], mark: [] };
      const names = Object.keys(variants);
      for (let r = 0; r < ROUNDS; r++) {
        // Rotate the order each round: the neighbours' load moves.
        for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
          const start = performance.now();
          for (let c = 0; c < CALLS; c++) await variants[name]!();
          ms[name]!.push((performance.now() - start) / CALLS);
        }
      }
      const med = (name: string) => spread(ms[name]!).median;
      results.push({
        historySegments: size,
        msPerBatch: { bare: spread(ms.bare!), scan: spread(ms.scan!), mark: spread(ms.mark!) },
        overBare: {
          scan: Math.round((med('scan') / med('bare')) * 100) / 100,
          mark: Math.round((med('mark') / med('bare')) * 100) / 100,
        },
      });
    }
    console.log(
      JSON.stringify(
        {
          benchmark: 'ingest-gate',
          machine: machine(),
          rounds: ROUNDS,
          callsPerRound: CALLS,
          what: {
            bare: 'lease acquire + release',
            scan: 'lease + listing every source segment (the lineage scan, before the mark)',
            mark: 'lease + the mark: one read, the pending write, the counted write',
          },
          results,
        },
        null,
        2,
      ),
    );
  } finally {
    await platform.online.close();
    await azurite.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
