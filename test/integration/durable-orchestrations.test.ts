/**
 * The local Durable engine runs real durable-functions orchestrator code (test/fixtures/durable-app.ts)
 * with Azure's semantics, against a real Azurite.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startDurableHarness, DurableHarness } from '../fixtures/durable-harness';
import { tempDir } from '../helpers/temp';
import type { InstanceStatus } from '../../local/durable/status';
import { storageFor } from '../../shared/azure/storage';
import { until, WAIT_MS } from '../helpers/wait';

let azurite: AzuriteHandle;
let h: DurableHarness;
const tmp = tempDir('durable-orch-');

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  h = await startDurableHarness({
    storageConnection: azurite.connectionString,
    execLog: path.join(tmp.dir, 'exec.log'),
  });
});
afterAll(async () => {
  await h?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

const engine = () => h.ext.engine;

const run = (name: string, input?: unknown, instanceId?: string) => h.run(name, input, instanceId);

const statusWhere = (id: string, pred: (s: InstanceStatus) => boolean) =>
  until(`${id} to reach the expected status`, async () => {
    const s = await engine().getStatus(id);
    return s && pred(s) ? s : undefined;
  });

const history = async (id: string) =>
  (await engine().getStatus(id, { showHistory: true, showHistoryOutput: true }))!.historyEvents!;

describe('durable orchestrations on the local engine', () => {
  it('runs every supported action kind in one orchestration: activity, retry, Task.all, timer, sub-orchestration, custom status, Task.any over an event', async () => {
    const { instanceId: id } = await engine().startNew('everything', { instanceId: 'everything-1' });
    await statusWhere(id, (s) => (s.customStatus as { stage?: string } | null)?.stage === 'waiting for go');
    expect(await engine().raiseEvent(id, 'go', { ok: true })).toBe('accepted');
    const s = await engine().waitForCompletion(id, WAIT_MS);
    expect(s?.runtimeStatus).toBe('Completed');
    const out = s!.output as Record<string, unknown>;
    expect(out.greeting).toBe('hello strata');
    expect(out.retried).toEqual({ key: 'everything-1-e', attempt: 2 });
    expect(out.pair).toEqual([2, 4]);
    expect(out.child).toEqual({ parent: id, sum: 12 });
    expect(out.go).toEqual({ ok: true });
    // currentUtcDateTime comes from history: it moved past the 200 ms timer.
    expect(Date.parse(out.after as string) - Date.parse(out.started as string)).toBeGreaterThanOrEqual(200);
    const child = await engine().getStatus('everything-1:child');
    expect(child).toMatchObject({ runtimeStatus: 'Completed', output: { parent: id, sum: 12 }, input: [1, 2, 3] });
  });

  it('numbers timers by history time, so currentUtcDateTime advances exactly across a timer', async () => {
    const s = await run('timer', 300);
    const out = s.output as { before: number; after: number };
    expect(out.after - out.before).toBeGreaterThanOrEqual(300);
    const timers = (await history(s.instanceId)).filter(
      (e) => e.EventType === 'TimerCreated' || e.EventType === 'TimerFired',
    );
    expect(timers.map((e) => e.EventType)).toEqual(['TimerCreated', 'TimerFired']);
  });

  it('retries a failed activity on host timers with backoff until it succeeds', async () => {
    const s = await run('retrying', { key: 'r-ok', failures: 2, attempts: 3, firstMs: 100, backoff: 2 });
    expect(s.output).toEqual({ ok: { key: 'r-ok', attempt: 3 } });
    expect(
      h
        .executions('flaky')
        .filter((e) => e.key === 'r-ok')
        .map((e) => e.attempt),
    ).toEqual([1, 2, 3]);
    // One retry timer per failure, firing first × backoff^(attempt-1) after the failure was seen.
    const delays = (await history(s.instanceId))
      .filter((e) => e.EventType === 'TimerCreated')
      .map((e) => Date.parse(e.FireAt as string) - Date.parse(e.Timestamp as string));
    expect(delays).toEqual([100, 200]);
  });

  it('exhausts the attempts of a retried activity that keeps failing and lets the orchestrator catch the last error', async () => {
    const s = await run('retrying', { key: 'r-fail', failures: 99, attempts: 3, firstMs: 30 });
    expect(s.runtimeStatus).toBe('Completed');
    expect((s.output as { error: string }).error).toContain('flaky failure #3 for r-fail');
    expect(h.executions('flaky').filter((e) => e.key === 'r-fail')).toHaveLength(3);
  });

  it('caps the retry backoff at maxRetryIntervalInMilliseconds', async () => {
    const s = await run('retrying', { key: 'r-cap', failures: 2, attempts: 3, firstMs: 100, backoff: 10, maxMs: 150 });
    expect(s.output).toEqual({ ok: { key: 'r-cap', attempt: 3 } });
    const delays = (await history(s.instanceId))
      .filter((e) => e.EventType === 'TimerCreated')
      .map((e) => Date.parse(e.FireAt as string) - Date.parse(e.Timestamp as string));
    expect(delays).toEqual([100, 150]);
  });

  it('keeps task ids in step when retry steps and completions share an episode', async () => {
    const s = await run('parallelRetries', 6);
    expect(s.runtimeStatus).toBe('Completed');
    const results = s.output as unknown[];
    expect(results.slice(0, 6)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => ({ key: `${s.instanceId}-${i}`, attempt: (i % 3) + 1 })),
    );
    expect(results.slice(6)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('keeps task ids in step when a retry step and a completion that schedules new work share one episode', async () => {
    const { instanceId: id } = await engine().startNew('retryRace');
    await statusWhere(id, (s) => s.customStatus === 'scheduled');
    // Hold both results back, then let them into one episode: "a" completed (resumes the code,
    // which calls "b"), then the first attempt of "r" failed (a retry step that takes a task id).
    expect(await engine().suspend(id)).toBe('accepted');
    await until('both activities to finish', async () =>
      h.executions('slowFlaky').some((e) => e.key === id) && h.executions('slowSquare').some((e) => e.key === 'race3')
        ? true
        : undefined,
    );
    expect((await engine().getStatus(id))?.runtimeStatus).toBe('Suspended');
    const episodes = engine().stats.episodes;
    expect(await engine().resume(id)).toBe('accepted');
    const s = await engine().waitForCompletion(id, WAIT_MS);
    expect(s?.output).toEqual({ firstWasA: true, b: 42, rr: { key: id, attempt: 2 } });
    // Both results went through the first episode after the resume.
    const events = (await history(id)).map((e) => `${e.EventType}${e.TaskScheduledId ?? ''}`);
    expect(events.indexOf('TaskCompleted1')).toBeGreaterThan(events.indexOf('ExecutionResumed'));
    expect(engine().stats.episodes - episodes).toBeLessThanOrEqual(4);
  });

  it('fans out 50 activities and fans the results back in, batching completions into fewer episodes', async () => {
    const before = { ...engine().stats };
    const doublesBefore = h.executions('double').length;
    const s = await run('fanOut', 50);
    expect(s.output).toBe(2 * ((49 * 50) / 2));
    expect(h.executions('double').length - doublesBefore).toBe(50);
    expect(engine().stats.episodes - before.episodes).toBeLessThan(51);
  });

  it('runs activities of many instances at once, never more than maxConcurrentActivityFunctions (8 here)', async () => {
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        engine().startNew('overlapFan', { input: { n: 4, ms: 150 }, instanceId: `ov-${i}` }),
      ),
    );
    for (const { instanceId } of ids)
      expect((await engine().waitForCompletion(instanceId, WAIT_MS))?.runtimeStatus).toBe('Completed');
    const runs = h.executions('overlap');
    expect(runs).toHaveLength(24);
    const maxOverlap = Math.max(
      ...runs.map((r) => runs.filter((o) => o.start! <= r.start! && o.end! > r.start!).length),
    );
    expect(maxOverlap).toBeLessThanOrEqual(8);
    expect(maxOverlap).toBeGreaterThan(4); // more than one instance's activities at a time
  });

  it('keeps an event raised before the orchestrator waits for it, and delivers one raised later', async () => {
    const { instanceId: id } = await engine().startNew('twoEvents');
    expect(await engine().raiseEvent(id, 'second', 'early')).toBe('accepted');
    await statusWhere(id, (s) => s.customStatus === 'waiting for first');
    expect(await engine().raiseEvent(id, 'first', { late: true })).toBe('accepted');
    const s = await engine().waitForCompletion(id, WAIT_MS);
    expect(s?.output).toEqual({ first: { late: true }, second: 'early' });
  });

  it('resolves Task.any with the event when it comes first and with the timer when no event comes', async () => {
    const { instanceId: id } = await engine().startNew('eventOrTimeout', { input: 30_000 });
    await statusWhere(id, (s) => s.runtimeStatus === 'Running');
    await engine().raiseEvent(id, 'go', 42);
    expect((await engine().waitForCompletion(id, WAIT_MS))?.output).toEqual({ winner: 'event', data: 42 });
    expect((await run('eventOrTimeout', 100)).output).toEqual({ winner: 'timeout' });
  });

  it('reports a failing sub-orchestration to its parent, which catches the error', async () => {
    const s = await run('catchesChild', undefined, 'parent-1');
    expect((s.output as { caught: string }).caught).toContain('child parent-1-child gave up');
    const child = await engine().getStatus('parent-1-child');
    expect(child?.runtimeStatus).toBe('Failed');
    expect(child?.output).toContain('child parent-1-child gave up');
  });

  it('retries a failed sub-orchestration with callSubOrchestratorWithRetry, reusing its explicit instance id', async () => {
    const s = await run('retriesChild', undefined, 'rc-1');
    expect(s.output).toEqual({ key: 'rc-1-k', attempt: 2 });
    expect((await engine().getStatus('rc-1-child'))?.runtimeStatus).toBe('Completed');
  });

  it('starts sub-orchestrations without an instance id under deterministic ids', async () => {
    const s = await run('unnamedChildren');
    expect(s.output).toEqual([
      { parent: s.instanceId, sum: 2 },
      { parent: s.instanceId, sum: 4 },
    ]);
    // DurableTask.Core's rule: "<executionId>:<taskId>".
    const created = (await history(s.instanceId))
      .filter((e) => e.EventType === 'SubOrchestrationInstanceCompleted')
      .map((e) => e.InstanceId as string)
      .sort();
    expect(created).toHaveLength(2);
    expect(created[0]).toMatch(/^[0-9a-f]{32}:0$/);
    expect(created[1]).toBe(created[0]!.replace(/:0$/, ':1'));
  });

  it('fails an orchestrator that throws, with its message in the status output', async () => {
    const s = await run('throws');
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toBe("Orchestrator function 'throws' failed: orchestrator blew up");
  });

  it('fails an orchestration whose activity error is unhandled, naming the error type and message', async () => {
    const s = await run('unhandledActivityError');
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toContain('TypeError: kaboom');
  });

  it('shows the custom status while the orchestration runs and the final one after', async () => {
    const { instanceId: id } = await engine().startNew('waitsForever');
    const running = await statusWhere(id, (s) => (s.customStatus as { progress?: string } | null)?.progress === 'half');
    expect(running.runtimeStatus).toBe('Running');
    await engine().raiseEvent(id, 'continue', 'go on');
    const s = await engine().waitForCompletion(id, WAIT_MS);
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: 'go on', customStatus: { progress: 'done' } });
  });

  it('continues as new with fresh input under the same instance id, keeping only the last execution', async () => {
    const s = await run('countTo', { n: 0, until: 3, seen: [] });
    expect(s.output).toEqual(['0:0', '1:2', '2:4', '3:6']);
    expect(s.input).toEqual({ n: 3, until: 3, seen: ['0:0', '1:2', '2:4'] });
    const started = (await history(s.instanceId)).filter((e) => e.EventType === 'ExecutionStarted');
    expect(started).toHaveLength(1);
  });

  it('stores values larger than a Table property in blobs and returns them intact', async () => {
    const input = 'z'.repeat(40_000);
    const s = await run('bigValues', input);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.input).toBe(input);
    expect((s.output as { big: string }).big).toHaveLength(100_000);
    expect((s.output as { len: number }).len).toBe(40_000);
    expect(s.customStatus).toHaveLength(50_000);
    const completed = (await history(s.instanceId)).find(
      (e) => e.EventType === 'TaskCompleted' && e.FunctionName === 'bigString',
    );
    expect(completed?.Result).toHaveLength(100_000);
    const container = await storageFor(azurite.connectionString).container('stratahub-large');
    const blobs: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: `${s.instanceId}/` })) blobs.push(b.name);
    expect(blobs.length).toBeGreaterThanOrEqual(3);
  });
});
