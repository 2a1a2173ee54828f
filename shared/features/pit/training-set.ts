/**
 * Training sets: a spine joined point-in-time with features from the offline store, written
 * as Parquet (`<id>.parquet`) with a JSON record beside it (`<id>.json`: views, versions, the
 * exact segments read, the semantics used) so the set can be traced and rebuilt. Both go to a
 * TrainingSetStore (training-set-store.ts; on Azure the `training-sets` container).
 *
 * Immutable: a set is identified by what its request means (`identity`: spine content, views
 * at their versions, knownAt, asOf, column naming). The record is the claim on an id, written
 * only if none exists; the same request under a taken id gets the stored set
 * (created: false), a different one a ConflictError naming `id`. The Parquet file follows its
 * record, written once, so a crash between the two is repaired by the next same request.
 *
 * Output columns: row_id (the spine row's position), entity_id, ts (epoch ms), [label],
 * then each requested feature (named `<feature>`, or `<view>__<feature>` with
 * fullFeatureNames), one row per spine row in spine order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ConflictError, NotFoundError, ValidationError, type ErrorDetail } from '../../errors';
import { literal, withConnection } from '../offline/duckdb';
import { OFFLINE_CONTAINER } from '../offline/segment-blobs';
import { assertName } from '../offline/segment-id';
import { canonicalJson, sha256Hex } from '../../canonical-json';
import type { OfflineStore } from '../offline/store';
import type { SegmentRecord } from '../offline/types';
import { pointInTimeJoin, type KnownAt, type PitView } from './join';
import { loadSpine, type SpineSource } from './spine';
import type { SegmentUse, TrainingSetResult, TrainingSetStore } from './training-set-store';

export type { SegmentUse, TrainingSetResult } from './training-set-store';

export const TRAINING_SETS_CONTAINER = 'training-sets';
const RESERVED = new Set(['row_id', 'entity_id', 'ts', 'label']);

export interface TrainingSetView {
  view: string;
  /** Definition version; default: the newest version with data in the spine's time span. */
  version?: string;
  features: string[];
  /** A value older than this (event_ts <= ts - ttlMs) is expired: null. Undefined: never expires. */
  ttlMs?: number;
}

export interface TrainingSetRequest {
  spine: SpineSource;
  views: TrainingSetView[];
  /** A moment in the past (epoch ms) to build as of; see knownAt. */
  asOf?: number;
  /**
   * Which arrivals count: 'row' (created_ts <= the spine row's ts; default without asOf),
   * 'asOf' (created_ts <= asOf; default with asOf) or 'both' (created_ts <= min(ts, asOf):
   * a 'row' training set exactly as it would have been built at asOf).
   */
  knownAt?: KnownAt;
  fullFeatureNames?: boolean;
  /** The training set's id and blob name; default: a hash of the request (same request, same id). */
  id?: string;
  /** The job building it, recorded in the JSON record. */
  jobId?: string;
}

/** A build: the set, and whether this call created it (false: the same request had built it before). */
export interface TrainingSetBuild {
  set: TrainingSetResult;
  created: boolean;
}

/** How long a second builder of the same set waits for the first one's Parquet file. */
const PARQUET_WAIT_MS = 30_000;

interface ResolvedView {
  request: TrainingSetView;
  version: string;
  segments: SegmentRecord[];
  pit: PitView;
}

/** What a build reads from and writes to. */
export interface TrainingSetDeps {
  offline: OfflineStore;
  sets: TrainingSetStore;
}

/** Build (or find) the training set of a request; see createTrainingSet. */
export async function buildTrainingSet(deps: TrainingSetDeps, req: TrainingSetRequest): Promise<TrainingSetResult> {
  return (await createTrainingSet(deps, req)).set;
}

/**
 * The training set of a request: built and stored, or the stored one when the same request
 * built it before (created: false). A different request under a taken id is a ConflictError.
 */
export async function createTrainingSet(
  { offline: store, sets }: TrainingSetDeps,
  req: TrainingSetRequest,
): Promise<TrainingSetBuild> {
  const knownAt = checkRequest(req);
  const work = path.join(os.tmpdir(), `strata-training-set-${process.pid}-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(work, { recursive: true });
  try {
    return await withConnection(async (c) => {
      const spine = await loadSpine(c, 'spine', req.spine, store.cache);
      const cutoff =
        knownAt === 'row' ? spine.maxTs : knownAt === 'asOf' ? req.asOf! : Math.min(spine.maxTs, req.asOf!);
      const resolved: ResolvedView[] = [];
      for (const v of req.views)
        resolved.push(await resolveView(c, store, v, spine, cutoff, req.fullFeatureNames ?? false));
      checkOutputNames(resolved, req.fullFeatureNames ?? false);

      const views = resolved.map((r) => ({
        view: r.request.view,
        version: r.version,
        features: r.request.features,
        ttlMs: r.request.ttlMs ?? null,
      }));
      const full = req.fullFeatureNames ?? false;
      const identity = trainingSetIdentity({ spine: spine.identity, views, knownAt, asOf: req.asOf ?? null, full });
      const id = req.id ?? identity.slice(0, 32);
      const stored = await sets.readRecord(id);
      const found = stored && (await storedSet(sets, stored, identity, full));
      if (found) return { set: found, created: false };

      const out = path.join(work, `${id}.parquet`);
      const joined = await pointInTimeJoin(
        c,
        { table: 'spine', hasLabel: spine.labelType !== undefined, minTs: spine.minTs, maxTs: spine.maxTs },
        resolved.map((r) => r.pit),
        { knownAt, ...(req.asOf !== undefined ? { asOf: req.asOf } : {}) },
        out,
      );
      const result: TrainingSetResult = {
        id,
        container: TRAINING_SETS_CONTAINER,
        blobPath: `${id}.parquet`,
        recordPath: `${id}.json`,
        rowCount: joined.rowCount,
        columnCount: joined.columns.length,
        columns: joined.columns,
        views,
        segmentsUsed: resolved.flatMap((r) =>
          r.segments.map((s) => ({
            view: s.view,
            version: s.version,
            day: s.day,
            segmentId: s.segmentId,
            blobPath: s.blobPath,
            etag: s.etag,
          })),
        ),
        knownAt,
        asOf: req.asOf ?? null,
        spine: { rowCount: spine.rowCount, identity: spine.identity },
        identity,
        jobId: req.jobId ?? null,
        builtAt: Date.now(),
      };
      // The claim on the id: only if no record exists (a concurrent builder may have won).
      if ((await sets.createRecord(result)) === 'taken') {
        const winner = await sets.readRecord(id);
        if (!winner) throw new ConflictError(`training set id "${id}" was taken but its record cannot be read; retry`);
        // The same set, but its Parquet file never came (a builder crashed): this build's copy takes its place.
        if (!(await storedSet(sets, winner, identity, full))) await sets.putFileOnce(winner.blobPath, out);
        return { set: winner, created: false };
      }
      await sets.putFileOnce(result.blobPath, out);
      return { set: result, created: true };
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The identity of a training set: sha256 of what its request means (its id, unless one was given, is the first 32 chars). */
export function trainingSetIdentity(what: {
  spine: string;
  views: TrainingSetResult['views'];
  knownAt: KnownAt;
  asOf: number | null;
  full: boolean;
}): string {
  return sha256Hex(canonicalJson(what));
}

/**
 * The stored set when it was built from the same request, else a ConflictError naming `id`.
 * Undefined when its Parquet file is missing: another builder may still be writing it (waited
 * for), or crashed before (the caller writes its own copy of the same set).
 */
async function storedSet(
  sets: TrainingSetStore,
  stored: TrainingSetResult,
  identity: string,
  full: boolean,
): Promise<TrainingSetResult | undefined> {
  // Records from before identities were stored: their identity from what they recorded.
  const storedIdentity =
    stored.identity ??
    trainingSetIdentity({
      spine: stored.spine.identity,
      views: stored.views,
      knownAt: stored.knownAt,
      asOf: stored.asOf,
      full,
    });
  if (storedIdentity !== identity) {
    throw new ConflictError(
      `training set id "${stored.id}" is taken by a set built from a different request; training sets are immutable`,
      [
        {
          where: 'id',
          problem: `already names a different training set (built ${new Date(stored.builtAt).toISOString()}); choose another id, or leave id out to get one from the request`,
        },
      ],
    );
  }
  const deadline = Date.now() + (Date.now() - stored.builtAt < PARQUET_WAIT_MS ? PARQUET_WAIT_MS : 0);
  for (;;) {
    if (await sets.fileInfo(stored.blobPath)) return stored;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

function checkRequest(req: TrainingSetRequest): KnownAt {
  const problems: ErrorDetail[] = [];
  if (req.views.length === 0) problems.push({ where: 'views', problem: 'name at least one feature view' });
  req.views.forEach((v, i) => {
    try {
      assertName('view', v.view);
      if (v.version !== undefined) assertName('version', v.version);
    } catch (e) {
      problems.push(...((e as ValidationError).details ?? []).map((d) => ({ ...d, where: `views[${i}].${d.where}` })));
    }
    if (v.features.length === 0) problems.push({ where: `views[${i}].features`, problem: 'name at least one feature' });
    if (new Set(v.features).size !== v.features.length)
      problems.push({ where: `views[${i}].features`, problem: 'names a feature twice' });
    if (v.ttlMs !== undefined && !(v.ttlMs > 0))
      problems.push({
        where: `views[${i}].ttlMs`,
        problem: 'must be a positive number of milliseconds (omit it for no expiry)',
      });
  });
  const knownAt = req.knownAt ?? (req.asOf !== undefined ? 'asOf' : 'row');
  if (knownAt !== 'row' && req.asOf === undefined)
    problems.push({ where: 'asOf', problem: `knownAt '${knownAt}' needs asOf` });
  if (req.id !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(req.id))
    problems.push({ where: 'id', problem: 'use 1-128 characters from A-Z a-z 0-9 _ . -' });
  if (problems.length) throw new ValidationError('invalid training set request', problems);
  return knownAt;
}

async function resolveView(
  c: DuckDBConnection,
  store: OfflineStore,
  v: TrainingSetView,
  spine: { minTs: number; maxTs: number },
  cutoff: number,
  full: boolean,
): Promise<ResolvedView> {
  const range = { ...(v.ttlMs !== undefined ? { from: spine.minTs - v.ttlMs + 1 } : {}), to: spine.maxTs + 1 };
  const local = await store.localFiles(v.view, {
    ...range,
    arrivedBy: cutoff,
    ...(v.version !== undefined ? { version: v.version } : {}),
  });
  const version = local.version ?? v.version ?? (await store.latestVersion(v.view));
  if (version === undefined)
    throw new NotFoundError(`feature view ${v.view} has no rows in the offline store; ingest or backfill it first`);

  // The schema comes from the segments; with none in range, from any segment of the version.
  let schemaFile = local.files[0];
  if (!schemaFile) {
    const any = (await store.listSegments(v.view, { version }))[0];
    if (!any)
      throw new NotFoundError(
        `feature view ${v.view} version ${version} has no rows in the offline store; ingest or backfill it first`,
      );
    schemaFile = await store.cache.fetch(OFFLINE_CONTAINER, any.blobPath, any.etag);
  }
  const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(schemaFile)})`);
  const types = new Map(
    described
      .getRows()
      .map(([n, t]) => [String(n), String(t)])
      .filter(([n]) => !['entity_id', 'event_ts', 'created_ts'].includes(n!)) as Array<[string, string]>,
  );
  const unknown = v.features.filter((f) => !types.has(f));
  if (unknown.length) {
    throw new ValidationError(`feature view ${v.view} (version ${version}) has no feature ${unknown.join(', ')}`, [
      {
        where: `views.${v.view}.features`,
        problem: `unknown: ${unknown.join(', ')}; the view has ${[...types.keys()].join(', ')}`,
      },
    ]);
  }
  return {
    request: v,
    version,
    segments: local.segments,
    pit: {
      view: v.view,
      files: local.files,
      features: v.features.map((f) => ({ name: f, type: types.get(f)!, as: full ? `${v.view}__${f}` : f })),
      ...(v.ttlMs !== undefined ? { ttlMs: v.ttlMs } : {}),
      ...(local.segments.length ? { keyBounds: keyBounds(local.segments) } : {}),
    },
  };
}

/** Bounds of event time and arrival lag over the segments read, for the packed ASOF key. */
function keyBounds(segments: readonly SegmentRecord[]): NonNullable<PitView['keyBounds']> {
  return {
    minEventTs: Math.min(...segments.map((s) => s.minEventTs)),
    maxEventTs: Math.max(...segments.map((s) => s.maxEventTs)),
    minLagMs: Math.min(...segments.map((s) => s.minLagMs)),
    maxLagMs: Math.max(...segments.map((s) => s.maxLagMs)),
  };
}

function checkOutputNames(views: readonly ResolvedView[], full: boolean): void {
  const seen = new Map<string, string>();
  const problems: ErrorDetail[] = [];
  for (const v of views) {
    for (const f of v.pit.features) {
      const other = seen.get(f.as);
      if (RESERVED.has(f.as))
        problems.push({
          where: `views.${v.pit.view}.features`,
          problem: `"${f.as}" is a spine column name; use fullFeatureNames to prefix feature names`,
        });
      else if (other) {
        problems.push({
          where: `views.${v.pit.view}.features`,
          problem: full
            ? `"${f.as}" is requested twice (view ${other} appears twice?)`
            : `"${f.as}" is also a feature of ${other}; set fullFeatureNames to name columns <view>__<feature>`,
        });
      }
      seen.set(f.as, v.pit.view);
    }
  }
  if (problems.length) throw new ValidationError('training set columns would collide', problems);
}
