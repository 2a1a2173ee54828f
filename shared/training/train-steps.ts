/**
 * The train job's steps, each the work of one activity (orchestrations/train-activities.ts is
 * a thin wrapper over these). Big data stays in Blob: a step's result is references and
 * numbers (the training set's blob, the split's cutoff, the model's blob and metrics), never
 * rows or model bytes, so the job's history stays small.
 *
 *   training-set          label spine in the window (label-spine.ts) -> point-in-time training set
 *   split                 newest holdoutFraction of rows by time is the holdout (the cutoff)
 *   fit                   the trainer in a worker thread (TrainingRunner), live progress in the run;
 *                         the ONNX file to `training-runs/<job>/model.onnx`
 *   evaluate              onnxruntime scores that file on the holdout: what the gate compares
 *   evaluate-production   the production version on the same holdout (when it reads the same features)
 *   baseline              monitoring's baseline from the training rows and the model's predictions on them
 *   register              a registry version: artifact, signature, and tags naming baseline, run, set, metrics
 *   gate                  the policy's decision (gate.ts), carried out
 *
 * Every step is idempotent, because activities are at-least-once (a crash re-runs the step in
 * flight): blob names come from the job id, the training set from its request, the model from a
 * deterministic fit (same seed, same bytes), the registration from its content claim, the gate
 * from state checks. `runStep` records each execution in the run (so re-runs are visible and
 * counted) and turns the caller's own mistakes (4xx: no labels, bad params) into a result the
 * orchestration fails on at once, instead of retrying what no retry can fix.
 */
import { createHash } from 'node:crypto';
import { StrataError, publicText } from '../errors';
import type { FeatureRepo } from '../features/definitions/repo';
import type { OfflineStore } from '../features/offline/store';
import { createTrainingSet, TRAINING_SETS_CONTAINER } from '../features/pit';
import { trainingSetRequestFromApi } from '../features/pit/api';
import { pathOf, type FileStore } from '../file-store';
import type { TrainingSetStore } from '../features/pit/training-set-store';
import { PRODUCTION, type ModelRegistry } from '../serving/registry';
import { computeBaseline } from './baseline';
import { BaselineSchema, type BaselineStore } from '../monitoring/store/baselines';
import { applyGate, decideGate, type Deployer } from './gate';
import { labelWindow, writeLabelSpine } from './label-spine';
import type { Metrics } from './metrics';
import { evaluateOnnx, scoreOnnx } from './onnx-score';
import { parquetSource, timeSplit, type ParquetRef, type TimeSplit } from './parquet';
import type { TrainingRunner } from './runner';
import type { GateDecision, RunProgress, RunStore, TrainStep, TrainingRun } from './runs';
import type { ModelOutput } from './trainer';
import { configFingerprint, type TrainJob } from './train-job';

export const TRAINING_RUNS_CONTAINER = 'training-runs';

export interface TrainDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  /** Where the training set is recorded and written (the platform's TrainingSetStore). */
  trainingSets: TrainingSetStore;
  /** The job's files (`training-runs/<job>/model.onnx`, `baseline.json`): container TRAINING_RUNS_CONTAINER. */
  artifacts: FileStore;
  /** Where label spines are written (container SPINES_CONTAINER, one the training set reads spines from). */
  spines: FileStore;
  registry: ModelRegistry;
  /** Alias and traffic changes (the serving service: this instance serves the gate's decision at once). */
  deployer: Deployer;
  runs: RunStore;
  runner: TrainingRunner;
  /** Trainer modules the fit worker loads (STRATA_TRAINER_MODULES). */
  trainerModules: string[];
  /** Where monitoring reads each version's baseline (the register step puts it there). */
  baselines: BaselineStore;
}

export type StepResult<T> = { ok: true; value: T } | { ok: false; status: number; error: string };

export interface TrainingSetRef {
  id: string;
  blobPath: string;
  rows: number;
  labelSum: number;
}
export interface SplitRef {
  cutoff: number;
  trainRows: number;
  holdoutRows: number;
}
export interface FitRef {
  modelBlob: string;
  sha256: string;
  inputName: string;
  output: ModelOutput;
  cpuMs: number | null;
  trees?: number;
}
export interface ProductionEval {
  version: number | null;
  metrics: Metrics | null;
  reason: string;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Create the job's run (RUNNING); a re-run finds it and leaves it. */
export async function startRun(deps: TrainDeps, jobId: string, job: TrainJob, now = Date.now()): Promise<TrainingRun> {
  const c = job.config;
  const data = await labelWindow(deps.offline, deps.repo, c.labels, job.window);
  const { run } = await deps.runs.create({
    id: jobId,
    model: c.model,
    status: 'RUNNING',
    reason: job.input.reason,
    createdAt: now,
    updatedAt: now,
    steps: {},
    params: {
      trainer: c.trainer,
      params: c.params,
      task: c.task,
      seed: c.seed,
      holdoutFraction: c.holdoutFraction,
      featureService: c.featureService,
      labels: c.labels,
      knownAt: c.knownAt,
      gate: c.gate,
      tags: c.tags,
    },
    window: job.window,
    data,
    definitionVersions: job.definitionVersions,
    codeVersion: job.codeVersion,
    plan: { config: configFingerprint(job), data: data.fingerprint },
  });
  // The same job again after it failed: running anew (its step executions keep counting).
  if (run.status !== 'RUNNING') {
    return deps.runs.update(jobId, (r) => {
      const { error: _e, finishedAt: _f, gate: _g, ...rest } = r;
      return { ...rest, status: 'RUNNING', reason: job.input.reason };
    });
  }
  return run;
}

/** Run one step: count the execution, time it, and turn a 4xx into a result. */
export async function runStep<T>(
  deps: TrainDeps,
  jobId: string,
  step: TrainStep,
  work: () => Promise<T>,
  record: (r: TrainingRun, v: T) => TrainingRun = (r) => r,
): Promise<StepResult<T>> {
  const startedAt = Date.now();
  const cpu0 = cpuNow();
  await deps.runs.update(jobId, (r) => ({
    ...r,
    step,
    steps: { ...r.steps, [step]: { executions: (r.steps[step]?.executions ?? 0) + 1, startedAt } },
  }));
  const done =
    (extra: Record<string, unknown>) =>
    (r: TrainingRun): TrainingRun => ({
      ...r,
      steps: {
        ...r.steps,
        [step]: {
          ...r.steps[step]!,
          finishedAt: Date.now(),
          durationMs: Date.now() - startedAt,
          cpuSeconds: cpuNow() - cpu0,
          ...extra,
        },
      },
    });
  try {
    const value = await work();
    await deps.runs.update(jobId, (r) => record(done({})(r), value));
    return { ok: true, value };
  } catch (e) {
    const message = publicText((e as Error).message ?? String(e));
    await deps.runs.update(jobId, done({ error: message })).catch(() => undefined);
    if (e instanceof StrataError && e.status < 500) {
      const details = e.details.length
        ? ` (${e.details.map((d) => `${d.where}: ${publicText(d.problem)}`).join('; ')})`
        : '';
      return { ok: false, status: e.status, error: `${message}${details}` };
    }
    throw e;
  }
}

/** The training set's Parquet file, local (through the offline store's blob cache). */
async function localSet(deps: TrainDeps, ts: TrainingSetRef): Promise<string> {
  const path = ts.blobPath.replace(`${TRAINING_SETS_CONTAINER}/`, '');
  const info = await deps.trainingSets.fileInfo(path);
  if (!info) throw new Error(`the training set file ${ts.blobPath} is missing`);
  const [file] = await deps.offline.cache.fetchAll([
    { container: TRAINING_SETS_CONTAINER, blobPath: path, etag: info.etag },
  ]);
  return file!;
}

async function refOf(deps: TrainDeps, job: TrainJob, ts: TrainingSetRef): Promise<ParquetRef> {
  return {
    kind: 'parquet',
    files: [await localSet(deps, ts)],
    features: job.config.features.map((f) => f.column),
    label: 'label',
  };
}

async function split(deps: TrainDeps, job: TrainJob, ts: TrainingSetRef): Promise<TimeSplit> {
  return timeSplit(await refOf(deps, job, ts), { holdoutFraction: job.config.holdoutFraction, tieBreak: ['row_id'] });
}

/** A file the job wrote earlier (its model, its baseline), by its name in the artifacts store. */
async function readArtifact(deps: TrainDeps, name: string): Promise<Uint8Array> {
  const bytes = await deps.artifacts.read(name);
  if (!bytes) throw new Error(`the job's file ${pathOf(deps.artifacts, name)} is missing`);
  return new Uint8Array(bytes);
}

export async function buildTrainingSetStep(deps: TrainDeps, jobId: string, job: TrainJob): Promise<TrainingSetRef> {
  const c = job.config;
  const spine = await writeLabelSpine(deps.offline, deps.spines, deps.repo, c.labels, job.window, jobId);
  const versions = Object.fromEntries(
    Object.entries(job.definitionVersions)
      .filter(([k]) => k.startsWith('view:'))
      .map(([k, v]) => [k.slice(5), v]),
  );
  const request = trainingSetRequestFromApi(deps.repo, {
    spine: { blobPath: spine.blobPath },
    featureService: c.featureService,
    versions,
    fullFeatureNames: true,
    id: jobId,
    ...(c.knownAt === 'asOf' ? { knownAt: 'asOf', asOf: job.window.to } : { knownAt: 'row' }),
  });
  const { set } = await createTrainingSet({ offline: deps.offline, sets: deps.trainingSets }, { ...request, jobId });
  return { id: set.id, blobPath: `${set.container}/${set.blobPath}`, rows: set.rowCount, labelSum: spine.labelSum };
}

export async function splitStep(deps: TrainDeps, job: TrainJob, ts: TrainingSetRef): Promise<SplitRef> {
  const s = await split(deps, job, ts);
  return { cutoff: s.cutoff, trainRows: s.trainRows, holdoutRows: s.holdoutRows };
}

export async function fitStep(
  deps: TrainDeps,
  jobId: string,
  job: TrainJob,
  ts: TrainingSetRef,
  cut: SplitRef,
): Promise<{ ref: FitRef; record: (r: TrainingRun) => TrainingRun }> {
  const c = job.config;
  const s = await split(deps, job, ts);
  if (s.cutoff !== cut.cutoff)
    throw new Error(
      `the training set ${ts.id} splits at ${s.cutoff} now, not at ${cut.cutoff} as recorded: it changed under the job`,
    );
  // Progress goes to the run at most once a second while fitting (a Table write each), in order;
  // the last fitting figures (trees built / total) are kept for the record.
  let last = 0;
  let fitting: RunProgress | undefined;
  let writing: Promise<unknown> = Promise.resolve();
  const report = (p: RunProgress) => {
    if (p.phase === 'fitting') fitting = p;
    const now = Date.now();
    if (now - last < 1000 && p.phase === 'fitting') return;
    last = now;
    writing = writing.then(() => deps.runs.update(jobId, (r) => ({ ...r, progress: p }))).catch(() => undefined);
  };
  const out = await deps.runner.run(
    {
      trainer: c.trainer,
      params: c.params,
      task: c.task,
      seed: c.seed,
      threads: c.threads,
      train: s.train,
      holdout: s.holdout,
      baseline: false,
      trainerModules: deps.trainerModules,
    },
    { tags: c.tags, onProgress: (p) => report(p as RunProgress) },
  );
  await writing;
  const sha256 = createHash('sha256').update(out.onnx).digest('hex');
  const modelBlob = `${jobId}/model.onnx`;
  await deps.artifacts.put(modelBlob, out.onnx, { contentType: 'application/octet-stream', metadata: { sha256 } });
  const trees = typeof out.summary.treesKept === 'number' ? out.summary.treesKept : undefined;
  return {
    ref: {
      modelBlob,
      sha256,
      inputName: out.inputName,
      output: out.output,
      cpuMs: out.cpuMs,
      ...(trees !== undefined ? { trees } : {}),
    },
    record: (r) => ({
      ...r,
      progress: { ...(fitting ?? {}), phase: 'fitted' },
      metrics: {
        ...r.metrics,
        train: out.metrics.train,
        validation: out.metrics.validation,
        holdout: out.metrics.holdout,
      },
      curves: out.curves,
      summary: out.summary,
      params: { ...r.params, params: out.params },
      artifacts: { ...r.artifacts, model: pathOf(deps.artifacts, modelBlob), sha256 },
      ...(out.cpuMs !== null ? { fitCpuSeconds: out.cpuMs / 1000 } : {}),
    }),
  };
}

export async function evaluateStep(deps: TrainDeps, job: TrainJob, ts: TrainingSetRef, fit: FitRef): Promise<Metrics> {
  const s = await split(deps, job, ts);
  const bytes = await readArtifact(deps, fit.modelBlob);
  return (await evaluateOnnx(bytes, parquetSource(s.holdout), fit.output, job.config.task, fit.inputName)).metrics;
}

export async function evaluateProductionStep(
  deps: TrainDeps,
  job: TrainJob,
  ts: TrainingSetRef,
): Promise<ProductionEval> {
  const model = job.config.model;
  let state;
  try {
    state = await deps.registry.getModel(model);
  } catch (e) {
    if (e instanceof StrataError && e.status === 404)
      return { version: null, metrics: null, reason: `model ${model} has no versions yet` };
    throw e;
  }
  const version = state.aliases[PRODUCTION];
  if (version === undefined)
    return { version: null, metrics: null, reason: `model ${model} has no production version` };
  const v = await deps.registry.getVersion(model, version);
  const theirs = v.signature.featureService.features.map((f) => `${f.view}:${f.feature}`).join(',');
  const ours = job.config.features.map((f) => `${f.view}:${f.feature}`).join(',');
  if (theirs !== ours)
    return { version, metrics: null, reason: `production v${version} reads ${theirs}, not this job's features` };
  const s = await split(deps, job, ts);
  const bytes = await deps.registry.readArtifact(v.artifact);
  const out = v.signature.outputs[0]!;
  const { metrics } = await evaluateOnnx(
    bytes,
    parquetSource(s.holdout),
    { name: out.name, ...(out.column !== undefined ? { column: out.column } : {}) },
    job.config.task,
    v.signature.input.name,
  );
  return { version, metrics, reason: `production v${version} on the same ${metrics.rows} holdout rows` };
}

export async function baselineStep(
  deps: TrainDeps,
  jobId: string,
  job: TrainJob,
  ts: TrainingSetRef,
  fit: FitRef,
): Promise<string> {
  const s = await split(deps, job, ts);
  const bytes = await readArtifact(deps, fit.modelBlob);
  const predictions = await scoreOnnx(bytes, parquetSource(s.train), fit.output, fit.inputName);
  const computed = await computeBaseline(parquetSource(s.train), predictions, { seed: job.config.seed });
  // Named as serving names features (`view:feature`, the prediction log's keys), not by the
  // training set's columns: monitoring compares the logged predictions with it.
  const served = new Map(job.config.features.map((f) => [f.column, `${f.view}:${f.feature}`]));
  const baseline = {
    ...computed,
    features: computed.features.map((f) => ({ ...f, name: served.get(f.name) ?? f.name })),
  };
  const blob = `${jobId}/baseline.json`;
  await deps.artifacts.put(blob, JSON.stringify(baseline), { contentType: 'application/json' });
  return pathOf(deps.artifacts, blob);
}

/**
 * The signature a trained version is registered with: the config's feature service in the
 * config's column order, and the fitted model's input and output (scripts/example-model.ts
 * writes the same for examples/churn.onnx). A missing feature is served as missing (NaN): the
 * trainers learned what to do with it (Trainer's contract: NaN = missing), as they did in training.
 */
export function trainedSignature(
  c: Pick<TrainJob['config'], 'featureService' | 'features'>,
  fit: Pick<FitRef, 'inputName' | 'output'>,
) {
  return {
    featureService: {
      name: c.featureService,
      features: c.features.map((f) => ({ view: f.view, feature: f.feature })),
    },
    input: { name: fit.inputName },
    outputs: [
      {
        name: fit.output.name,
        meaning: fit.output.meaning,
        ...(fit.output.column !== undefined ? { column: fit.output.column } : {}),
      },
    ],
    policy: { default: { onMissing: 'model' as const }, features: {} },
  };
}

export async function registerStep(
  deps: TrainDeps,
  jobId: string,
  job: TrainJob,
  ts: TrainingSetRef,
  fit: FitRef,
  baseline: string,
  candidate: Metrics,
): Promise<number> {
  const c = job.config;
  const bytes = await readArtifact(deps, fit.modelBlob);
  const metric = (candidate as unknown as Record<string, unknown>)[c.gate.metric];
  const { version } = await deps.registry.register(c.model, {
    artifact: bytes,
    signature: trainedSignature(c, fit),
    description: `${c.trainer} on ${c.featureService}, ${new Date(job.window.from).toISOString()}..${new Date(job.window.to).toISOString()} (job ${jobId})`,
    tags: {
      run: jobId,
      trainingSet: ts.id,
      baseline,
      trainer: c.trainer,
      codeVersion: job.codeVersion,
      window: `${new Date(job.window.from).toISOString()}/${new Date(job.window.to).toISOString()}`,
      ...(typeof metric === 'number' ? { [`holdout.${c.gate.metric}`]: String(metric) } : {}),
    },
  });
  // Monitoring compares this version's windows with its baseline; a re-run puts the same one (a no-op).
  const text = Buffer.from(await readArtifact(deps, baseline.slice(deps.artifacts.container.length + 1))).toString(
    'utf8',
  );
  await deps.baselines.put(c.model, version.version, BaselineSchema.parse(JSON.parse(text)));
  return version.version;
}

export async function gateStep(
  deps: TrainDeps,
  job: TrainJob,
  version: number,
  candidate: Metrics,
  production: ProductionEval,
): Promise<GateDecision> {
  const g = job.config.gate;
  const decision = decideGate({
    policy: g.policy,
    metric: g.metric,
    margin: g.margin,
    candidate,
    production: production.metrics,
    productionVersion: production.version,
  });
  await applyGate(deps.registry, deps.deployer, job.config.model, version, decision, g.canaryShare);
  return decision;
}

/** The run's end: COMPLETED with totals, or FAILED naming the step and the reason. */
export async function finishRun(
  deps: TrainDeps,
  jobId: string,
  outcome: { ok: true } | { ok: false; step: string; message: string },
): Promise<TrainingRun> {
  return deps.runs.update(jobId, (r) => {
    const finishedAt = Date.now();
    // The fit's own threads (the worker, when the platform tells) plus every other step's process time;
    // computed from the steps, so a finish that runs twice (at-least-once) records the same total.
    const others = Object.entries(r.steps).reduce((n, [k, s]) => n + (k === 'fit' ? 0 : (s?.cpuSeconds ?? 0)), 0);
    return {
      ...r,
      status: outcome.ok ? 'COMPLETED' : 'FAILED',
      finishedAt,
      durationMs: finishedAt - r.createdAt,
      cpuSeconds: others + (r.fitCpuSeconds ?? r.steps.fit?.cpuSeconds ?? 0),
      ...(outcome.ok ? {} : { error: { step: outcome.step, message: outcome.message } }),
    };
  });
}
