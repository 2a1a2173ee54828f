/**
 * Timer status survives restarts as in Azure: a run that came due while the host was down
 * fires once at start with IsPastDue = true.
 */
import { expect, it } from 'vitest';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startHostProcess, ROOT, eventually } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/host-app.js');
const storage = useAzurite();

it('a timer whose next run passed while the host was down fires at start with isPastDue', async () => {
  const logFile = path.join(storage.dir, 'log.jsonl');
  const opts = {
    entry: ENTRY,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env: { FIXTURE_LOG: logFile },
  };
  const first = await startHostProcess(opts);
  await first.stop();
  const ticks = () => readJsonLines<{ fn: string; isPastDue: boolean }>(logFile).filter((l) => l.fn === 'tick');
  expect(ticks()).toHaveLength(0);

  // The schedule monitor's status blob, where Azure keeps it: make the next run lie in the past.
  const status = BlobServiceClient.fromConnectionString(storage.connectionString)
    .getContainerClient('azure-webjobs-hosts')
    .getBlockBlobClient('timers/strata-local/tick/status');
  const saved = JSON.parse((await status.downloadToBuffer()).toString('utf8')) as { Next: string };
  expect(Date.parse(saved.Next)).toBeGreaterThan(Date.now());
  const past = JSON.stringify({ ...saved, Next: new Date(Date.now() - 60_000).toISOString() });
  await status.upload(past, past.length);

  const second = await startHostProcess(opts);
  try {
    const got = await eventually(() => (ticks().length ? ticks() : undefined), undefined, 'the past-due tick');
    expect(got).toEqual([expect.objectContaining({ isPastDue: true })]);
    // The status is written once the run has finished, as on Azure: after the tick's log line.
    await eventually(
      async () => {
        const after = JSON.parse((await status.downloadToBuffer()).toString('utf8')) as { Next: string };
        return Date.parse(after.Next) > Date.now() ? true : undefined;
      },
      undefined,
      'the timer status to name a next run in the future',
    );
    expect(ticks()).toHaveLength(1);
  } finally {
    await second.stop();
  }
});
