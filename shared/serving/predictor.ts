/**
 * predict(model, entity or entities): route each entity (sticky canary, or a pin), take a
 * lease on each chosen version's session, read every feature of every entity from the
 * online store in ONE call, apply the signature's missing/stale policy and the caller's
 * overrides, run each version once on its rows, and answer. Every prediction is logged;
 * shadow versions run after the answer is computed, on the same inputs, and never
 * change it.
 *
 * Rows of feature values the caller gives (the Open Inference Protocol's tensors) take the
 * same path: they stand in for the online read, and every version (canary, shadow) picks
 * its columns from them by `view:feature`, so routing, policy, shadows, metrics and the
 * prediction log apply unchanged.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { StrataError, UnprocessableError, ValidationError, type ErrorDetail } from '../errors';
import type { FeatureValue } from '../features/definitions/values';
import type { OnlineKey, OnlineRecord, OnlineStore } from '../features/online/types';
import type { DeployedVersion, Deployment, DeploymentCache } from './deployments';
import type { ServingMetrics } from './metrics';
import { sampleKeyOf, type PredictionLog, type PredictionRecord } from './prediction-log';
import { parsePin, resolvePin, route, type RoutedBy } from './router';
import type { Lease } from './sessions';
import type { ServingPlan } from './signature';
import { inputTensor, outputKey, readOutputs, type OutputValue } from './tensors';

export type PredictTarget = { entityId: string } | { entityIds: string[] } | { rows: GivenRows };

/** Feature values given with the request instead of read from the online store. */
export interface GivenRows {
  /** The column of each value, as `view:feature`. */
  refs: readonly string[];
  /** Row-major values: rows x refs.length. */
  values: ArrayLike<number>;
  /** What each row is called in answers and the prediction log (its "entity"). */
  ids: readonly string[];
}

export interface PredictOptions {
  /** Values that replace the online ones, by `view:feature`, for every entity of the request. */
  overrides?: Record<string, FeatureValue>;
  /** A version (`3`, `v3`) or alias (`canary`) that answers for every entity (header x-strata-model-version). */
  pin?: string;
  /** Return the input values each prediction used. */
  includeFeatures?: boolean;
  /**
   * Route every row by this key instead of by each entity id, so one version answers the
   * whole request (given rows have no entity to be sticky on).
   */
  routingKey?: string;
}

export interface EntityPrediction {
  entityId: string;
  /** The signature's first output for this entity. */
  prediction: OutputValue;
  /** What `prediction` means, from the signature ("probability of class 1"). */
  meaning: string;
  /** All outputs by name, when the signature names more than one. */
  outputs?: Record<string, OutputValue>;
  modelVersion: number;
  routedBy: RoutedBy;
  /** Features filled with their default because they were missing or stale. */
  defaulted?: string[];
  features?: Record<string, number>;
}

export interface PredictTiming {
  hydrateMs: number;
  inferMs: number;
  totalMs: number;
}

export interface PredictResult {
  model: string;
  requestId: string;
  predictions: EntityPrediction[];
  timing: PredictTiming;
}

export interface PredictorDeps {
  deployments: DeploymentCache;
  store: OnlineStore;
  log?: PredictionLog;
  metrics?: ServingMetrics;
  now?: () => number;
  /** Shadow failures never reach the caller; they are reported here (and counted in metrics). */
  onShadowError?: (e: unknown, shadow: { model: string; version: number }) => void;
}

/** The entities one version answers for, in this request. */
interface Group {
  dv: DeployedVersion;
  routedBy: RoutedBy;
  rows: number[];
  lease: Lease;
}

/** Online records fetched for a request: records[entity * views.length + viewIndex]. */
interface Hydrated {
  views: string[];
  viewIndex: Map<string, number>;
  records: Array<OnlineRecord | null>;
  /** Set when the values came with the request: nothing is read from the online store. */
  given?: GivenRows;
}

interface Inputs {
  data: Float32Array;
  features: Array<Record<string, number>>;
  defaulted: string[][];
  /** Per row: the age (ms, prediction time minus the record's event time) of each view whose online record a feature used. */
  ages: Array<Record<string, number>>;
}

interface InputProblem {
  entityId: string;
  ref: string;
  why: string;
}

const NOT_NUMERIC = Symbol('not numeric');
/** The features or ages of a row nothing will read (buildInputs' `keep`). */
const NO_VALUES: Readonly<Record<string, number>> = Object.freeze({});
const MAX_DETAILS = 100;

export class Predictor {
  private readonly pending = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly deps: PredictorDeps) {
    this.now = deps.now ?? Date.now;
  }

  async predict(model: string, target: PredictTarget, opts: PredictOptions = {}): Promise<PredictResult> {
    const t0 = performance.now();
    const given = 'rows' in target ? target.rows : undefined;
    const ids = 'rows' in target ? target.rows.ids : 'entityIds' in target ? target.entityIds : [target.entityId];
    if (ids.length === 0)
      throw new ValidationError('no entity to predict for', [
        { where: 'entityIds', problem: 'must list at least one entity id' },
      ]);
    if (given && given.values.length !== ids.length * given.refs.length) {
      throw new RangeError(
        `given rows: ${given.values.length} values for ${ids.length} rows of ${given.refs.length} columns`,
      );
    }
    // The hot path waits for nothing: a fresh snapshot and loaded sessions are taken synchronously.
    const d = this.deps.deployments.current(model) ?? (await this.deps.deployments.get(model));
    const assigned = this.assign(d, ids, opts.pin, opts.routingKey);
    const groups = Array.isArray(assigned) ? assigned : await assigned;
    const requestId = randomUUID();
    try {
      const overrides = checkOverrides(model, opts.overrides, groups);
      const views = unionViews(groups.map((g) => g.dv.plan));
      const t1 = performance.now();
      const hydrated = given ? fromGiven(given, views, this.now()) : await this.hydrate(ids, views);
      const t2 = performance.now();

      const problems: InputProblem[] = [];
      const logging = this.deps.log !== undefined;
      const keep = { features: logging || opts.includeFeatures === true, ages: logging };
      const inputs = groups.map((g) =>
        buildInputs(g.dv.plan, g.rows, ids, hydrated, overrides, this.now(), problems, keep),
      );
      if (problems.length) throw missingError(model, groups, problems);

      const outputs = await Promise.all(groups.map((g, i) => runModel(g.dv, g.lease, inputs[i]!.data, g.rows.length)));
      const t3 = performance.now();
      const timing = { hydrateMs: t2 - t1, inferMs: t3 - t2, totalMs: t3 - t0 };

      const predictions = new Array<EntityPrediction>(ids.length);
      const records: PredictionRecord[] = [];
      const ts = this.now();
      groups.forEach((g, gi) => {
        const { plan } = g.dv;
        const inp = inputs[gi]!;
        g.rows.forEach((entity, r) => {
          const outs = outputsOf(plan, outputs[gi]!, r);
          const first = plan.outputs[0]!;
          const p: EntityPrediction = {
            entityId: ids[entity]!,
            prediction: outs[outputKey(first)]!,
            meaning: first.meaning,
            modelVersion: g.dv.version,
            routedBy: g.routedBy,
          };
          if (plan.outputs.length > 1) p.outputs = outs;
          if (inp.defaulted[r]!.length) p.defaulted = inp.defaulted[r];
          if (opts.includeFeatures) p.features = inp.features[r];
          predictions[entity] = p;
          if (logging)
            records.push(
              record(
                requestId,
                entity,
                ts,
                model,
                g.dv.version,
                ids[entity]!,
                g.routedBy,
                inp,
                r,
                overrides,
                p.prediction,
                outs,
                timing.totalMs,
              ),
            );
        });
        this.deps.metrics?.observe(model, g.dv.version, {
          latencyMs: timing.totalMs,
          predictions: g.rows.length,
          shadow: false,
        });
      });
      if (logging) this.deps.log!.add(records);
      if (!opts.pin && d.shadows.length) this.shadow(d, ids, groups, hydrated, overrides, requestId);
      return { model, requestId, predictions, timing };
    } catch (e) {
      const status = e instanceof StrataError ? e.status : 500;
      for (const g of groups) this.deps.metrics?.error(model, g.dv.version, status);
      throw e;
    } finally {
      for (const g of groups) g.lease.release();
    }
  }

  /** Resolves when every shadow run started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /**
   * Route every entity (or the whole request by `routingKey`) and lease each chosen version
   * once. Synchronous when every chosen session is loaded and no pin needs a version read (the
   * hot path); a promise otherwise.
   */
  private assign(
    d: Deployment,
    ids: readonly string[],
    pin: string | undefined,
    routingKey: string | undefined,
  ): Group[] | Promise<Group[]> {
    if (pin !== undefined) return this.assignPinned(d, ids, pin);
    const byVersion = new Map<number, { dv: DeployedVersion; routedBy: RoutedBy; rows: number[] }>();
    const fixed = routingKey !== undefined ? route(d, routingKey) : undefined;
    ids.forEach((id, i) => {
      const r = fixed ?? route(d, id);
      let g = byVersion.get(r.version.version);
      if (!g) byVersion.set(r.version.version, (g = { dv: r.version, routedBy: r.routedBy, rows: [] }));
      g.rows.push(i);
    });
    const chosen = [...byVersion.values()];
    const groups: Group[] = [];
    for (const g of chosen) {
      const lease = this.deps.deployments.sessions.tryAcquire({ model: d.model, version: g.dv.version });
      if (!lease) return this.lease(d, chosen, groups);
      groups.push({ ...g, lease });
    }
    return groups;
  }

  private async assignPinned(d: Deployment, ids: readonly string[], pin: string): Promise<Group[]> {
    const version = resolvePin(d, parsePin(pin));
    const dv = d.versions.get(version) ?? (await this.deps.deployments.version(d.model, version));
    return this.lease(d, [{ dv, routedBy: 'pinned', rows: ids.map((_, i) => i) }], []);
  }

  /** Lease the versions `chosen` lists past those `held` has, loading sessions as needed. */
  private async lease(d: Deployment, chosen: Array<Omit<Group, 'lease'>>, held: Group[]): Promise<Group[]> {
    const groups = held;
    try {
      for (const g of chosen.slice(held.length)) {
        const lease = await this.deps.deployments.sessions.acquire({ model: d.model, version: g.dv.version });
        groups.push({ ...g, lease });
      }
    } catch (e) {
      for (const g of groups) g.lease.release();
      throw e;
    }
    return groups;
  }

  /** One read for every (entity, view). */
  private async hydrate(ids: readonly string[], views: string[]): Promise<Hydrated> {
    const keys: OnlineKey[] = new Array(ids.length * views.length);
    let k = 0;
    for (const entityId of ids) for (const view of views) keys[k++] = { view, entityId };
    const records = await this.deps.store.read(keys);
    return { views, viewIndex: new Map(views.map((v, i) => [v, i])), records };
  }

  private shadow(
    d: Deployment,
    ids: readonly string[],
    groups: Group[],
    hydrated: Hydrated,
    overrides: Map<string, FeatureValue>,
    requestId: string,
  ): void {
    const servedBy = new Array<number>(ids.length);
    for (const g of groups) for (const r of g.rows) servedBy[r] = g.dv.version;
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => Promise.all(d.shadows.map((sv) => this.runShadow(sv, ids, servedBy, hydrated, overrides, requestId))))
      .then(() => undefined);
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }

  private async runShadow(
    sv: DeployedVersion,
    ids: readonly string[],
    servedBy: number[],
    hydrated: Hydrated,
    overrides: Map<string, FeatureValue>,
    requestId: string,
  ): Promise<void> {
    const t0 = performance.now();
    // A shadow that is the version that answered would only repeat it.
    const rows = ids.map((_, i) => i).filter((i) => servedBy[i] !== sv.version);
    if (!rows.length) return;
    const model = sv.model;
    let lease: Lease | undefined;
    try {
      lease = this.deps.deployments.sessions.tryAcquire(sv) ?? (await this.deps.deployments.sessions.acquire(sv));
      const extra = sv.plan.views.filter((v) => !hydrated.viewIndex.has(v));
      const more = extra.length ? unionViews([sv.plan], hydrated.views) : undefined;
      const h = !more
        ? hydrated
        : hydrated.given
          ? fromGiven(hydrated.given, more, this.now())
          : await this.hydrate(ids, more);
      const problems: InputProblem[] = [];
      const logging = this.deps.log !== undefined;
      const inp = buildInputs(sv.plan, rows, ids, h, overrides, this.now(), problems, {
        features: logging,
        ages: logging,
      });
      if (problems.length) throw missingError(model, [{ dv: sv }], problems);
      const out = await runModel(sv, lease, inp.data, rows.length);
      const latencyMs = performance.now() - t0;
      this.deps.metrics?.observe(model, sv.version, { latencyMs, predictions: rows.length, shadow: true });
      if (!logging) return;
      const ts = this.now();
      const records = rows.map((entity, r) => {
        const outs = outputsOf(sv.plan, out, r);
        return record(
          requestId,
          entity,
          ts,
          model,
          sv.version,
          ids[entity]!,
          'shadow',
          inp,
          r,
          overrides,
          outs[outputKey(sv.plan.outputs[0]!)]!,
          outs,
          latencyMs,
        );
      });
      this.deps.log!.add(records);
    } catch (e) {
      this.deps.metrics?.error(model, sv.version, e instanceof StrataError ? e.status : 500, true);
      this.deps.onShadowError?.(e, { model, version: sv.version });
    } finally {
      lease?.release();
    }
  }
}

/**
 * Given rows as if read from the online store: one record per (row, view) holding that
 * view's given features, as of now (so no staleness rule applies); a view none of the given
 * columns belongs to has no record, and a version reading it finds its features missing.
 */
function fromGiven(given: GivenRows, views: string[], now: number): Hydrated {
  const viewIndex = new Map(views.map((v, i) => [v, i]));
  const columns = given.refs.map((ref) => {
    const at = ref.indexOf(':');
    return { view: viewIndex.get(ref.slice(0, at)), feature: ref.slice(at + 1) };
  });
  const width = given.refs.length;
  const records = new Array<OnlineRecord | null>(given.ids.length * views.length).fill(null);
  for (let r = 0; r < given.ids.length; r++) {
    columns.forEach((c, j) => {
      if (c.view === undefined) return;
      const k = r * views.length + c.view;
      const rec = (records[k] ??= { eventTs: now, createdTs: now, values: {} });
      rec.values[c.feature] = given.values[r * width + j]!;
    });
  }
  return { views, viewIndex, records, given };
}

function unionViews(plans: ServingPlan[], start: string[] = []): string[] {
  const out = [...start];
  for (const p of plans) for (const v of p.views) if (!out.includes(v)) out.push(v);
  return out;
}

function checkOverrides(
  model: string,
  overrides: Record<string, FeatureValue> | undefined,
  groups: Array<{ dv: DeployedVersion }>,
): Map<string, FeatureValue> {
  const out = new Map<string, FeatureValue>();
  if (!overrides) return out;
  const known = new Set(groups.flatMap((g) => g.dv.plan.columns.map((c) => c.ref)));
  const problems: ErrorDetail[] = [];
  for (const [ref, v] of Object.entries(overrides)) {
    if (!known.has(ref))
      problems.push({
        where: `overrides.${ref}`,
        problem: `is not an input of model ${model} (its features: ${[...known].join(', ')})`,
      });
    else if (toNumber(v) === NOT_NUMERIC)
      problems.push({
        where: `overrides.${ref}`,
        problem: `must be a number, boolean or null, got ${JSON.stringify(v)}`,
      });
    else out.set(ref, v);
  }
  if (problems.length) throw new ValidationError(`model ${model}: invalid feature overrides`, problems);
  return out;
}

/**
 * Fill the input rows of one version; collect what cannot be filled. The per-row maps of
 * values and ages are built only for what will read them (`keep`: the prediction log,
 * includeFeatures): without them a row allocates nothing but its defaulted list.
 */
function buildInputs(
  plan: ServingPlan,
  rows: number[],
  ids: readonly string[],
  h: Hydrated,
  overrides: Map<string, FeatureValue>,
  now: number,
  problems: InputProblem[],
  keep: { features: boolean; ages: boolean },
): Inputs {
  const width = plan.width;
  const nViews = h.views.length;
  const viewAt = plan.views.map((v) => h.viewIndex.get(v)!);
  const data = new Float32Array(rows.length * width);
  const features = new Array<Record<string, number>>(rows.length);
  const defaulted = new Array<string[]>(rows.length);
  const ages = new Array<Record<string, number>>(rows.length);
  rows.forEach((entity, r) => {
    const f: Record<string, number> | undefined = keep.features ? {} : undefined;
    const age: Record<string, number> | undefined = keep.ages ? {} : undefined;
    const filled: string[] = [];
    for (let c = 0; c < width; c++) {
      const col = plan.columns[c]!;
      let value: number | undefined | typeof NOT_NUMERIC;
      let why = '';
      if (overrides.size && overrides.has(col.ref)) {
        value = toNumber(overrides.get(col.ref)!);
        if (value === undefined) why = 'overridden with null';
      } else {
        const rec = h.records[entity * nViews + viewAt[col.view]!];
        if (!rec)
          why = h.given
            ? 'not among the columns of the request'
            : `no value in the online store (nothing stored for view ${plan.views[col.view]})`;
        else if (col.maxStalenessMs !== undefined && now - rec.eventTs > col.maxStalenessMs) {
          why = `stale: last event ${new Date(rec.eventTs).toISOString()} is older than maxStalenessMs ${col.maxStalenessMs}`;
        } else {
          value = toNumber(rec.values[col.feature]);
          if (value === undefined)
            why = h.given ? 'not among the columns of the request' : 'no value in the online store';
          else if (age && !h.given) age[plan.views[col.view]!] = now - rec.eventTs;
        }
      }
      if (value === NOT_NUMERIC) {
        const raw = overrides.has(col.ref)
          ? overrides.get(col.ref)
          : h.records[entity * nViews + viewAt[col.view]!]?.values[col.feature];
        problems.push({
          entityId: ids[entity]!,
          ref: col.ref,
          why: `is ${JSON.stringify(raw)}, not a number; the model's input is float (encode it in the feature view)`,
        });
        continue;
      }
      if (value === undefined) {
        if (col.fill === undefined) {
          problems.push({ entityId: ids[entity]!, ref: col.ref, why });
          continue;
        }
        value = col.fill;
        filled.push(col.ref);
      }
      data[r * width + c] = value;
      // NaN (missing, for the model to handle) is not a value to report or log: the feature is absent
      // from `features` and listed in `defaulted`.
      if (f && !Number.isNaN(value)) f[col.ref] = value;
    }
    features[r] = f ?? NO_VALUES;
    defaulted[r] = filled;
    ages[r] = age ?? NO_VALUES;
  });
  return { data, features, defaulted, ages };
}

function toNumber(v: FeatureValue | undefined): number | undefined | typeof NOT_NUMERIC {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const s = v.trim();
  const n = s === '' ? Number.NaN : Number(s);
  return Number.isFinite(n) ? n : NOT_NUMERIC;
}

function missingError(
  model: string,
  groups: Array<{ dv: DeployedVersion }>,
  problems: InputProblem[],
): UnprocessableError {
  const versions = [...new Set(groups.map((g) => g.dv.version))].join(', ');
  const head = problems
    .slice(0, 5)
    .map((p) => `${p.ref} for entity ${p.entityId} (${p.why})`)
    .join('; ');
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  return new UnprocessableError(
    `model ${model} (version ${versions}) cannot predict: ${problems.length === 1 ? 'a required feature is' : `${problems.length} required feature values are`} missing or unusable: ${head}${more}. ` +
      'Ingest the missing values, give these features a default in the signature policy, or pass them in overrides.',
    problems.slice(0, MAX_DETAILS).map((p) => ({ where: `entity ${p.entityId} / ${p.ref}`, problem: p.why })),
  );
}

async function runModel(dv: DeployedVersion, lease: Lease, data: Float32Array, rows: number): Promise<OutputValue[][]> {
  const results = await lease.session.run(
    { [dv.plan.inputName]: inputTensor(data, rows, dv.plan.width) },
    dv.plan.fetches,
  );
  const read = readOutputs(results, dv.plan.outputs, rows);
  if (read.problems.length) {
    throw new StrataError(
      `model ${dv.model} version ${dv.version} returned outputs Strata cannot read: ${read.problems.map((p) => `${p.output} ${p.problem}`).join('; ')}`,
    );
  }
  return read.values;
}

function outputsOf(plan: ServingPlan, values: OutputValue[][], row: number): Record<string, OutputValue> {
  const outs: Record<string, OutputValue> = {};
  plan.outputs.forEach((o, i) => (outs[outputKey(o)] = values[i]![row]!));
  return outs;
}

function record(
  requestId: string,
  entity: number,
  ts: number,
  model: string,
  version: number,
  entityId: string,
  routedBy: RoutedBy | 'shadow',
  inp: Inputs,
  r: number,
  overrides: Map<string, FeatureValue>,
  prediction: OutputValue,
  outputs: Record<string, OutputValue>,
  latencyMs: number,
): PredictionRecord {
  const shadow = routedBy === 'shadow';
  const predictionId = shadow ? `${requestId}:${entity}:shadow:${version}` : `${requestId}:${entity}`;
  return {
    predictionId,
    requestId,
    ts,
    model,
    version,
    entityId,
    routedBy,
    shadow,
    features: inp.features[r]!,
    defaulted: inp.defaulted[r]!,
    viewAgeMs: inp.ages[r]!,
    overridden: [...overrides.keys()].filter((k) => k in inp.features[r]!),
    prediction,
    // Set or undefined (not a spread): one record shape, no temporary object per prediction.
    predictionNumber: typeof prediction === 'number' ? prediction : undefined,
    sampleKey: sampleKeyOf(predictionId),
    outputs,
    latencyMs,
  };
}
