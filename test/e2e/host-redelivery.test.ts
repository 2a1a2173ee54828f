/**
 * At-least-once delivery across a crash: the host dies (SIGKILL) while a batch is being
 * handled, before its checkpoint; a new host on the same storage delivers that batch again
 * and everything after it. Nothing accepted is lost.
 */
import { expect, it } from 'vitest';
import path from 'node:path';
import { startHostProcess, ROOT, ADMIN_KEY, eventually } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/host-app.js');
const storage = useAzurite();

it('events not checkpointed before a crash are delivered again after restart, none lost', async () => {
  const logFile = path.join(storage.dir, 'log.jsonl');
  const env = { FIXTURE_LOG: logFile, FIXTURE_CRASH_MARKER: path.join(storage.dir, 'crashed') };
  const opts = {
    entry: ENTRY,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env,
  };
  const ingested = () =>
    readJsonLines<{ fn: string; bodies: Array<{ n: number }>; sequenceNumberArray: number[] }>(logFile).filter(
      (x) => x.fn === 'ingest',
    );
  const first = await startHostProcess(opts);
  const post = (events: unknown[]) =>
    fetch(`${first.baseUrl}/api/_local/eventhubs/events?partitionKey=one-key`, {
      method: 'POST',
      headers: { 'x-functions-key': ADMIN_KEY },
      body: JSON.stringify(events),
    });

  // A first batch is handled and checkpointed.
  expect((await post([{ n: 1 }, { n: 2 }])).status).toBe(202);
  await eventually(() => (ingested().length >= 1 ? true : undefined));
  // The next batch makes the handler kill the host before the checkpoint. The events are durable
  // before delivery starts, so the kill may even beat the 202 back to us.
  const crashed = await post([{ n: 3 }, { n: 4, crash: true }, { n: 5 }]).then(
    (r) => r.status,
    () => 'connection closed by the crash',
  );
  expect([202, 'connection closed by the crash']).toContain(crashed);
  const exit = await first.exited;
  expect(exit.signal).toBe('SIGKILL');

  const second = await startHostProcess(opts);
  try {
    const lines = await eventually(() => {
      const l = ingested();
      return l.length >= 3 ? l : undefined;
    });
    const delivered = lines.map((l) => l.bodies.map((b) => b.n));
    // Batch 1 once; the crashed batch twice (before and after the restart); nothing lost.
    expect(delivered[0]).toEqual([1, 2]);
    expect(delivered[1]).toEqual([3, 4, 5]);
    expect(delivered[2]).toEqual([3, 4, 5]);
    expect(lines[2]!.sequenceNumberArray).toEqual(lines[1]!.sequenceNumberArray);
    // Sequence numbers continue after the restart.
    const res = await fetch(`${second.baseUrl}/api/_local/eventhubs/events?partitionKey=one-key`, {
      method: 'POST',
      headers: { 'x-functions-key': ADMIN_KEY },
      body: JSON.stringify([{ n: 6 }]),
    });
    const body = (await res.json()) as { partitions: Record<string, { first: number }> };
    expect(Object.values(body.partitions)[0]!.first).toBe(5);
    await eventually(() => (ingested().length >= 4 ? true : undefined));
    expect(ingested()[3]!.bodies).toEqual([{ n: 6 }]);
  } finally {
    await second.stop();
  }
});
