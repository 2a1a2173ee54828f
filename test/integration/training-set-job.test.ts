/**
 * The training-set job on the local Durable engine and a real Azurite: the compiled
 * orchestration and activity (dist/orchestrations/training-set*.js), started with the body of
 * POST /api/training-sets. It builds the set (rows checked by hand), keeps the immutability
 * rules (the same request again: the stored set; a different request under a taken id: refused
 * with 409, not retried), and checks its input with the route's rules.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../shared/features/offline';
import { literal } from '../../shared/features/offline/duckdb';
import type { TrainingSetResult } from '../../shared/features/pit';
import { trainingSetJobId } from '../../shared/features/pit/training-set-job';
import { trainingSetRequestFromApi } from '../../shared/features/pit/api';
import { featureRepo } from '../../shared/definitions';
import { ROOT, startDurableHarness, type DurableHarness } from '../fixtures/durable-harness';
import { hubBatch, row, spec, startOfflineEnv, t, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
let h: DurableHarness;
const JOB = 'training-set';

beforeAll(async () => {
  env = await startOfflineEnv();
  // The activity builds on the app's platform, configured from the environment as on Azure.
  process.env.AzureWebJobsStorage = env.connectionString;
  process.env.STRATA_DATA_DIR = path.join(env.dir, 'data');
  delete process.env.REDIS_URL;
  const store = await env.store();
  await store.writeRows(spec('user_clicks', hubBatch(1, 3), [{ name: 'clicks_1h', type: 'int' }], 'v-job'), [
    row('u1', '2024-08-01T10:00', '2024-08-01T10:00', { clicks_1h: 1 }),
    row('u1', '2024-08-01T10:30', '2024-08-01T10:30', { clicks_1h: 2 }),
    row('u2', '2024-08-01T10:15', '2024-08-01T10:15', { clicks_1h: 5 }),
  ]);
  h = await startDurableHarness({
    storageConnection: env.connectionString,
    execLog: path.join(env.dir, 'exec.log'),
    entry: path.join(ROOT, 'dist/orchestrations/training-set-activities.js'),
  });
}, 60_000);
afterAll(async () => {
  await h?.stop();
  await env?.stop();
});

const body = (id: string, spineAt = '2024-08-01T10:20:00Z') => ({
  id,
  spine: {
    rows: [
      { entity_id: 'u1', ts: spineAt, label: 0 },
      { entity_id: 'u1', ts: '2024-08-01T10:45:00Z', label: 1 },
      { entity_id: 'u2', ts: spineAt, label: 1 },
      { entity_id: 'u3', ts: spineAt, label: 0 },
    ],
  },
  features: ['user_clicks:clicks_1h'],
});

async function rowsOf(set: TrainingSetResult): Promise<Array<Record<string, unknown>>> {
  const file = path.join(env.dir, `${set.id}-${Math.random().toString(36).slice(2)}.parquet`);
  await (await env.storage().container(set.container)).getBlockBlobClient(set.blobPath).downloadToFile(file);
  return withConnection(async (c) =>
    (await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(file)}) ORDER BY row_id`))
      .getRowObjectsJS()
      .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]))),
  );
}

describe('the training-set job', () => {
  let first: TrainingSetResult;

  it('builds the set the route would build, its record as the output, the job as its jobId', async () => {
    const id = trainingSetJobId(trainingSetRequestFromApi(featureRepo, body('job-set-1')));
    const s = await h.run(JOB, body('job-set-1'), id);
    expect(s.runtimeStatus, JSON.stringify(s.output)).toBe('Completed');
    first = s.output as TrainingSetResult;
    expect(first).toMatchObject({
      id: 'job-set-1',
      container: 'training-sets',
      blobPath: 'job-set-1.parquet',
      rowCount: 4,
      jobId: id,
    });
    expect(first.views).toEqual([
      { view: 'user_clicks', version: 'v-job', features: ['clicks_1h'], ttlMs: 2 * 86_400_000 },
    ]);
    expect(s.customStatus).toEqual({ phase: 'done', jobId: id, id: 'job-set-1', created: true });
    // By hand: the latest clicks_1h at or before each row's time that had arrived by then.
    expect(await rowsOf(first)).toEqual([
      { row_id: 0, entity_id: 'u1', ts: t('2024-08-01T10:20'), label: 0, clicks_1h: 1 },
      { row_id: 1, entity_id: 'u1', ts: t('2024-08-01T10:45'), label: 1, clicks_1h: 2 },
      { row_id: 2, entity_id: 'u2', ts: t('2024-08-01T10:20'), label: 1, clicks_1h: 5 },
      { row_id: 3, entity_id: 'u3', ts: t('2024-08-01T10:20'), label: 0, clicks_1h: null },
    ]);
    const record = await (
      await env.storage().container('training-sets')
    )
      .getBlockBlobClient('job-set-1.json')
      .downloadToBuffer();
    expect(JSON.parse(record.toString('utf8'))).toEqual(first);
  });

  it('the same request again (a new run, another instance) answers the stored set, created: false', async () => {
    const again = await h.run(JOB, body('job-set-1'), 'another-run-of-job-set-1');
    expect(again.runtimeStatus).toBe('Completed');
    expect(again.output).toEqual(first);
    expect(again.customStatus).toMatchObject({ phase: 'done', created: false });
  });

  it('a different request under the taken id is refused with 409 naming id, and the stored set stays', async () => {
    const s = await h.run(JOB, body('job-set-1', '2024-08-01T10:25:00Z'));
    expect(s.runtimeStatus).toBe('Failed');
    expect(String(s.output)).toMatch(/409: training set id "job-set-1" is taken/);
    expect(s.customStatus).toMatchObject({ phase: 'refused', status: 409, details: [{ where: 'id' }] });
    const record = await (
      await env.storage().container('training-sets')
    )
      .getBlockBlobClient('job-set-1.json')
      .downloadToBuffer();
    expect(JSON.parse(record.toString('utf8'))).toEqual(first);
    // Refusals are results, not failures to retry: the activity ran once.
    const history = await h.http('GET', `/runtime/webhooks/durabletask/instances/${s.instanceId}?showHistory=true`);
    const failed = (history.body as { historyEvents: Array<{ EventType: string }> }).historyEvents.filter(
      (e) => e.EventType === 'TaskFailed',
    );
    expect(failed).toEqual([]);
  });

  it('checks its input with the route rules: a bad one fails at once, naming the field', async () => {
    const s = await h.run(JOB, { ...body('job-set-2'), features: ['user_clicks:nope'] });
    expect(s.runtimeStatus).toBe('Failed');
    expect(String(s.output)).toMatch(/features\[0\]|nope/);
    const none = await h.run(JOB, null);
    expect(none.runtimeStatus).toBe('Failed');
    expect(String(none.output)).toMatch(/invalid training set request: \(root\): .*expected object/);
  });

  it('a set with no data for its views is a 404 in the status', async () => {
    const s = await h.run(JOB, {
      spine: { rows: [{ entity_id: 'u1', ts: '2024-08-01T10:20:00Z' }] },
      features: ['user_purchases:spend_7d'],
    });
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.customStatus).toMatchObject({
      phase: 'refused',
      status: 404,
      error: expect.stringMatching(/user_purchases has no rows/),
    });
  });
});
