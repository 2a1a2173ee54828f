/**
 * Crash and resume: the host process is SIGKILLed in the middle of an orchestration; a new host on
 * the same storage finishes it, and no activity whose result had been committed runs again
 * (activities still in flight at the kill run again: at-least-once, as in Azure).
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { startHostProcess, ROOT, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { readJsonLines } from '../helpers/temp';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { TaskHubStore } from '../../local/durable/store';
import { EventType } from '../../local/durable/protocol';
import { WAIT_MS } from '../helpers/wait';

const ENTRY = path.join(ROOT, 'dist/test/fixtures/durable-app.js');
const storage = useAzurite('durable-crash-');

it('finishes an orchestration after the host is killed mid-way, without re-running activities that had completed', async () => {
  const execLog = path.join(storage.dir, 'exec.log');
  const opts = {
    entry: ENTRY,
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    env: { DURABLE_EXEC_LOG: execLog },
  };
  const store = new TaskHubStore(storageFor(storage.connectionString), 'StrataHub');
  await store.init();
  const committedDone = async () => {
    const row = await store.readInstance('crash-1');
    if (!row) return [];
    const events = (await store.readHistory('crash-1', row.historyStart, row.historyLength)).map((r) => r.event);
    const done = new Set(events.filter((e) => e.EventType === EventType.TaskCompleted).map((e) => e.TaskScheduledId));
    return events
      .filter((e) => e.EventType === EventType.TaskScheduled && done.has(e.EventId))
      .map((e) => JSON.parse(e.Input!) as { n: number; tag: string });
  };

  const first = await startHostProcess(opts);
  const started = await fetch(`${first.baseUrl}/api/orchestrators/crashable/crash-1`, {
    method: 'POST',
    body: JSON.stringify({ fan: 10, ms: 150 }),
  });
  expect(started.status).toBe(202);
  // Kill once part of the fan-out is committed and the rest is still running.
  await eventually(
    async () => ((await committedDone()).length >= 3 ? true : undefined),
    WAIT_MS,
    'part of the fan-out to complete',
  );
  await first.kill();
  expect((await first.exited).signal).toBe('SIGKILL');
  const doneAtKill = await committedDone();
  expect(doneAtKill.length).toBeLessThan(13);
  expect((await store.readInstance('crash-1'))?.runtimeStatus).toBe('Running');

  const second = await startHostProcess(opts);
  try {
    const status = await eventually(
      async () => {
        const r = await fetch(`${second.baseUrl}/runtime/webhooks/durabletask/instances/crash-1`, {
          headers: { 'x-functions-key': SYSTEM_KEY },
        });
        return r.status === 200 ? ((await r.json()) as { runtimeStatus: string; output: unknown }) : undefined;
      },
      WAIT_MS,
      'crash-1 to finish on the new host',
    );
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({
      fan: Array.from({ length: 10 }, (_, n) => n * n).reduce((a, b) => a + b, 0),
      seq: [0, 1, 4],
    });

    const runs = readJsonLines<{ activity: string; key: string }>(execLog).filter((e) => e.activity === 'slowSquare');
    const count = (key: string) => runs.filter((e) => e.key === key).length;
    for (const d of doneAtKill) expect(count(`${d.tag}${d.n}`), `${d.tag}${d.n} completed before the kill`).toBe(1);
    for (let n = 0; n < 10; n++) expect(count(`fan${n}`)).toBeGreaterThanOrEqual(1);
    for (let n = 0; n < 3; n++) expect(count(`seq${n}`)).toBeGreaterThanOrEqual(1);
  } finally {
    await second.stop();
  }
});
