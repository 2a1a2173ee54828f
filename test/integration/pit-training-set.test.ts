/**
 * Training sets end to end: segments in Blob + manifest, a spine inline or in a blob, the
 * result as Parquet in `training-sets`, checked against hand-computed expectations.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors';
import { compactView, withConnection, type OfflineStore } from '../../shared/features/offline';
import { literal } from '../../shared/features/offline/duckdb';
import {
  TRAINING_SETS_CONTAINER,
  buildTrainingSet,
  createTrainingSet,
  type TrainingSetRequest,
  type TrainingSetResult,
} from '../../shared/features/pit';
import type { SpineRow } from '../../shared/features/pit';
import type { TrainingSetDeps } from '../../shared/features/pit/training-set';
import { TrainingSetBlobs } from '../../shared/azure/training-set-blobs';
import { hubBatch, row, spec, startOfflineEnv, t, type OfflineEnv } from './offline-fixtures';

let env: OfflineEnv;
let store: OfflineStore;
/** The offline store and where the sets go: what a build needs. */
let deps: TrainingSetDeps;
const DAY = 86_400_000;
const ACTIVITY = [
  { name: 'clicks', type: 'int' as const },
  { name: 'spend', type: 'float' as const },
];
const PROFILE = [{ name: 'tier', type: 'string' as const }];

beforeAll(async () => {
  env = await startOfflineEnv();
  store = await env.store();
  deps = { offline: store, sets: new TrainingSetBlobs(env.storage()) };
  // Batch 1, on time.
  await store.writeRows(spec('activity', hubBatch(1, 3), ACTIVITY), [
    row('u1', '2024-08-01T08:00', '2024-08-01T08:00', { clicks: 1, spend: 1 }),
    row('u1', '2024-08-01T09:00', '2024-08-01T09:00', { clicks: 2, spend: 2 }),
    row('u2', '2024-08-01T08:30', '2024-08-01T08:30', { clicks: 7, spend: 0.5 }),
  ]);
  // Batch 2, arriving at 12:00: a late event (10:00) and a correction of the 09:00 event.
  await store.writeRows(spec('activity', hubBatch(4, 5), ACTIVITY), [
    row('u1', '2024-08-01T10:00', '2024-08-01T12:00', { clicks: 3, spend: 3 }),
    row('u1', '2024-08-01T09:00', '2024-08-01T12:00', { clicks: 20, spend: 2.5 }),
  ]);
  // Batch 3, the next day.
  await store.writeRows(spec('activity', hubBatch(6, 6), ACTIVITY), [
    row('u1', '2024-08-02T08:00', '2024-08-02T08:00', { clicks: 4, spend: 4 }),
  ]);
  await store.writeRows(spec('profile', hubBatch(1, 2, '0', 'profiles'), PROFILE), [
    row('u1', '2024-07-31T12:00', '2024-07-31T12:00', { tier: 'gold' }),
    row('u2', '2024-07-30T00:00', '2024-07-30T00:00', { tier: 'silver' }),
  ]);
});
afterAll(async () => {
  await env?.stop();
});

const SPINE: SpineRow[] = [
  { entityId: 'u1', ts: t('2024-08-01T08:59'), label: 0 },
  { entityId: 'u1', ts: t('2024-08-01T11:00'), label: 1 },
  { entityId: 'u1', ts: t('2024-08-01T12:00'), label: 1 },
  { entityId: 'u2', ts: t('2024-08-01T09:00'), label: 0 },
  { entityId: 'u3', ts: t('2024-08-01T09:00'), label: 0 },
  { entityId: 'u1', ts: t('2024-08-02T09:00'), label: 1 },
];
const VIEWS: TrainingSetRequest['views'] = [
  { view: 'activity', features: ['clicks', 'spend'] },
  { view: 'profile', features: ['tier'], ttlMs: DAY },
];

/** The training set's rows as stored in Blob, as plain objects. */
async function download(res: TrainingSetResult): Promise<Array<Record<string, unknown>>> {
  const file = path.join(env.dir, `${res.id}-${Math.random().toString(36).slice(2)}.parquet`);
  await (await env.storage().container(res.container)).getBlockBlobClient(res.blobPath).downloadToFile(file);
  return withConnection(async (c) => {
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(file)})`);
    return r
      .getRowObjectsJS()
      .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  });
}
const features = (rows: Array<Record<string, unknown>>, ...cols: string[]) => rows.map((r) => cols.map((c) => r[c]));

describe('training sets: point-in-time correct, no leakage', () => {
  it('joins each spine row with only what was known at its time', async () => {
    const res = await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS });
    const rows = await download(res);
    expect(rows).toEqual([
      { row_id: 0, entity_id: 'u1', ts: t('2024-08-01T08:59'), label: 0, clicks: 1, spend: 1, tier: 'gold' },
      // 11:00: the late 10:00 event and the 09:00 correction arrive only at 12:00.
      { row_id: 1, entity_id: 'u1', ts: t('2024-08-01T11:00'), label: 1, clicks: 2, spend: 2, tier: 'gold' },
      // 12:00: both have arrived; the late event is the latest. tier (set 07-31 12:00, TTL 1 day) expires exactly now.
      { row_id: 2, entity_id: 'u1', ts: t('2024-08-01T12:00'), label: 1, clicks: 3, spend: 3, tier: null },
      { row_id: 3, entity_id: 'u2', ts: t('2024-08-01T09:00'), label: 0, clicks: 7, spend: 0.5, tier: null },
      { row_id: 4, entity_id: 'u3', ts: t('2024-08-01T09:00'), label: 0, clicks: null, spend: null, tier: null },
      { row_id: 5, entity_id: 'u1', ts: t('2024-08-02T09:00'), label: 1, clicks: 4, spend: 4, tier: null },
    ]);
    expect(res).toMatchObject({
      container: TRAINING_SETS_CONTAINER,
      blobPath: `${res.id}.parquet`,
      rowCount: 6,
      columnCount: 7,
      columns: [
        { name: 'row_id', type: 'BIGINT' },
        { name: 'entity_id', type: 'VARCHAR' },
        { name: 'ts', type: 'BIGINT' },
        { name: 'label', type: 'DOUBLE' },
        { name: 'clicks', type: 'BIGINT' },
        { name: 'spend', type: 'DOUBLE' },
        { name: 'tier', type: 'VARCHAR' },
      ],
      views: [
        { view: 'activity', version: 'v1', features: ['clicks', 'spend'], ttlMs: null },
        { view: 'profile', version: 'v1', features: ['tier'], ttlMs: DAY },
      ],
      knownAt: 'row',
      asOf: null,
    });
    const used = await store.listSegments('activity');
    expect(
      res.segmentsUsed
        .filter((s) => s.view === 'activity')
        .map((s) => s.segmentId)
        .sort(),
    ).toEqual(used.map((s) => s.segmentId).sort());
  });

  it('writes a JSON record beside the Parquet file', async () => {
    const res = await buildTrainingSet(deps, {
      spine: { rows: SPINE },
      views: VIEWS,
      jobId: 'train-42',
      id: 'with-job',
    });
    const body = await (
      await env.storage().container(TRAINING_SETS_CONTAINER)
    )
      .getBlockBlobClient(res.recordPath)
      .downloadToBuffer();
    expect(JSON.parse(body.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(res)));
    expect(res.jobId).toBe('train-42');
  });

  it('the same request gets the same id; compaction does not change the result', async () => {
    const before = await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS });
    const beforeRows = await download(before);
    await compactView(store, 'activity');
    expect(await store.listSegments('activity', { to: t('2024-08-02') })).toHaveLength(1);
    const after = await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS });
    expect(after.id).toBe(before.id);
    expect(after).toEqual(before); // immutable: the stored set
    // Built again from the compacted segments (under its own id): the same rows.
    const rebuilt = await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS, id: 'after-compaction' });
    expect(rebuilt.segmentsUsed.map((s) => s.segmentId)).not.toEqual(before.segmentsUsed.map((s) => s.segmentId));
    expect(await download(rebuilt)).toEqual(beforeRows);
  });

  it('is immutable: the same request under a taken id answers the stored set, a different one is a ConflictError naming id', async () => {
    const first = await createTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS, id: 'fixed' });
    expect(first.created).toBe(true);
    const again = await createTrainingSet(deps, {
      spine: { rows: SPINE },
      views: VIEWS,
      id: 'fixed',
      jobId: 'another-job',
    });
    expect(again).toEqual({ set: first.set, created: false });
    const other = await createTrainingSet(deps, { spine: { rows: SPINE.slice(1) }, views: VIEWS, id: 'fixed' }).catch(
      (e: unknown) => e,
    );
    expect(other).toBeInstanceOf(ConflictError);
    expect((other as ConflictError).details).toEqual([expect.objectContaining({ where: 'id' })]);
  });

  it('a record whose Parquet file never came (a crash between the two) is repaired by the same request', async () => {
    const first = await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS, id: 'repaired' });
    const rows = await download(first);
    const container = await env.storage().container(TRAINING_SETS_CONTAINER);
    // As if written a minute ago by a builder that died before its Parquet upload.
    const record = JSON.stringify({ ...first, builtAt: first.builtAt - 60_000 });
    await container.getBlockBlobClient(first.recordPath).upload(record, record.length);
    await container.getBlockBlobClient(first.blobPath).delete();
    const again = await createTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS, id: 'repaired' });
    expect(again.created).toBe(false);
    expect(await download(again.set)).toEqual(rows);
  });

  it('reads only segments that can matter: within the TTL window and arrived by the cutoff', async () => {
    const res = await buildTrainingSet(deps, {
      spine: { rows: [{ entityId: 'u1', ts: t('2024-08-01T11:00') }] },
      views: [{ view: 'activity', features: ['clicks'], ttlMs: 6 * 3_600_000 }],
    });
    // The next day's segment lies after the spine; nothing else is excluded.
    expect(res.segmentsUsed.every((s) => s.day === '2024-08-01')).toBe(true);
    expect(features(await download(res), 'clicks')).toEqual([[2]]);
  });
});

describe('training sets: as of a past moment', () => {
  it("asOf with knownAt 'asOf' uses what the store held at asOf", async () => {
    const res = await buildTrainingSet(deps, {
      spine: { rows: SPINE },
      views: VIEWS.slice(0, 1),
      asOf: t('2024-08-01T11:30'),
    });
    expect(res.knownAt).toBe('asOf');
    expect(features(await download(res), 'clicks', 'spend')).toEqual([
      [1, 1],
      [2, 2],
      [2, 2],
      [7, 0.5],
      [null, null],
      [2, 2],
    ]);
  });

  it("knownAt 'both' rebuilds exactly the training set built at asOf, after late data and corrections arrived", async () => {
    const view = 'rebuild';
    const spine: SpineRow[] = [
      { entityId: 'a', ts: t('2024-08-10T12:00') },
      { entityId: 'a', ts: t('2024-08-10T18:00') },
      { entityId: 'b', ts: t('2024-08-10T18:00') },
    ];
    const request = { spine: { rows: spine }, views: [{ view, features: ['clicks'] }] };
    await store.writeRows(spec(view, hubBatch(1, 2), ACTIVITY), [
      row('a', '2024-08-10T09:00', '2024-08-10T09:00', { clicks: 1 }),
      row('b', '2024-08-10T09:00', '2024-08-10T09:00', { clicks: 5 }),
    ]);
    const builtThen = await download(await buildTrainingSet(deps, request));
    expect(features(builtThen, 'clicks')).toEqual([[1], [1], [5]]);

    // Later: a correction and a late event arrive at 15:00, a new event at 16:00.
    await store.writeRows(spec(view, hubBatch(3, 5), ACTIVITY), [
      row('a', '2024-08-10T09:00', '2024-08-10T15:00', { clicks: 10 }),
      row('b', '2024-08-10T11:00', '2024-08-10T15:00', { clicks: 6 }),
      row('a', '2024-08-10T16:00', '2024-08-10T16:00', { clicks: 2 }),
    ]);
    expect(
      features(await download(await buildTrainingSet(deps, { ...request, id: 'rebuild-after-corrections' })), 'clicks'),
    ).toEqual([[1], [2], [6]]);
    const rebuilt = await download(
      await buildTrainingSet(deps, { ...request, asOf: t('2024-08-10T14:00'), knownAt: 'both' }),
    );
    expect(rebuilt).toEqual(builtThen);
  });
});

describe('training sets: spines from blobs', () => {
  it('a Parquet or CSV spine gives the same features as the same rows inline', async () => {
    const inline = await download(await buildTrainingSet(deps, { spine: { rows: SPINE }, views: VIEWS }));
    const uploads = await env.storage().container('spines');
    const csv = [
      'entity_id,ts,label',
      ...SPINE.map((s) => `${s.entityId},${new Date(s.ts).toISOString()},${s.label}`),
    ].join('\n');
    await uploads.getBlockBlobClient('run1/spine.csv').upload(csv, csv.length);
    const parquet = path.join(env.dir, 'spine.parquet');
    await withConnection((c) =>
      c.run(
        `COPY (SELECT * FROM (VALUES ${SPINE.map((s) => `(${literal(s.entityId)}, ${s.ts}, ${s.label})`).join(', ')}) v(entity_id, ts, label)) TO ${literal(parquet)} (FORMAT parquet)`,
      ),
    );
    await uploads.getBlockBlobClient('run1/spine.parquet').uploadFile(parquet);

    for (const blobPath of ['spines/run1/spine.csv', 'spines/run1/spine.parquet']) {
      const res = await buildTrainingSet(deps, { spine: { blobPath }, views: VIEWS });
      const rows = await download(res);
      expect(features(rows, 'row_id', 'entity_id', 'ts', 'clicks', 'spend', 'tier')).toEqual(
        features(inline, 'row_id', 'entity_id', 'ts', 'clicks', 'spend', 'tier'),
      );
      expect(rows.map((r) => Number(r.label))).toEqual(SPINE.map((s) => s.label));
    }
  });

  it('a spine blob without the needed columns is refused, naming what it has', async () => {
    const uploads = await env.storage().container('spines');
    await uploads.getBlockBlobClient('bad.csv').upload('user,when\nu1,2024-08-01', 23);
    await expect(buildTrainingSet(deps, { spine: { blobPath: 'spines/bad.csv' }, views: VIEWS })).rejects.toThrow(
      /lacks columns entity_id, ts/,
    );
    await expect(
      buildTrainingSet(deps, { spine: { blobPath: 'spines/missing.csv' }, views: VIEWS }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('training sets: requests', () => {
  it('refuses unknown features, listing those the view has', async () => {
    const err = await buildTrainingSet(deps, {
      spine: { rows: SPINE },
      views: [{ view: 'activity', features: ['clicks', 'nope'] }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details[0]!.problem).toBe('unknown: nope; the view has clicks, spend');
  });

  it('refuses a view with no data at all', async () => {
    await expect(
      buildTrainingSet(deps, { spine: { rows: SPINE }, views: [{ view: 'never', features: ['x'] }] }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses colliding column names unless fullFeatureNames is set', async () => {
    await store.writeRows(spec('activity2', hubBatch(1, 1), ACTIVITY), [
      row('u1', '2024-08-01T08:00', '2024-08-01T08:00', { clicks: 100, spend: 0 }),
    ]);
    const views = [
      { view: 'activity', features: ['clicks'] },
      { view: 'activity2', features: ['clicks'] },
    ];
    await expect(buildTrainingSet(deps, { spine: { rows: SPINE }, views })).rejects.toThrow(ValidationError);
    const res = await buildTrainingSet(deps, { spine: { rows: SPINE }, views, fullFeatureNames: true });
    expect(res.columns.map((c) => c.name)).toEqual([
      'row_id',
      'entity_id',
      'ts',
      'label',
      'activity__clicks',
      'activity2__clicks',
    ]);
    expect(features(await download(res), 'activity__clicks', 'activity2__clicks')[0]).toEqual([1, 100]);
  });

  it('uses the named definition version, else the newest', async () => {
    await store.writeRows(spec('activity', hubBatch(1, 1), [{ name: 'clicks', type: 'float' }], 'v2'), [
      row('u1', '2024-08-01T08:00', '2024-08-01T08:00', { clicks: 0.5 }),
    ]);
    const newest = await buildTrainingSet(deps, {
      spine: { rows: SPINE.slice(0, 1) },
      views: [{ view: 'activity', features: ['clicks'] }],
    });
    const named = await buildTrainingSet(deps, {
      spine: { rows: SPINE.slice(0, 1) },
      views: [{ view: 'activity', version: 'v1', features: ['clicks'] }],
    });
    expect([newest.views[0]!.version, features(await download(newest), 'clicks')]).toEqual(['v2', [[0.5]]]);
    expect([named.views[0]!.version, features(await download(named), 'clicks')]).toEqual(['v1', [[1]]]);
    expect(named.id).not.toBe(newest.id);
  });
});
