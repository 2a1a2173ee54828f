/**
 * A new engine on the same task hub picks up what a stopped one left: scheduled activities whose
 * result was not committed run again, committed ones do not; timers are re-armed; raised events
 * that were acknowledged but not processed are delivered; Pending instances start.
 * (test/e2e/durable-crash.test.ts does the same with a SIGKILLed host process.)
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startDurableHarness, DurableHarness } from '../fixtures/durable-harness';
import { tempDir } from '../helpers/temp';
import { EventType } from '../../local/durable/protocol';
import type { TaskHubStore } from '../../local/durable/store';
import { until, WAIT_MS } from '../helpers/wait';

let azurite: AzuriteHandle;
const tmp = tempDir('durable-recovery-');
const execLog = path.join(tmp.dir, 'exec.log');
const harnesses: DurableHarness[] = [];

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
});
afterAll(async () => {
  for (const h of harnesses) await h.stop().catch(() => undefined);
  await azurite?.stop();
  tmp.cleanup();
});

async function host(): Promise<DurableHarness> {
  const h = await startDurableHarness({ storageConnection: azurite.connectionString, execLog });
  harnesses.push(h);
  return h;
}

/** Committed history of an instance, straight from the tables. */
async function committed(store: TaskHubStore, id: string) {
  const row = await store.readInstance(id);
  if (!row) return [];
  return (await store.readHistory(id, row.historyStart, row.historyLength)).map((r) => r.event);
}

/** Inputs of the activities whose completion is committed. */
async function completedInputs(store: TaskHubStore, id: string): Promise<string[]> {
  const events = await committed(store, id);
  const done = new Set(events.filter((e) => e.EventType === EventType.TaskCompleted).map((e) => e.TaskScheduledId));
  return events.filter((e) => e.EventType === EventType.TaskScheduled && done.has(e.EventId)).map((e) => e.Input!);
}

describe('durable engine recovery', () => {
  it('resumes an orchestration on a new engine without re-running activities whose results were committed', async () => {
    const a = await host();
    const { instanceId: id } = await a.ext.engine.startNew('crashable', { input: { fan: 8, ms: 150, tailMs: 8_000 } });
    // Stop once some of the fan-out has completed and been committed, with the rest in flight
    // (the second half takes 8 s each: still running when the first two are committed).
    await until('part of the fan-out to be committed', async () =>
      (await completedInputs(a.ext.engine.store, id)).length >= 2 ? true : undefined,
    );
    await a.stop();
    const doneBefore = (await completedInputs(a.ext.engine.store, id)).map(
      (i) => JSON.parse(i) as { n: number; tag: string },
    );
    expect(doneBefore.length).toBeLessThan(8);

    const b = await host();
    const s = await b.ext.engine.waitForCompletion(id, WAIT_MS);
    expect(s?.runtimeStatus).toBe('Completed');
    expect(s?.output).toEqual({ fan: [0, 1, 2, 3, 4, 5, 6, 7].reduce((t, n) => t + n * n, 0), seq: [0, 1, 4] });
    const runs = (key: string) => b.executions('slowSquare').filter((e) => e.key === key).length;
    for (const d of doneBefore) expect(runs(`${d.tag}${d.n}`)).toBe(1);
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7]) expect(runs(`fan${n}`)).toBeGreaterThanOrEqual(1);
  });

  it('re-arms a timer that was created before the restart', async () => {
    const a = await host();
    const { instanceId: id } = await a.ext.engine.startNew('timer', { input: 1200 });
    await until('the timer to be committed', async () =>
      (await committed(a.ext.engine.store, id)).some((e) => e.EventType === EventType.TimerCreated) ? true : undefined,
    );
    await a.stop();
    const b = await host();
    const s = await b.ext.engine.waitForCompletion(id, WAIT_MS);
    expect(s?.runtimeStatus).toBe('Completed');
    const out = s!.output as { before: number; after: number };
    expect(out.after - out.before).toBeGreaterThanOrEqual(1200);
  });

  it('delivers an event that was acknowledged while no engine was running it', async () => {
    const a = await host();
    const { instanceId: id } = await a.ext.engine.startNew('twoEvents');
    await until('the wait for "first"', async () =>
      (await a.ext.engine.getStatus(id))?.customStatus === 'waiting for first' ? true : undefined,
    );
    await a.stop();
    // The stopped engine still accepts client calls: the event goes to the instance's inbox table.
    expect(await a.ext.engine.raiseEvent(id, 'first', 1)).toBe('accepted');
    expect(await a.ext.engine.raiseEvent(id, 'second', 2)).toBe('accepted');
    const b = await host();
    expect((await b.ext.engine.waitForCompletion(id, WAIT_MS))?.output).toEqual({ first: 1, second: 2 });
  });

  it('starts an instance that was left Pending', async () => {
    const a = await host();
    await a.stop();
    const row = await a.ext.engine.startNew('sequence', { input: 1, instanceId: 'left-pending' });
    expect((await a.ext.engine.store.readInstance(row.instanceId))?.runtimeStatus).toBe('Pending');
    const b = await host();
    expect((await b.ext.engine.waitForCompletion('left-pending', WAIT_MS))?.output).toBe(32);
  });

  it('reconnects a parent to the sub-orchestration it started before the restart', async () => {
    const a = await host();
    const { instanceId: id } = await a.ext.engine.startNew('parentOfSlowChild', { instanceId: 'p-restart' });
    await until('the child to run', async () =>
      (await a.ext.engine.getStatus('p-restart-child'))?.runtimeStatus === 'Running' ? true : undefined,
    );
    await a.stop();
    const b = await host();
    const s = await b.ext.engine.waitForCompletion(id, WAIT_MS);
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: 50 });
    expect((await b.ext.engine.getStatus('p-restart-child'))?.output).toBe(49);
  });

  it('overwrites history rows that a crashed episode wrote but never committed', async () => {
    const h = await host();
    const { instanceId: id } = await h.ext.engine.startNew('twoEvents', { instanceId: 'tail-1' });
    await until('the wait for "first"', async () =>
      (await h.ext.engine.getStatus(id))?.customStatus === 'waiting for first' ? true : undefined,
    );
    // Rows past HistoryLength, as a host killed between its history write and its commit leaves them.
    const row = (await h.ext.engine.store.readInstance(id))!;
    const junk = {
      EventType: EventType.EventRaised,
      EventId: -1,
      Name: 'first',
      Input: '"junk"',
      Timestamp: new Date().toISOString(),
    };
    await h.ext.engine.store.writeHistory(id, row.executionId, row.historyLength, [
      { event: junk },
      { event: junk },
      { event: junk },
    ]);
    await h.ext.engine.raiseEvent(id, 'first', 'real');
    await h.ext.engine.raiseEvent(id, 'second', 'also real');
    expect((await h.ext.engine.waitForCompletion(id, WAIT_MS))?.output).toEqual({ first: 'real', second: 'also real' });
    expect((await committed(h.ext.engine.store, id)).filter((e) => e.Input === '"junk"')).toEqual([]);
  });

  it('reloads an instance from storage when its commit is refused because its row changed underneath', async () => {
    const h = await host();
    const { instanceId: id } = await h.ext.engine.startNew('twoEvents', { instanceId: 'etag-1' });
    await until('the wait for "first"', async () =>
      (await h.ext.engine.getStatus(id))?.customStatus === 'waiting for first' ? true : undefined,
    );
    // Someone else (a second host, say) rewrites the row: the engine's next commit must not win.
    const row = (await h.ext.engine.store.readInstance(id))!;
    await h.ext.engine.store.writeInstance(row, row.etag);
    expect(await h.ext.engine.raiseEvent(id, 'first', 'a')).toBe('accepted');
    await until('the reload to deliver "first" from the inbox', async () =>
      (await h.ext.engine.getStatus(id))?.customStatus === 'waiting for second' ? true : undefined,
    );
    expect(await h.ext.engine.raiseEvent(id, 'second', 'b')).toBe('accepted');
    expect((await h.ext.engine.waitForCompletion(id, WAIT_MS))?.output).toEqual({ first: 'a', second: 'b' });
  });

  it('finishes an orchestration whose storage went away in the middle of an episode, once storage is back', async () => {
    // Alone on the task hub, as one host is: the earlier tests' hosts would otherwise share the
    // activity through claim rounds, which need storage, and none might claim it before the outage.
    for (const other of harnesses.splice(0)) await other.stop();
    const h = await host();
    const { instanceId: id } = await h.ext.engine.startNew('slowChild', { input: 5, instanceId: 'outage-1' });
    await until('the activity to start running', async () =>
      h.executions('slowSquare.started').some((e) => e.key === 'child5') ? true : undefined,
    );
    // Storage goes away while the activity runs: its result cannot be committed.
    await azurite.stop();
    await until('the activity to finish', async () =>
      h.executions('slowSquare').some((e) => e.key === 'child5') ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    azurite = await startAzurite({ location: azurite.location, ports: azurite.ports });
    const s = await h.ext.engine.waitForCompletion(id, WAIT_MS);
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: 25 });
  });
});
