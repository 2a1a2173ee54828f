/**
 * The monitoring pipeline on real Azurite and DuckDB, fed the way production feeds it: a
 * model registered in the registry, its baseline computed by training's own builder, the
 * prediction log and the labels ingested as sources into the offline store. One run closes
 * the finished windows: the window after an injected shift (0.5 sigma in one feature, a new
 * category in another) drifts in exactly those, a same-distribution window does not, a
 * 20-row window is insufficient data; realized performance matches the hand computation
 * on the labelled predictions and their label distribution drifts where 90% are positive; a second run recomputes nothing, a late batch recomputes its
 * window only; a busy host defers; a day with 10x the usual nulls raises a store alert; a
 * retrain rule starts one job per (model, window).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { z } from 'zod';
import { freshPlatforms } from '../helpers/feature-platform';
import { defineRepo, entity, featureView, mean, source, tumbling } from '../../shared/features/definitions/language';
import { predictions as predictionsSource } from '../../shared/definitions/platform-sources';
import { sampleKeyOf, type PredictionRecord } from '../../shared/serving/prediction-log';
import { computeBaseline } from '../../shared/training/baseline';
import { denseData, denseSource } from '../../shared/training/data';
import { Random } from '../../shared/training/random';
import { createMonitoring, type MonitoringServices, type MonitoringStores } from '../../shared/monitoring/services';
import { defineMonitoring } from '../../shared/monitoring/model-config';
import { HostLoadGuard, type LoadGuard } from '../../shared/monitoring/load-guard';
import type { RetrainRequest, RetrainTrigger } from '../../shared/monitoring/alerts/retrain';
import { retrainInstanceId } from '../../shared/monitoring/alerts/retrain';
import { logistic, sigmoid } from '../helpers/serving-fixtures';
import type { Platform } from '../../shared/platform';
import { literal, withConnection } from '../../shared/features/offline/duckdb';
import { compactView } from '../../shared/features/offline';
import { sourceSegmentView } from '../../shared/features/offline/segment-id';
import { MemoryMonitoringResultStore } from '../../shared/memory/monitoring-results';
import { MemoryAlertStore } from '../../shared/memory/alerts';
import type { WindowResult } from '../../shared/monitoring/window-result';

const H = 3_600_000;
const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / H) * H + 30 * 60_000; // half past the hour
const T0 = NOW - 30 * 60_000 - 4 * H; // window 0 starts 4 h before this hour
const FEATURES = ['v:x', 'v:c'] as const;
const W = [0.8, 0.5];

const user = entity({ name: 'user', joinKey: 'user_id' });
const riskLabels = source({
  name: 'risk_labels',
  schema: z.object({ label_id: z.string(), user_id: z.string(), outcome: z.number(), ts: z.number() }),
  eventTime: 'ts',
  id: 'label_id',
  file: true,
});
const readings = source({
  name: 'readings',
  schema: z.object({ user_id: z.string(), value: z.number().optional(), ts: z.number() }),
  eventTime: 'ts',
  file: true,
});
const daily = featureView({
  name: 'daily_readings',
  entity: user,
  input: readings,
  features: (f) => ({ value_mean: mean('value', tumbling('1d')) }),
});
const repo = defineRepo({
  entities: [user],
  sources: [predictionsSource, riskLabels, readings],
  views: [daily],
  services: [],
});

const configs = defineMonitoring(
  [
    {
      model: 'risk',
      task: 'binary',
      labels: { source: 'risk_labels', entityField: 'user_id', labelField: 'outcome', horizon: '1h' },
      rules: [
        {
          id: 'risk-x-drift',
          metric: 'drift_detected',
          subject: 'v:x',
          comparison: '>=',
          threshold: 1,
          action: 'retrain',
          cooldown: '1h',
        },
        { id: 'risk-label-drift', metric: 'drift_detected', subject: 'label', comparison: '>=', threshold: 1 },
      ],
    },
  ],
  repo,
);

/** x ~ N(0, 1) (+ shift), c in {0, 1, 2} with shares 0.5/0.3/0.2 (or 10% of a new code 3). */
function draw(n: number, seed: number, o: { shift?: number; newCategory?: number } = {}): number[][] {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => {
    const u = rng.next();
    const c = o.newCategory && u < o.newCategory ? 3 : [0, 1, 2][u < 0.5 ? 0 : u < 0.8 ? 1 : 2]!;
    return [rng.normal() + (o.shift ?? 0), c];
  });
}
const score = (row: number[]) => sigmoid(W[0]! * row[0]! + W[1]! * row[1]! - 0.5);

function records(rows: number[][], start: number, version: number, tag: string, scores?: number[]): PredictionRecord[] {
  return rows.map((r, i) => {
    const p = scores?.[i] ?? score(r);
    return {
      predictionId: `${tag}-${i}`,
      requestId: `${tag}-${i}`,
      ts: start + 1000 + i * 10,
      model: 'risk',
      version,
      entityId: `${tag}-u${i}`,
      routedBy: 'production',
      shadow: false,
      features: { 'v:x': r[0]!, 'v:c': r[1]! },
      defaulted: i % 50 === 0 ? ['v:x'] : [],
      // One age for view v per prediction: (i mod 100) s, except that the defaulted ones read a 120 s old record.
      viewAgeMs: { v: i % 50 === 0 ? 120_000 : (i % 100) * 1_000 },
      overridden: [],
      prediction: p,
      predictionNumber: p,
      sampleKey: sampleKeyOf(`${tag}-${i}`),
      outputs: { probability: p },
      latencyMs: 3,
    };
  });
}

let seq = 0;
async function ingest(p: Platform, sourceName: string, recs: unknown[], receivedAt: number) {
  const first = seq;
  seq += recs.length;
  const report = await (
    await p.ingest()
  ).ingest({
    source: sourceName,
    records: recs.map((record, i) => ({ record, position: `partition 0, sequence ${first + i}` })),
    batch: { kind: 'eventhub', source: sourceName, partition: '0', firstSeq: first, lastSeq: seq - 1 },
    receivedAt,
  });
  expect(report.rejected, `${sourceName}: ${JSON.stringify(report)}`).toBe(0);
}

class RecordingRetrain implements RetrainTrigger {
  readonly started = new Map<string, RetrainRequest>();
  readonly calls: RetrainRequest[] = [];
  async start(req: RetrainRequest) {
    this.calls.push(req);
    const instanceId = retrainInstanceId(req.model, req.window.start);
    const started = !this.started.has(instanceId);
    if (started) this.started.set(instanceId, req);
    return { instanceId, started };
  }
}

const { platform } = freshPlatforms('strata-monitoring-');
let p: Platform;
let m: MonitoringServices;
let version: number;

/** Monitoring over this test's platform, with some stores or the load guard of its own. */
const monitoringOver = async (own: { stores?: Partial<MonitoringStores>; load?: LoadGuard } = {}) =>
  createMonitoring({
    config: p.config,
    stores: { ...(await p.monitoringStores()), ...own.stores },
    repo,
    offline: await p.offline(),
    deadLetters: p.deadLetters,
    serving: p.serving(),
    configs,
    ...(own.load ? { load: own.load } : {}),
  });

beforeAll(async () => {
  p = await platform(repo);
  m = await monitoringOver();
  const model = logistic([...FEATURES], W, -0.5, { output: 'probability' });
  const sig = {
    ...model.signature,
    outputs: [{ name: 'probability', meaning: 'probability of class 1', contract: { range: { min: 0, max: 1 } } }],
  };
  version = (await p.serving().register('risk', { artifact: model.artifact, signature: sig, alias: 'production' }))
    .version.version;
  // The baseline, by training's builder over 5,000 training rows and the model's predictions on them.
  const train = draw(5_000, 1);
  const x = Float32Array.from(train.flat());
  const coin = new Random(2);
  const y = Float64Array.from(train.map((r) => (coin.next() < score(r) ? 1 : 0)));
  const baseline = await computeBaseline(
    denseSource(denseData([...FEATURES], x, y)),
    Float64Array.from(train.map(score)),
    { sampleRows: 2_000, categorical: ['v:c', 'label'], seed: 3 },
  );
  await m.baselines.put('risk', version, baseline);
}, 120_000);

describe('closing windows', () => {
  it('drift in the window after an injected shift, none before, insufficient data on 20 rows; quality and contracts per window', async () => {
    const handScores = [0.9, 0.8, 0.3, 0.6];
    await ingest(p, 'predictions', records(draw(2_000, 10), T0, version, 'w0', handScores), T0 + H);
    // Records as logged before they carried `predictionNumber`, `viewAgeMs` (an age per feature read) and
    // `sampleKey`: window 2's, and window 1's contract breaker, so that window mixes both layouts in one segment.
    const legacy = ({ predictionNumber: _n, viewAgeMs: _a, sampleKey: _k, ...r }: PredictionRecord, i: number) => ({
      ...r,
      featureAgeMs: i === 0 ? { 'v:c': 7_000 } : { 'v:x': 3_000, 'v:c': 7_000 },
    });
    await ingest(
      p,
      'predictions',
      [
        ...records(draw(2_000, 11, { shift: 0.5, newCategory: 0.1 }), T0 + H, version, 'w1'),
        legacy(
          { ...records(draw(1, 12), T0 + H, version, 'bad')[0]!, prediction: 1.5, outputs: { probability: 1.5 } },
          1,
        ),
      ],
      T0 + 2 * H,
    );
    await ingest(p, 'predictions', records(draw(20, 13), T0 + 2 * H, version, 'w2').map(legacy), T0 + 3 * H);
    // Labels for four predictions of window 0 (within the 1-hour horizon), one too late and one from before its prediction.
    await ingest(
      p,
      'risk_labels',
      [
        ...[1, 0, 0, 1].map((outcome, i) => ({
          label_id: `l${i}`,
          user_id: `w0-u${i}`,
          outcome,
          ts: T0 + 1000 + i * 10 + 30 * 60_000,
        })),
        { label_id: 'l4', user_id: 'w0-u4', outcome: 1, ts: T0 + 1000 + 40 + 2 * H },
        { label_id: 'l5', user_id: 'w0-u5', outcome: 1, ts: T0 + 1000 + 50 - 1 },
        // Window 1: 300 labels, 90% positive (training's labels are Bernoulli(score), under half positive): label drift.
        ...Array.from({ length: 300 }, (_, i) => ({
          label_id: `w1-l${i}`,
          user_id: `w1-u${i}`,
          outcome: i % 10 === 0 ? 0 : 1,
          ts: T0 + H + 1000 + i * 10 + 60_000,
        })),
      ],
      T0 + 3 * H,
    );

    // The prediction log's features and ages are typed Parquet columns, one per key (no JSON to parse per window).
    const { files } = await (await p.offline()).localFiles('src.predictions', { from: T0, to: NOW });
    const stored = await withConnection(async (c) =>
      (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(files[0]!)})`))
        .getRowObjects()
        .map((r) => `${String(r.column_name)} ${String(r.column_type)}`),
    );
    expect(stored).toEqual(
      expect.arrayContaining(['features.v:x DOUBLE', 'features.v:c DOUBLE', 'viewAgeMs.v DOUBLE']),
    );

    const retrain = new RecordingRetrain();
    const report = await m.monitor.run({ now: NOW, retrain, windowsOnly: true, ignoreLoad: true });
    expect(report.windows.map((w) => [w.start, w.outcome, w.rows])).toEqual([
      [iso(T0), 'computed', 2_000],
      [iso(T0 + H), 'computed', 2_001],
      [iso(T0 + 2 * H), 'computed', 20],
    ]);
    const [w0, w1, w2] = await m.results.listWindows('risk', { from: T0, to: NOW });
    const verdicts = (w: typeof w0) =>
      Object.fromEntries(w!.drift!.features.map((f) => [f.feature, [f.status, f.method]]));
    expect(verdicts(w0)).toEqual({ 'v:x': ['no_drift', 'wasserstein'], 'v:c': ['no_drift', 'jensen_shannon'] });
    expect(verdicts(w1)).toEqual({ 'v:x': ['drift', 'wasserstein'], 'v:c': ['drift', 'jensen_shannon'] });
    expect(w1!.drift!.features[0]!.score!).toBeGreaterThan(0.4);
    expect(w1!.drift!.dataset.status).toBe('drift');
    expect(w2!.drift!.features.every((f) => f.status === 'insufficient_data')).toBe(true);
    expect(w2!.drift!.dataset.status).toBe('insufficient_data');
    expect(w2!.quality!.freshness).toEqual({
      'v:x': { count: 19, p50Ms: 3_000, p95Ms: 3_000, maxMs: 3_000 },
      'v:c': { count: 20, p50Ms: 7_000, p95Ms: 7_000, maxMs: 7_000 },
    });
    expect(w2!.contracts!.probability).toMatchObject({ checked: 20, violating: 0 });
    // Its predictions have no `predictionNumber`: the score still reads every one of them (from `prediction`).
    expect((w2!.histograms!.prediction as { window: number[] }).window.reduce((a, b) => a + b, 0)).toBe(20);

    // Quality: the new category is 10% unknown; every 50th prediction defaulted v:x; one prediction broke the [0, 1] contract.
    const c1 = w1!.quality!.features.find((q) => q.feature === 'v:c')!;
    expect(c1.unknownCategories!.share).toBeCloseTo(0.1, 1);
    expect(c1.unknownCategories!.top[0]!.value).toBe('3');
    expect(w0!.quality!.defaultedShare).toEqual({ 'v:x': 40 / 2_000 });
    // Freshness: v:x did not use the record of the predictions that defaulted it, so its ages are
    // 1..49 and 51..99 s, 20 each (1,960 values: p50 about 50 s, p95 about 94 s, max 99 s); v:c used
    // every record, the 120 s old ones too (a window no larger than the sample: exact quantiles).
    const fx = w0!.quality!.freshness['v:x']!;
    expect(fx.count).toBe(1_960);
    expect(fx.maxMs).toBe(99_000);
    expect(Math.abs(fx.p50Ms - 50_000)).toBeLessThanOrEqual(1_500);
    expect(Math.abs(fx.p95Ms - 94_000)).toBeLessThanOrEqual(1_500);
    const fc = w0!.quality!.freshness['v:c']!;
    expect(fc).toMatchObject({ count: 2_000, maxMs: 120_000 });
    expect(fc.p50Ms).toBeCloseTo(51_500, 6);
    expect(fc.p95Ms).toBeCloseTo(96_050, 6);
    expect(w0!.contracts).toEqual({
      probability: {
        checked: 2_000,
        violating: 0,
        violations: { shape: 0, not_finite: 0, range: 0, class: 0, sum: 0 },
      },
    });
    expect(w1!.contracts!.probability).toMatchObject({ checked: 2_001, violating: 1, violations: { range: 1 } });
    // The breaker has no `predictionNumber`: its score is read from `prediction` beside the others' typed one.
    expect((w1!.histograms!.prediction as { window: number[] }).window.reduce((a, b) => a + b, 0)).toBe(2_001);
    expect(w1!.histograms!['v:c']!.categories).toEqual(['0', '1', '2', '(other)']);

    // Realized on the four labelled predictions, by hand: positives 0.9, 0.6; negatives 0.8, 0.3.
    const realized = w0!.performance!.find((x) => x.kind === 'realized')!;
    expect(realized).toMatchObject({ labelled: 4, predictions: 2_000, labelledShare: 4 / 2_000 });
    expect(realized.metrics.auc).toBeCloseTo(3 / 4, 12);
    expect(realized.metrics.accuracy).toBeCloseTo(3 / 4, 12);
    expect(realized.metrics.brier).toBeCloseTo((0.01 + 0.64 + 0.09 + 0.16) / 4, 12);
    expect(realized.metrics.logLoss).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.2) + Math.log(0.7) + Math.log(0.6)) / 4,
      12,
    );
    const estimated = w0!.performance!.find((x) => x.kind === 'estimated')!;
    expect(estimated.labelled).toBe(2_000);

    // Label drift: window 0's four labels are too few; window 1's 300 labels (270 positive) are judged by chi-square.
    expect(w0!.drift!.label).toMatchObject({ feature: 'label', count: 4, status: 'insufficient_data' });
    const label1 = w1!.drift!.label!;
    expect(label1).toMatchObject({ feature: 'label', kind: 'categorical', count: 300, status: 'drift' });
    expect(label1.method).toBe('chi_square');
    expect(label1.score!).toBeLessThan(1e-6);
    expect(w1!.histograms!.label).toMatchObject({ categories: ['0', '1', '(other)'], window: [30, 270, 0] });
    expect(w2!.drift!.label).toMatchObject({ count: 0, status: 'insufficient_data' });

    // The retrain rule on v:x drift: window 1 opened it once, with one job for (risk, window 1).
    expect(retrain.calls.map((c) => c.window.start)).toEqual([iso(T0 + H)]);
    const open = await m.alerts.list('open');
    expect(open.map((a) => [a.ruleId, a.subject])).toEqual(
      expect.arrayContaining([
        ['risk-x-drift', `risk/v${version}/v:x`],
        ['dataset-drift', `risk/v${version}`],
        ['risk-label-drift', `risk/v${version}/label`],
      ]),
    );

    // Gauges from the store: the newest window (window 2, 20 rows: no drift verdicts, quality yes).
    const text = await m.metrics.registry.metrics();
    expect(text).toMatch(
      new RegExp(`strata_data_quality_null_rate\\{model="risk",version="${version}",feature="v:x"\\} 0`),
    );
    expect(text).toMatch(
      new RegExp(
        `strata_data_quality_feature_age_seconds\\{model="risk",version="${version}",feature="v:c",quantile="1"\\} 7\n`,
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `strata_model_performance\\{model="risk",version="${version}",kind="estimated",metric="auc"\\} 0\\.\\d+`,
      ),
    );
  }, 120_000);

  it('a second run recomputes nothing; a late batch recomputes only its window; the alert resolves when the metric is back', async () => {
    const again = await m.monitor.run({ now: NOW, windowsOnly: true, ignoreLoad: true });
    expect(again.windows.map((w) => w.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    // 18,000 late same-distribution predictions for window 1: diluted to a 0.05 sigma shift, it no longer drifts in v:x.
    await ingest(p, 'predictions', records(draw(18_000, 14), T0 + H, version, 'late'), NOW - 60_000);
    const retrain = new RecordingRetrain();
    // Two runs at once (the timer and the admin route) take turns: the window is computed again once.
    const [late, alongside] = await Promise.all(
      [1, 2].map(() => m.monitor.run({ now: NOW, windowsOnly: true, retrain, ignoreLoad: true })),
    );
    expect(late!.windows.map((w) => w.outcome)).toEqual(['unchanged', 'recomputed', 'unchanged']);
    expect(alongside!.windows.map((w) => w.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    const w1 = (await m.results.getWindow({ model: 'risk', version, start: T0 + H }))!;
    expect(w1.rows).toBe(20_001);
    expect(w1.drift!.features.find((f) => f.feature === 'v:x')!.status).toBe('no_drift');
    expect(retrain.calls).toEqual([]); // a recompute never starts a second job
    const xAlert = (await m.alerts.list()).find((a) => a.ruleId === 'risk-x-drift')!;
    expect(xAlert).toMatchObject({ status: 'resolved', delivered: true });
  }, 120_000);

  it('a busy host defers the window and records it; the next quiet run computes it', async () => {
    await ingest(p, 'predictions', records(draw(300, 15), T0 + 3 * H, version, 'w3'), NOW);
    const busy = new HostLoadGuard({ maxEventLoopDelayMs: 10_000, maxPredictPerSecond: 1, predictRate: () => 50 });
    const underLoad = await monitoringOver({ load: busy });
    const later = NOW + H;
    const r = await underLoad.monitor.run({ now: later, windowsOnly: true });
    expect(r.deferred).toBe('predict load 50/s > 1/s');
    expect(r.windows.find((w) => w.start === iso(T0 + 3 * H))).toMatchObject({ outcome: 'deferred' });
    expect(await m.results.getWindow({ model: 'risk', version, start: T0 + 3 * H })).toMatchObject({
      status: 'deferred',
      reason: 'predict load 50/s > 1/s',
    });
    const quiet = await m.monitor.run({ now: later, windowsOnly: true, ignoreLoad: true });
    expect(quiet.windows.find((w) => w.start === iso(T0 + 3 * H))).toMatchObject({ outcome: 'computed', rows: 300 });
  }, 120_000);

  it("a new window goes before recomputes, the newest recompute next; one past the run's share keeps its last result", async () => {
    const later = NOW + 2 * H;
    await ingest(p, 'predictions', records(draw(300, 16), T0 + 4 * H, version, 'w4'), later);
    await ingest(p, 'predictions', records(draw(50, 17), T0 + H, version, 'late-w1'), later);
    await ingest(p, 'predictions', records(draw(50, 18), T0 + 3 * H, version, 'late-w3'), later);
    const before = (await m.results.getWindow({ model: 'risk', version, start: T0 + H }))!;
    const outcomes = (r: { windows: Array<{ start: string; outcome: string }> }) =>
      Object.fromEntries(r.windows.map((w) => [w.start, w.outcome]));
    const first = await m.monitor.run({ now: later, windowsOnly: true, ignoreLoad: true, maxWindows: 2 });
    expect(outcomes(first)).toEqual({
      [iso(T0)]: 'unchanged',
      [iso(T0 + H)]: 'deferred',
      [iso(T0 + 2 * H)]: 'unchanged',
      [iso(T0 + 3 * H)]: 'recomputed',
      [iso(T0 + 4 * H)]: 'computed',
    });
    // The deferred recompute left the window as it was: its report, not a placeholder.
    expect(await m.results.getWindow({ model: 'risk', version, start: T0 + H })).toEqual(before);
    const next = await m.monitor.run({ now: later, windowsOnly: true, ignoreLoad: true, maxWindows: 2 });
    expect(next.windows.find((w) => w.start === iso(T0 + H))).toMatchObject({
      outcome: 'recomputed',
      rows: before.rows + 50,
    });
  }, 120_000);

  it('a compaction of the predictions and labels computes nothing again; a late batch after it does', async () => {
    const later = NOW + 2 * H;
    const offline = await p.offline();
    const stored = async () => (await m.results.listWindows('risk', { version })).map((w) => [w.start, w.rows]);
    const rowsBefore = await stored();
    const merged = [
      ...(await compactView(offline, sourceSegmentView('predictions'))),
      ...(await compactView(offline, sourceSegmentView('risk_labels'))),
    ];
    expect(merged.filter((r) => r.status === 'compacted').length).toBeGreaterThan(0);
    const run = () => m.monitor.run({ now: later, windowsOnly: true, ignoreLoad: true });
    const after = await run();
    // New segment ids, the same rows: every window keeps its result and takes the new fingerprint.
    expect(after.windows.map((w) => w.outcome)).toEqual(after.windows.map(() => 'unchanged'));
    expect(await stored()).toEqual(rowsBefore);
    expect((await run()).windows.map((w) => w.outcome)).toEqual(after.windows.map(() => 'unchanged'));
    await ingest(p, 'predictions', records(draw(40, 19), T0 + 2 * H, version, 'late-w2'), later);
    const late = await run();
    expect(late.windows.find((w) => w.start === iso(T0 + 2 * H))).toMatchObject({ outcome: 'recomputed' });
    expect(late.windows.filter((w) => w.outcome !== 'unchanged')).toHaveLength(1);
    // A late label a minute after w3-u1's prediction, within the horizon (1 h) of the windows at
    // 2 h and 3 h: the predictions are the same, so those two compute only what labels decide.
    const labelledBefore = await m.results.getWindow({ model: 'risk', version, start: T0 + 3 * H });
    await ingest(
      p,
      'risk_labels',
      [{ label_id: 'late-l', user_id: 'w3-u1', outcome: 1, ts: T0 + 3 * H + 1010 + 60_000 }],
      later,
    );
    const labelled = await run();
    expect(labelled.windows.filter((w) => w.outcome !== 'unchanged').map((w) => [w.start, w.outcome])).toEqual([
      [iso(T0 + 2 * H), 'relabelled'],
      [iso(T0 + 3 * H), 'relabelled'],
    ]);
    const realized = (r: WindowResult | undefined) => r?.performance?.find((x) => x.kind === 'realized');
    expect(realized(labelledBefore)).toMatchObject({ labelled: 0 });
    // The same windows fully computed on stores that never saw them: equal to the relabelled ones, every field.
    const full = await monitoringOver({
      stores: { results: new MemoryMonitoringResultStore(), alertStore: new MemoryAlertStore() },
    });
    await full.monitor.run({ now: later, windowsOnly: true, ignoreLoad: true });
    for (const start of [T0 + 2 * H, T0 + 3 * H]) {
      const relabelledWindow = await m.results.getWindow({ model: 'risk', version, start });
      expect(relabelledWindow).toEqual(await full.results.getWindow({ model: 'risk', version, start }));
    }
    expect(realized(await m.results.getWindow({ model: 'risk', version, start: T0 + 3 * H }))).toMatchObject({
      labelled: 1,
      labelledShare: 1 / 350,
    });
  }, 120_000);
  it('windows whose labels alone changed go after changed predictions, the least recently computed first', async () => {
    const label = (id: string, user: string, ts: number) => ({ label_id: id, user_id: user, outcome: 0, ts });
    const runAt = async (minutes: number) => {
      const r = await m.monitor.run({
        now: NOW + 2 * H + minutes * 60_000,
        windowsOnly: true,
        ignoreLoad: true,
        maxWindows: 1,
      });
      return r.windows.filter((w) => w.outcome !== 'unchanged').map((w) => [w.start, w.outcome]);
    };
    const later = NOW + 2 * H;
    // A label within the horizon of the windows at 3 h and 4 h, and a late batch of window 1.
    await ingest(p, 'risk_labels', [label('late-l2', 'w4-u1', T0 + 4 * H + 1010 + 60_000)], later);
    await ingest(p, 'predictions', records(draw(10, 20), T0 + H, version, 'late-w1b'), later);
    // Newest first, the 4 h window took the run's share; the changed predictions go first now.
    expect(await runAt(1)).toEqual([
      [iso(T0 + H), 'recomputed'],
      [iso(T0 + 3 * H), 'deferred'],
      [iso(T0 + 4 * H), 'deferred'],
    ]);
    expect(await runAt(2)).toEqual([
      [iso(T0 + 3 * H), 'deferred'],
      [iso(T0 + 4 * H), 'relabelled'],
    ]);
    // Labels again for both: the 3 h window, computed longer ago, goes first (newest first would take 4 h again).
    await ingest(p, 'risk_labels', [label('late-l3', 'w4-u2', T0 + 4 * H + 1020 + 60_000)], later);
    expect(await runAt(3)).toEqual([
      [iso(T0 + 3 * H), 'relabelled'],
      [iso(T0 + 4 * H), 'deferred'],
    ]);
    expect(await runAt(4)).toEqual([[iso(T0 + 4 * H), 'relabelled']]);
    expect(await runAt(5)).toEqual([]);
  }, 120_000);
  it("a quiet load verdict holds for loadVerdictMs: one probe for a run's windows, or one before each", async () => {
    let checks = 0;
    const counting: LoadGuard = {
      check: async () => {
        checks++;
        return { busy: false, eventLoopDelayP99Ms: 0, predictPerSecond: 0 };
      },
    };
    const guarded = await monitoringOver({ load: counting });
    const later = NOW + 2 * H;
    const worked = (r: { windows: Array<{ outcome: string }> }) => r.windows.filter((w) => w.outcome !== 'unchanged');
    // Labels for the windows at 3 h and 4 h: two windows relabelled by each run.
    const labelBoth = (id: string, user: string) =>
      ingest(p, 'risk_labels', [{ label_id: id, user_id: user, outcome: 1, ts: T0 + 4 * H + 1030 + 60_000 }], later);
    await labelBoth('late-l4', 'w4-u3');
    const held = await guarded.monitor.run({ now: later + 10 * 60_000, windowsOnly: true, loadVerdictMs: 3_600_000 });
    expect(worked(held)).toHaveLength(2);
    expect(checks).toBe(1);
    checks = 0;
    await labelBoth('late-l5', 'w4-u4');
    const each = await guarded.monitor.run({ now: later + 11 * 60_000, windowsOnly: true, loadVerdictMs: 0 });
    expect(worked(each)).toHaveLength(2);
    expect(checks).toBe(2);
  }, 120_000);
});

describe('monitoring the store', () => {
  it('a day with 10x the usual nulls is an anomaly and opens a store alert; ordinary days do not', async () => {
    const offline = await p.offline();
    const view = repo.view('daily_readings');
    const today = Math.floor(NOW / DAY) * DAY;
    for (let d = 12; d >= 2; d--) {
      const day = today - d * DAY;
      const nullEvery = d === 2 ? 10 : 100; // the last complete day: 10% nulls instead of 1%
      const rng = new Random(d);
      const rows = Array.from({ length: 400 }, (_, i) => ({
        entityId: `m${i}`,
        eventTs: day + i * 1000,
        createdTs: day + i * 1000 + 5,
        values: { value_mean: i % nullEvery === 0 ? null : 10 + rng.normal() },
      }));
      await offline.writeRows(
        {
          view: view.name,
          version: view.version,
          columns: view.columns,
          lineage: { input: { kind: 'job', key: `readings-${d}` } },
        },
        rows,
      );
    }
    const r = await m.monitor.run({ now: NOW, ignoreLoad: true });
    const statuses = r.summaries.filter((s) => s.view === 'daily_readings').map((s) => s.status);
    expect(statuses.slice(0, 7)).toEqual(Array(7).fill('insufficient_history'));
    expect(statuses.slice(7, 10)).toEqual(['normal', 'normal', 'normal']);
    expect(statuses[10]).toBe('anomaly');
    const summaries = await m.summaries.list('daily_readings');
    expect(summaries.at(-1)!.summary.features.value_mean!.nullRate).toBeCloseTo(40 / 400, 12);
    expect(summaries.at(-1)!.score.metrics[0]!.metric).toBe('value_mean.nullRate');
    const open = await m.alerts.list('open');
    expect(open.find((a) => a.ruleId === 'store-anomaly')).toMatchObject({
      subject: 'daily_readings',
      view: 'daily_readings',
      status: 'open',
    });
  }, 120_000);
});

const iso = (ms: number) => new Date(ms).toISOString();
