/**
 * A backfill killed mid-way: the host process running Strata's app is SIGKILLed while
 * intervals fan out; a new host on the same storage resumes the same instance, which finishes
 * with every interval committed exactly once (one segment per interval and view, whatever
 * ran twice).
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { startHostProcess, ROOT, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { Manifest } from '../../shared/features/offline/manifest';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { daysAgo, uploadFourDaysOfClicks } from '../helpers/backfill-fixtures';
import { WAIT_MS } from '../helpers/wait';

const storage = useAzurite('backfill-crash-');
const fkey = { 'x-functions-key': FUNCTION_KEY };

it('resumes after the host is killed and commits each interval once', async () => {
  const opts = {
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
  };
  const manifest = new Manifest(await ManifestTable.open(storageFor(storage.connectionString)));
  const jobSegments = async () =>
    (await manifest.list({ view: 'user_clicks' })).filter(
      (r) => r.lineage.input.kind === 'job' && r.lineage.input.key.startsWith('backfill:'),
    );

  const first = await startHostProcess(opts);
  const upload = await uploadFourDaysOfClicks(first.baseUrl, FUNCTION_KEY);
  expect(upload.status).toBe(201);

  // 24 intervals of 3 h: enough to kill the host with some committed and some not, small enough for a busy machine.
  const body = {
    views: ['user_clicks'],
    from: new Date(daysAgo(4)).toISOString(),
    to: new Date(daysAgo(1)).toISOString(),
    interval: '3h',
    maxParallel: 2,
  };
  const started = await fetch(`${first.baseUrl}/api/backfills`, {
    method: 'POST',
    headers: fkey,
    body: JSON.stringify(body),
  });
  expect(started.status).toBe(202);
  const links = (await started.json()) as { id: string; status: string };
  expect(links.status).toBe('started');

  await eventually(
    async () => ((await jobSegments()).length >= 6 ? true : undefined),
    WAIT_MS,
    'part of the intervals to commit',
  );
  await first.kill();
  expect((await first.exited).signal).toBe('SIGKILL');
  const atKill = (await jobSegments()).length;

  const second = await startHostProcess(opts);
  try {
    const done = await eventually(
      async () => {
        const r = await fetch(`${second.baseUrl}/api/backfills/${links.id}`, { headers: fkey });
        const s = (await r.json()) as {
          runtimeStatus: string;
          output: {
            intervals: { total: number; done: number; committed: number; skipped: number; empty: number };
            rows: Record<string, number>;
          } | null;
        };
        return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed' ? s : undefined;
      },
      120_000,
      'the backfill to finish on the new host',
    );
    expect(done.runtimeStatus).toBe('Completed');
    const out = done.output!;
    expect(out.intervals.done).toBe(out.intervals.total);
    expect(out.intervals.committed + out.intervals.skipped + out.intervals.empty).toBe(out.intervals.total);

    // One segment per interval: no work key committed twice, none lost.
    const segments = await jobSegments();
    expect(segments.length).toBeGreaterThan(atKill);
    const keys = segments.map((s) => (s.lineage.input.kind === 'job' ? s.lineage.input.key : ''));
    expect(new Set(keys).size).toBe(keys.length);
    expect(segments.every((s) => s.lineage.jobId === links.id)).toBe(true);
    expect(out.rows.user_clicks).toBe(segments.reduce((n, s) => n + s.rowCount, 0));
    const hours = new Set(keys.map((k) => /:(\d{4}-\d\d-\d\dT[\d:.]+Z)\.\./.exec(k)![1]!));
    expect(hours.size).toBe(keys.length);
    expect(Math.min(...[...hours].map((h) => Date.parse(h)))).toBeGreaterThanOrEqual(daysAgo(6)); // the first clicks, minutes before daysAgo(5)
    expect(Math.max(...[...hours].map((h) => Date.parse(h)))).toBeLessThan(daysAgo(1));
  } finally {
    await second.stop();
  }
});
