/**
 * The retrain trigger monitoring's alerts call, on a real Durable engine (the local host's, on
 * Azurite) through the SDK's DurableClient, with training's startTraining behind it on real Table
 * (runs, trigger state) and offline stores: two alerts of one window start one `train` job (also
 * when they race), the same window again joins it, and the next window's alert starts its own
 * once the model's cooldown has passed. The `train` orchestration here is a recorder with the
 * real one's name and input (test/fixtures/train-app.ts); the real job is driven end to end in
 * test/e2e/training.test.ts.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDurableHarness, type DurableHarness } from '../fixtures/durable-harness';
import { useAzurite } from '../helpers/storage';
import { eventually } from '../helpers/wait';
import { storageFor } from '../../shared/azure/storage';
import { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import { trainingConfigSpec } from '../../shared/definitions/training';
import { TableRunStore } from '../../shared/azure/run-table';
import { trainingRetrainTrigger } from '../../shared/training/retrain-trigger';
import type { TrainingTriggerDeps } from '../../shared/training/start';
import { startOrJoin } from '../../functions/durable-jobs';

const storage = useAzurite('strata-retrain-');
const HOUR = 3_600_000;
let h: DurableHarness;
let deps: TrainingTriggerDeps;
let now = Date.UTC(2026, 11, 1, 11, 5);

beforeAll(async () => {
  h = await startDurableHarness({
    storageConnection: storage.connectionString,
    execLog: path.join(storage.dir, 'exec.jsonl'),
    entry: path.join(ROOT, 'dist/test/fixtures/train-app.js'),
  });
  const s = storageFor(storage.connectionString);
  deps = {
    repo: featureRepo,
    configs: trainingConfigSpec,
    runs: new TableRunStore(s),
    now: () => now,
    offline: await OfflineStore.open({ storage: s, cacheDir: path.join(storage.dir, 'cache') }),
    start: (id, input) => startOrJoin(h.client, 'train', id, input, { joinCompleted: true }),
  };
}, 60_000);
afterAll(async () => h?.stop());

const window = (hour: number) => ({
  start: new Date(Date.UTC(2026, 11, 1, hour)).toISOString(),
  end: new Date(Date.UTC(2026, 11, 1, hour + 1)).toISOString(),
});

describe('retrain from alerts on the Durable engine', () => {
  it('starts one train job per (model, window), however many alerts ask', async () => {
    const trigger = trainingRetrainTrigger(async () => deps);
    const [a, b] = await Promise.all([
      trigger.start({ model: 'churn', reason: 'drift on x', window: window(10) }),
      trigger.start({ model: 'churn', reason: 'drift on y', window: window(10) }),
    ]);
    expect(a.instanceId).toBe(b.instanceId);
    expect([a.started, b.started].sort()).toEqual([false, true]);
    const id = a.instanceId;
    const done = await eventually(
      async () => {
        const s = await h.client.getStatus(id);
        return s.runtimeStatus === 'Completed' ? s : undefined;
      },
      60_000,
      `train instance ${id} to complete`,
    );
    // The churn config's window (last 30 days) ends where the alerting window ends.
    const end = Date.parse(window(10).end);
    expect(done.input).toMatchObject({ model: 'churn', window: { from: end - 30 * 24 * HOUR, to: end } });
    expect(['alert: drift on x', 'alert: drift on y']).toContain((done.input as { reason: string }).reason);

    // After it ran: the same window joins it; the next window starts its own past the cooldown (1 h).
    expect(await trigger.start({ model: 'churn', reason: 'again', window: window(10) })).toEqual({
      instanceId: id,
      started: false,
    });
    now += 2 * HOUR;
    const next = await trigger.start({ model: 'churn', reason: 'drift', window: window(11) });
    expect(next.started).toBe(true);
    await eventually(
      async () => ((await h.client.getStatus(next.instanceId)).runtimeStatus === 'Completed' ? true : undefined),
      60_000,
      "the second window's job",
    );
    expect(
      h
        .executions('train-record')
        .map((e) => e.key)
        .sort(),
    ).toEqual([`churn@${window(10).end}`, `churn@${window(11).end}`]);
  }, 120_000);
});
