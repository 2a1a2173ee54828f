/**
 * startTraining's plan before run, on real Table storage (runs, trigger state) and a real
 * offline store (the label segments): automatic triggers respect the model's cooldown, a
 * trigger with nothing changed since the last completed run does nothing, a new label makes it
 * run, and HTTP is never held back. `start` records what would reach the Durable client (the
 * HTTP end to end test drives the real one).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import { trainingConfigSpec } from '../../shared/definitions/training';
import { sourceColumns, sourceSegmentView } from '../../shared/features/ingest/service';
import { TableRunStore } from '../../shared/azure/run-table';
import { startTraining, type TrainingTriggerDeps } from '../../shared/training/start';
import { labelWindow } from '../../shared/training/label-spine';
import { configFingerprint, parseTrainRequest } from '../../shared/training/train-job';
import type { TrainingRun } from '../../shared/training/runs';

const storage = useAzurite('train-trigger-');
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 20, 12, 30);
let offline: OfflineStore;
let runs: TableRunStore;
let now = NOW;
const started: string[] = [];

function deps(): TrainingTriggerDeps {
  return {
    repo: featureRepo,
    configs: trainingConfigSpec,
    runs,
    offline,
    now: () => now,
    start: async (id) => {
      started.push(id);
      return 'started';
    },
  };
}

async function addLabel(user: string, ts: number): Promise<void> {
  const src = featureRepo.source('churn_labels');
  await offline.writeRows(
    {
      view: sourceSegmentView(src.name),
      version: src.version,
      columns: sourceColumns(src),
      lineage: { input: { kind: 'file', source: src.name, sha256: `${user}-${ts}` } },
    },
    [
      {
        entityId: user,
        eventTs: ts,
        createdTs: ts,
        values: { user_id: user, ts: new Date(ts).toISOString(), churned: true },
      },
    ],
  );
}

/** Record the job of `reason` at `now` as a completed run, as the orchestration would. */
async function completed(id: string): Promise<void> {
  const job = parseTrainRequest(featureRepo, trainingConfigSpec, { model: 'churn' }, now);
  const data = await labelWindow(offline, featureRepo, job.config.labels, job.window);
  const run: TrainingRun = {
    id,
    model: 'churn',
    status: 'COMPLETED',
    reason: 'schedule',
    createdAt: now,
    updatedAt: now,
    steps: {},
    params: {
      trainer: 'logistic',
      params: {},
      task: 'binary',
      seed: 0,
      holdoutFraction: 0.2,
      featureService: 'churn_v1',
      labels: {},
      knownAt: 'row',
      gate: {},
      tags: [],
    },
    window: job.window,
    data,
    definitionVersions: job.definitionVersions,
    codeVersion: job.codeVersion,
    plan: { config: configFingerprint(job), data: data.fingerprint },
  };
  await runs.create(run);
}

beforeAll(async () => {
  const s = storageFor(storage.connectionString);
  offline = await OfflineStore.open({ storage: s, cacheDir: path.join(storage.dir, 'cache') });
  runs = new TableRunStore(s);
});

describe('startTraining', () => {
  it('an automatic start, then another job within the cooldown is skipped; the same job joins; HTTP is never held back', async () => {
    await addLabel('u1', NOW - 2 * HOUR);
    const first = await startTraining(deps(), { model: 'churn', reason: 'schedule' });
    expect(first).toMatchObject({
      status: 'started',
      started: true,
      joined: false,
      window: { from: Date.UTC(2026, 10, 20, 12) - 30 * 24 * HOUR, to: Date.UTC(2026, 10, 20, 12) },
    });
    expect(await runs.getTrigger('churn')).toMatchObject({
      lastStartAt: NOW,
      lastRunId: first.instanceId,
      reason: 'schedule',
    });

    now = NOW + 20 * 60_000;
    const other = await startTraining(deps(), {
      model: 'churn',
      reason: 'alert:drift',
      overrides: { params: { l2: 3 } },
    });
    expect(other.status).toBe('skipped');
    expect(other.skipped).toMatch(
      /^cooldown: the last automatic start of churn \(train-churn-[0-9a-f]+, schedule\) was 1200 s ago, under the 3600 s cooldown$/,
    );
    const same = await startTraining(deps(), { model: 'churn', reason: 'alert:drift' });
    expect(same.instanceId).toBe(first.instanceId);
    expect(same.status).toBe('started'); // what the Durable client answers: joins a running instance
    const http = await startTraining(deps(), { model: 'churn', reason: 'http', overrides: { params: { l2: 3 } } });
    expect(http.status).toBe('started');
    expect(started).toEqual([first.instanceId, first.instanceId, http.instanceId]);
  });

  it('past the cooldown: nothing changed since the last completed run does nothing; a new label makes it run', async () => {
    now = NOW + 3 * HOUR;
    await completed('train-churn-done');
    now = NOW + 5 * HOUR; // another window (the hour moved), the same label segments
    const quiet = await startTraining(deps(), { model: 'churn', reason: 'schedule' });
    expect(quiet.status).toBe('skipped');
    expect(quiet.skipped).toBe(
      'nothing changed since run train-churn-done: the same trainer config and definitions, and no label arrived or changed in the window',
    );
    const changedConfig = await startTraining(deps(), {
      model: 'churn',
      reason: 'schedule',
      overrides: { params: { l2: 5 } },
    });
    expect(changedConfig.status).toBe('started');

    now = NOW + 7 * HOUR;
    await addLabel('u2', NOW + 6 * HOUR);
    const fresh = await startTraining(deps(), { model: 'churn', reason: 'schedule' });
    expect(fresh.status).toBe('started');
  });
});
