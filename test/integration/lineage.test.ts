/**
 * Lineage on real Azurite and DuckDB: streamed segments, a backfill under a new definition, a
 * compaction and a training set, walked up (what it was made from) and down (what was made from
 * it); inferVersions and updateVersion on manifest rows and training-set records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { tempDir } from '../helpers/temp';
import { testPlatform } from '../helpers/feature-platform';
import { arrivals, backfillDeps, daysAgo, ingestAll, revisedChurnRepo, HOUR } from '../helpers/backfill-fixtures';
import { runBackfill } from '../../shared/features/backfill';
import { Lineage, type LineageResult } from '../../shared/features/lineage/lineage';
import { inferVersions, updateVersion } from '../../shared/features/lineage/versions';
import { compactView } from '../../shared/features/offline/compaction';
import {
  buildTrainingSet,
  TRAINING_SETS_CONTAINER,
  type TrainingSetResult,
} from '../../shared/features/pit/training-set';
import { featureRepo } from '../../shared/definitions';
import type { ManifestEntry } from '../../shared/features/offline/manifest';
import type { OfflineStore } from '../../shared/features/offline/store';
import type { Platform } from '../../shared/platform';
import { storageFor } from '../../shared/azure/storage';

const tmp = tempDir('lineage-');
let azurite: AzuriteHandle;
let p: Platform;
let offline: OfflineStore;
let lineage: Lineage;
const revised = revisedChurnRepo();
const D2 = daysAgo(2);
let trainingSet: TrainingSetResult;

const ref = (s: ManifestEntry) => `${s.view}/${s.version}/${s.day}/${s.segmentId}`;
const ids = (r: LineageResult, kind: string) =>
  r.nodes
    .filter((n) => n.kind === kind)
    .map((n) => n.key)
    .sort();
const rows = async (view: string, version?: string) =>
  (await offline.manifest.list({ view, ...(version ? { version } : {}) })).filter((r) => r.state === 'live');
const isBackfill = (r: ManifestEntry) => r.lineage.input.kind === 'job' && r.lineage.input.key.startsWith('backfill:');

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  p = testPlatform({ storageConnection: azurite.connectionString, dataDir: path.join(tmp.dir, 'data') });
  offline = await p.offline();
  lineage = new Lineage({ repo: revised, offline, trainingSets: p.trainingSets });
  // A day of clicks and purchases streamed under the app's definitions...
  await ingestAll(await p.ingest(), arrivals(41, D2 + HOUR, 12));
  // ...recomputed under new ones, then read into a training set.
  await runBackfill(
    await backfillDeps(p, { repo: revised }),
    { views: ['user_clicks', 'user_purchases'], from: D2, to: D2 + 86_400_000, intervalMs: 6 * HOUR, maxParallel: 2 },
    { jobId: 'bf-lineage' },
  );
  trainingSet = await buildTrainingSet(
    { offline, sets: p.trainingSets },
    {
      spine: {
        rows: [
          { entityId: 'u1', ts: D2 + 13 * HOUR },
          { entityId: 'u2', ts: D2 + 13 * HOUR },
        ],
      },
      views: [
        { view: 'user_clicks', features: ['clicks_1h', 'clicks_24h'], version: revised.view('user_clicks').version },
      ],
      jobId: 'ts-job',
    },
  );
});
afterAll(async () => {
  await p?.online.close();
  await azurite?.stop();
  tmp.cleanup();
});

describe('walking lineage', () => {
  it('up from a backfilled segment: its definition version, the source segments it read, its job', async () => {
    const seg = (await rows('user_clicks', revised.view('user_clicks').version)).find(isBackfill)!;
    const up = await lineage.walk('segment', seg.segmentId, { direction: 'up', depth: 1 });
    expect(up.root).toBe(`segment:${ref(seg)}`);
    expect(ids(up, 'view')).toEqual([`user_clicks@${revised.view('user_clicks').version}`]);
    expect(ids(up, 'job')).toEqual(['bf-lineage']);
    const read = ids(up, 'segment').filter((k) => k !== ref(seg));
    expect(read.length).toBeGreaterThan(0);
    expect(read.every((k) => k.startsWith('src.clicks/'))).toBe(true);
    expect(read.length).toBe(seg.lineage.input.kind === 'job' ? seg.lineage.input.inputs!.length : -1);
    expect(
      up.edges
        .filter((e) => e.to === up.root)
        .map((e) => e.relation)
        .sort(),
    ).toEqual(['definition', 'job', ...read.map(() => 'input')].sort());

    // Two steps up: the source segments came from Event Hubs batches.
    const deeper = await lineage.walk('segment', ref(seg), { direction: 'up', depth: 2 });
    expect(ids(deeper, 'batch').every((k) => k.startsWith('eventhub:clicks:'))).toBe(true);
    expect(ids(deeper, 'batch').length).toBe(read.length);
  });

  it('up from a streamed segment: the Event Hubs batch and the source segment of the same batch', async () => {
    const seg = (await rows('user_clicks', featureRepo.view('user_clicks').version)).find(
      (r) => r.lineage.input.kind === 'eventhub',
    )!;
    const up = await lineage.walk('segment', ref(seg), { direction: 'up', depth: 1 });
    const input = seg.lineage.input as { partition: string; firstSeq: number; lastSeq: number };
    expect(ids(up, 'batch')).toEqual([`eventhub:clicks:${input.partition}:${input.firstSeq}-${input.lastSeq}`]);
    const same = up.edges.filter((e) => e.relation === 'same-batch').map((e) => e.from);
    expect(same.length).toBeGreaterThanOrEqual(1);
    expect(same.every((id) => id.startsWith('segment:src.clicks/'))).toBe(true);
  });

  it('down from a source segment: the view rows of its batch, the backfills that read it, and on to the training set', async () => {
    const src = (await rows('src.clicks')).filter((r) => r.day === new Date(D2).toISOString().slice(0, 10))[3]!;
    const down = await lineage.walk('segment', ref(src), { direction: 'down', depth: 2 });
    const made = down.edges.filter((e) => e.from === down.root);
    expect(
      made
        .filter((e) => e.relation === 'same-batch')
        .every((e) => e.to.includes(`user_clicks/${featureRepo.view('user_clicks').version}/`)),
    ).toBe(true);
    expect(made.filter((e) => e.relation === 'same-batch').length).toBeGreaterThanOrEqual(1);
    const backfills = made.filter((e) => e.relation === 'input').map((e) => e.to);
    expect(backfills.length).toBeGreaterThanOrEqual(1);
    expect(backfills.every((id) => id.includes(`user_clicks/${revised.view('user_clicks').version}/`))).toBe(true);
    // Backfilled user_clicks rows feed user_engagement's backfill and the training set.
    expect(ids(down, 'training-set')).toEqual([trainingSet.id]);
    expect(
      down.nodes.some((n) => n.key.startsWith(`user_engagement/${revised.view('user_engagement').version}/`)),
    ).toBe(true);
  });

  it('up from a training set: the segments it read and the view version; down from a view: consumers, services, training sets', async () => {
    const up = await lineage.walk('training-set', trainingSet.id, { direction: 'up', depth: 1 });
    expect(ids(up, 'segment')).toEqual(
      trainingSet.segmentsUsed.map((s) => `${s.view}/${s.version}/${s.day}/${s.segmentId}`).sort(),
    );
    expect(ids(up, 'view')).toEqual([`user_clicks@${revised.view('user_clicks').version}`]);
    expect(ids(up, 'job')).toEqual(['ts-job']);

    const view = await lineage.walk('view', 'user_clicks', { direction: 'down', depth: 1 });
    expect(ids(view, 'view')).toEqual([
      `user_clicks@${revised.view('user_clicks').version}`,
      `user_engagement@${revised.view('user_engagement').version}`,
    ]);
    expect(ids(view, 'service')).toEqual(['churn_v1']);
    expect(ids(view, 'training-set')).toEqual([trainingSet.id]);
    const viewUp = await lineage.walk('view', 'user_engagement', { direction: 'up', depth: 2 });
    expect(ids(viewUp, 'source')).toEqual(['clicks', 'purchases']);
    const source = await lineage.walk('source', 'purchases', { direction: 'down', depth: 1 });
    expect(ids(source, 'view')).toEqual([`user_purchases@${revised.view('user_purchases').version}`]);
  });

  it('a compaction: up to the segments it merged, down from each to the merged one', async () => {
    const day = new Date(D2).toISOString().slice(0, 10);
    const [result] = (await compactView(offline, 'src.purchases', { from: D2, to: D2 + 86_400_000 })).filter(
      (r) => r.status === 'compacted',
    );
    expect(result).toBeDefined();
    const merged = (await offline.manifest.list({ view: 'src.purchases' })).find(
      (r) => r.segmentId === result!.mergedSegmentId,
    )!;
    const up = await lineage.walk('segment', merged.segmentId, { direction: 'up', depth: 1 });
    expect(ids(up, 'segment').filter((k) => k !== ref(merged))).toHaveLength(result!.inputs.length);
    const input = (await offline.manifest.list({ view: 'src.purchases' })).find(
      (r) => r.state === 'superseded' && r.day === day,
    )!;
    const down = await lineage.walk('segment', ref(input), { direction: 'down', depth: 1 });
    expect(down.edges.filter((e) => e.relation === 'compacted-into').map((e) => e.to)).toEqual([
      `segment:${ref(merged)}`,
    ]);
  });

  it('refuses unknown kinds and ids with what to give instead', async () => {
    await expect(lineage.walk('model', 'x', { direction: 'up' })).rejects.toThrow(/unknown kind "model"/);
    await expect(lineage.walk('segment', 'nope', { direction: 'up' })).rejects.toThrow(/not a segment id/);
    await expect(lineage.walk('view', 'user_click', { direction: 'up' })).rejects.toThrow(/did you mean "user_clicks"/);
  });
});

describe('version keys', () => {
  it('updateVersion sets a parameter on the records it selects, and reports what it skipped', async () => {
    const where = { kind: 'segment' as const, view: 'src.clicks' };
    const n = (await rows('src.clicks')).length;
    const dry = await updateVersion(
      { repo: revised, offline, trainingSets: p.trainingSets },
      where,
      { loader: 'eh-1' },
      { dryRun: true },
    );
    expect(dry).toMatchObject({ dryRun: true, matched: n, updated: n, skipped: 0 });
    expect((await rows('src.clicks')).some((r) => r.lineage.params?.loader)).toBe(false);

    const real = await updateVersion({ repo: revised, offline, trainingSets: p.trainingSets }, where, {
      loader: 'eh-1',
    });
    expect(real).toMatchObject({ dryRun: false, matched: n, updated: n });
    expect((await rows('src.clicks')).every((r) => r.lineage.params?.loader === 'eh-1')).toBe(true);
    const again = await updateVersion({ repo: revised, offline, trainingSets: p.trainingSets }, where, {
      loader: 'eh-1',
    });
    expect(again).toMatchObject({ updated: 0, skipped: n, reasons: { 'already has these values': n } });
  });

  it('inferVersions walks up to where a parameter was set: dry run first, then for real; conflicts are skipped with why', async () => {
    const deps = { repo: revised, offline, trainingSets: p.trainingSets };
    // Clicks and purchases were loaded by different loaders.
    await updateVersion(deps, { kind: 'segment', view: 'src.clicks' }, { loader: 'eh-1' });
    // (Purchases' source segments were compacted above: the backfill read the originals, kept as history.)
    await updateVersion(deps, { kind: 'segment', view: 'src.purchases', includeSuperseded: true }, { loader: 'eh-2' });
    const v2 = (view: string) => ({ kind: 'segment' as const, view, version: revised.view(view).version });
    const clicks = await rows('user_clicks', revised.view('user_clicks').version);

    const dry = await inferVersions(deps, [{ where: v2('user_clicks'), param: 'loader' }], { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, matched: clicks.length, updated: clicks.length, skipped: 0 });
    expect(dry.records.every((r) => r.set?.loader === 'eh-1')).toBe(true);
    expect(
      (await rows('user_clicks', revised.view('user_clicks').version)).some(
        (r) => r.lineage.params?.loader !== undefined,
      ),
    ).toBe(false);

    const real = await inferVersions(deps, [
      { where: v2('user_clicks'), param: 'loader' },
      { where: v2('user_purchases'), param: 'loader' },
    ]);
    expect(real.updated).toBe(
      clicks.length + (await rows('user_purchases', revised.view('user_purchases').version)).length,
    );
    expect(
      (await rows('user_clicks', revised.view('user_clicks').version)).every(
        (r) => r.lineage.params?.loader === 'eh-1',
      ),
    ).toBe(true);
    expect((await inferVersions(deps, [{ where: v2('user_clicks'), param: 'loader' }])).reasons).toEqual({
      'already set': clicks.length,
    });

    // The derived view read both: the nearest records disagree.
    const engagement = await inferVersions(deps, [{ where: v2('user_engagement'), param: 'loader' }]);
    expect(engagement.updated).toBe(0);
    expect(engagement.reasons).toEqual({ 'conflicting values of loader 1 step(s) up: eh-1, eh-2': engagement.matched });
    // Streamed segments reach a loader through their batch's source segment (two steps: batch, same-batch segment).
    const streamed = await inferVersions(deps, [
      {
        where: { kind: 'segment', view: 'user_clicks', version: featureRepo.view('user_clicks').version },
        param: 'loader',
      },
    ]);
    expect(streamed.updated).toBe(streamed.matched);
    expect(streamed.records.every((r) => r.set?.loader === 'eh-1')).toBe(true);
    // Nothing upstream of a source segment sets a loader it lacks.
    await updateVersion(
      deps,
      { kind: 'segment', view: 'src.clicks', ids: [(await rows('src.clicks'))[0]!.segmentId] },
      { other: 1 },
    );
    const none = await inferVersions(
      deps,
      [{ where: { kind: 'segment', view: 'src.clicks' }, param: 'other', maxDepth: 2 }],
      { dryRun: true },
    );
    expect(none.reasons).toMatchObject({
      'already set': 1,
      'no record within 2 lineage steps up sets other': none.matched - 1,
    });
  });

  it('inferVersions gives an old training-set record the view versions of the segments it read', async () => {
    const deps = { repo: revised, offline, trainingSets: p.trainingSets };
    const blob = (await storageFor(p.config.storage).container(TRAINING_SETS_CONTAINER)).getBlockBlobClient(
      trainingSet.recordPath,
    );
    const rec = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as TrainingSetResult;
    // As saved before versions were tracked.
    const old = JSON.stringify({ ...rec, views: rec.views.map(({ version: _v, ...v }) => v) });
    await blob.upload(old, Buffer.byteLength(old));
    const rule = { where: { kind: 'training-set' as const }, param: 'version' };

    const dry = await inferVersions(deps, [rule], { dryRun: true });
    expect(dry).toMatchObject({ matched: 1, updated: 1, skipped: 0 });
    expect(dry.records[0]).toMatchObject({
      id: `${trainingSet.id} user_clicks`,
      set: { version: revised.view('user_clicks').version },
    });
    expect(JSON.parse((await blob.downloadToBuffer()).toString('utf8')).views[0].version).toBeUndefined();

    await inferVersions(deps, [rule]);
    expect(JSON.parse((await blob.downloadToBuffer()).toString('utf8')).views[0].version).toBe(
      revised.view('user_clicks').version,
    );
    expect((await inferVersions(deps, [rule])).reasons).toEqual({ 'already set': 1 });
  });
});
