/**
 * A backfill (Strata's own orchestration) on three hosts sharing one task hub: started on one
 * host, its interval activities run on every host (counted from each host's own log of finished
 * invocations); one host is SIGKILLed mid-way and the backfill still finishes on the others, with
 * every interval committed exactly once.
 */
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startHostProcess, ROOT, FUNCTION_KEY, eventually, type HostProcess } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { Manifest } from '../../shared/features/offline/manifest';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { daysAgo, uploadFourDaysOfClicks } from '../helpers/backfill-fixtures';
import { WAIT_MS } from '../helpers/wait';

const storage = useAzurite('backfill-instances-');
const fkey = { 'x-functions-key': FUNCTION_KEY };
const hosts: HostProcess[] = [];
afterAll(async () => {
  for (const h of hosts) await h.kill();
});

/** Interval activities a host finished, from its log ("Executed 'Functions.backfill-interval' (Succeeded, ...)"). */
const intervalsRunBy = (h: HostProcess) =>
  h
    .output()
    .split('\n')
    .filter((l) => l.includes("Executed 'Functions.backfill-interval' (Succeeded")).length;

it('a backfill started on one host runs its intervals on every host and finishes despite a kill', async () => {
  const opts = {
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    // Successful invocations are logged at debug level; short leases so the killed host's work moves quickly.
    env: { STRATA_LOG_LEVEL: 'debug', STRATA_DURABLE_LEASE_MS: '3000', STRATA_DURABLE_POLL_MS: '100' },
  };
  for (let i = 0; i < 3; i++) hosts.push(await startHostProcess(opts));
  const [first, second, third] = hosts as [HostProcess, HostProcess, HostProcess];
  const manifest = new Manifest(await ManifestTable.open(storageFor(storage.connectionString)));
  const jobSegments = async () =>
    (await manifest.list({ view: 'user_clicks' })).filter(
      (r) => r.lineage.input.kind === 'job' && r.lineage.input.key.startsWith('backfill:'),
    );
  const upload = await uploadFourDaysOfClicks(first.baseUrl, FUNCTION_KEY);
  expect(upload.status).toBe(201);

  const started = await fetch(`${first.baseUrl}/api/backfills`, {
    method: 'POST',
    headers: fkey,
    body: JSON.stringify({
      views: ['user_clicks'],
      from: new Date(daysAgo(3)).toISOString(),
      to: new Date(daysAgo(1)).toISOString(),
      interval: '4h',
      maxParallel: 6,
    }),
  });
  expect(started.status).toBe(202);
  const { id } = (await started.json()) as { id: string };

  // Every host runs some intervals; then the third dies (whatever it was running moves after its lease).
  await eventually(
    () => (hosts.every((h) => intervalsRunBy(h) >= 1) ? true : undefined),
    WAIT_MS,
    'every host to run an interval of the backfill',
  );
  await third.kill();
  expect((await third.exited).signal).toBe('SIGKILL');

  const done = await eventually(
    async () => {
      const r = await fetch(`${second.baseUrl}/api/backfills/${id}`, { headers: fkey });
      const s = (await r.json()) as {
        runtimeStatus: string;
        output: { intervals: { total: number; done: number } } | null;
      };
      return s.runtimeStatus === 'Completed' || s.runtimeStatus === 'Failed' ? s : undefined;
    },
    120_000,
    'the backfill to finish on the remaining hosts',
  );
  expect(done.runtimeStatus).toBe('Completed');
  expect(done.output!.intervals.done).toBe(done.output!.intervals.total);
  // One segment per interval: none committed twice, none lost, whatever ran twice.
  const keys = (await jobSegments()).map((s) => (s.lineage.input.kind === 'job' ? s.lineage.input.key : ''));
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys.length).toBeGreaterThan(0);
});
