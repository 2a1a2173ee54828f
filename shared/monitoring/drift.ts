/**
 * Drift verdicts that account for sample size. A p-value answers "could this window come from
 * the baseline?", and with a million rows the answer is "no" for differences nobody cares
 * about; an effect size answers "how far apart are they?", and on 50 rows it is mostly noise.
 * So each feature's verdict is read from the statistic that is meaningful at its window's size:
 *
 *   non-null values < minCount          insufficient data (no verdict, never an alert)
 *   minCount .. smallWindowMax          significance: KS (numeric) / chi-square (categorical)
 *                                       p-value < alpha / m  (Bonferroni over the m features tested)
 *   > smallWindowMax                    effect size: Wasserstein / baseline std (numeric),
 *                                       Jensen–Shannon distance (categorical) >= threshold
 *
 * PSI on the baseline's bins is computed for every feature with enough data and reported
 * beside the verdict (it is the number most teams already watch), but does not decide it: its
 * noise on small windows is of the order of (bins - 1) / n, as large as its usual 0.1 band.
 * Dataset drift: the share of drifted features (of those with a verdict) is at least
 * `datasetDriftShare`. The prediction and the label are judged on their own (not in the
 * features' Bonferroni family and not in the dataset share). Defaults and why: README.md here.
 */
import { z } from 'zod';
import { categoryCounts, featureColumns, type Baseline, type ColumnBaseline } from './baseline';
import {
  chiSquareHomogeneity,
  jensenShannonDistance,
  ksTest,
  normalizedWasserstein,
  populationStabilityIndex,
  type ChiSquareResult,
  type KsResult,
} from './statistics';
import {
  presentCount,
  type CategoricalWindowAggregate,
  type NumericWindowAggregate,
  type WindowAggregates,
  type WindowFeatureAggregate,
} from './window';

export const DriftPolicySchema = z
  .object({
    /** Fewer non-null values than this: "insufficient data". */
    minCount: z.number().int().min(2).default(100),
    /** Up to this many non-null values a window is judged by significance; above it, by effect size. */
    smallWindowMax: z
      .number()
      .int()
      .positive()
      .max(10_000, 'smallWindowMax must be at most 10000: the KS p-value costs grow with the window')
      .default(1000),
    /** Family-wise significance level over the features of one window (Bonferroni). */
    alpha: z.number().gt(0).lt(1).default(0.05),
    /** Wasserstein distance in baseline standard deviations at which a large window has drifted. */
    wassersteinThreshold: z.number().positive().default(0.1),
    /** Jensen–Shannon distance (nats) at which a large window has drifted. */
    jensenShannonThreshold: z.number().positive().default(0.1),
    /** Share of drifted features at which the whole dataset has drifted. */
    datasetDriftShare: z.number().gt(0).max(1).default(0.5),
  })
  .strict();
export type DriftPolicy = z.output<typeof DriftPolicySchema>;
export const DEFAULT_DRIFT_POLICY: DriftPolicy = DriftPolicySchema.parse({});

export type DriftStatus = 'drift' | 'no_drift' | 'insufficient_data';
export type DriftMethod = 'ks' | 'chi_square' | 'wasserstein' | 'jensen_shannon';

export interface DriftStatistics {
  psi?: number;
  ks?: KsResult;
  chiSquare?: ChiSquareResult;
  /** In baseline standard deviations. */
  wasserstein?: number;
  jensenShannon?: number;
}

export interface FeatureDrift {
  feature: string;
  kind: 'numeric' | 'categorical';
  /** Non-null values in the window. */
  count: number;
  status: DriftStatus;
  /** The statistic the verdict was read from (absent when data is insufficient). */
  method?: DriftMethod;
  /** Its value: a p-value for ks / chi_square, a distance otherwise. */
  score?: number;
  /** What it was compared with: alpha / m for tests (drift when below), the distance threshold otherwise (drift when at or above). */
  threshold?: number;
  statistics: DriftStatistics;
}

export interface DatasetDrift {
  status: DriftStatus;
  /** Features with a verdict. */
  tested: number;
  drifted: number;
  share: number;
  threshold: number;
}

export interface DriftReport {
  rows: number;
  features: FeatureDrift[];
  prediction?: FeatureDrift;
  label?: FeatureDrift;
  dataset: DatasetDrift;
  /** The per-test level after Bonferroni (alpha / number of features judged by significance). */
  alphaPerFeature: number;
  policy: DriftPolicy;
}

/** Compare one window with the baseline: every feature, the prediction and (when given) the label. */
export function driftReport(
  baseline: Baseline,
  window: WindowAggregates,
  policy: DriftPolicy = DEFAULT_DRIFT_POLICY,
): DriftReport {
  const columns = featureColumns(baseline);
  const measured = Object.entries(window.features).map(([name, w]) => {
    const b = columns.get(name);
    if (!b)
      throw new RangeError(
        `window feature "${name}" is not in the baseline (its features: ${[...columns.keys()].join(', ')})`,
      );
    return measureDrift(name, b, w, policy);
  });
  const bySignificance = measured.filter((m) => m.regime === 'small').length;
  const alphaPerFeature = policy.alpha / Math.max(1, bySignificance);
  const features = measured.map((m) => decide(m, alphaPerFeature, policy));
  const judged = features.filter((f) => f.status !== 'insufficient_data');
  const drifted = judged.filter((f) => f.status === 'drift').length;
  const share = judged.length ? drifted / judged.length : 0;
  const report: DriftReport = {
    rows: window.rows,
    features,
    dataset: {
      status: judged.length === 0 ? 'insufficient_data' : share >= policy.datasetDriftShare ? 'drift' : 'no_drift',
      tested: judged.length,
      drifted,
      share,
      threshold: policy.datasetDriftShare,
    },
    alphaPerFeature,
    policy,
  };
  if (window.prediction) report.prediction = featureDrift('prediction', baseline.prediction, window.prediction, policy);
  if (window.label) {
    report.label = featureDrift('label', baseline.label, window.label, policy);
  }
  return report;
}

/** One feature judged on its own (significance at the full alpha). */
export function featureDrift(
  feature: string,
  baseline: ColumnBaseline,
  window: WindowFeatureAggregate,
  policy: DriftPolicy = DEFAULT_DRIFT_POLICY,
): FeatureDrift {
  return decide(measureDrift(feature, baseline, window, policy), policy.alpha, policy);
}

type Regime = 'insufficient' | 'small' | 'large';
interface Measured {
  feature: string;
  kind: 'numeric' | 'categorical';
  count: number;
  regime: Regime;
  statistics: DriftStatistics;
}

function measureDrift(
  feature: string,
  baseline: ColumnBaseline,
  window: WindowFeatureAggregate,
  policy: DriftPolicy,
): Measured {
  const kind = baseline.categorical ? 'categorical' : 'numeric';
  if (kind !== window.kind)
    throw new RangeError(
      `feature "${feature}": the baseline is ${kind} but the window was summarised as ${window.kind}`,
    );
  const count = presentCount(window);
  // A baseline without values (every training value missing) has nothing to compare with.
  const comparable =
    baseline.count > 0 && (baseline.categorical || (baseline.sample.length > 0 && baseline.std !== null));
  const regime: Regime =
    count < policy.minCount || !comparable ? 'insufficient' : count <= policy.smallWindowMax ? 'small' : 'large';
  const base = { feature, kind, count, regime } as const;
  if (regime === 'insufficient') return { ...base, statistics: {} };
  return {
    ...base,
    statistics:
      kind === 'numeric'
        ? numericStatistics(feature, baseline, window as NumericWindowAggregate, regime)
        : categoricalStatistics(baseline, window as CategoricalWindowAggregate, regime),
  };
}

function numericStatistics(
  feature: string,
  b: ColumnBaseline,
  w: NumericWindowAggregate,
  regime: Regime,
): DriftStatistics {
  if (w.binCounts.length !== b.counts.length)
    throw new RangeError(
      `feature "${feature}": the window has ${w.binCounts.length} bin counts but the baseline has ${b.counts.length} bins`,
    );
  if (w.sample.length === 0) throw new RangeError(`feature "${feature}": the window has values but an empty sample`);
  const stats: DriftStatistics = { psi: populationStabilityIndex(b.counts, w.binCounts) };
  if (regime === 'small') stats.ks = ksTest(w.sample, b.sample);
  else stats.wasserstein = normalizedWasserstein(w.sample, b.sample, b.std!);
  return stats;
}

function categoricalStatistics(b: ColumnBaseline, w: CategoricalWindowAggregate, regime: Regime): DriftStatistics {
  const { baseline, window } = categoryColumns(b, w);
  const stats: DriftStatistics = { psi: populationStabilityIndex(baseline, window) };
  if (regime === 'small') stats.chiSquare = chiSquareHomogeneity(baseline, window);
  else stats.jensenShannon = jensenShannonDistance(baseline, window);
  return stats;
}

/** The columns both sides count: each listed baseline category, then "everything else". */
export function categoryColumns(
  b: ColumnBaseline,
  w: CategoricalWindowAggregate,
): { names: string[]; baseline: number[]; window: number[] } {
  const listed = categoryCounts(b);
  const names = [...listed.keys()].sort();
  return {
    names: [...names, '(other)'],
    // Training lists every category of a categorical column: nothing of it is "other".
    baseline: [...names.map((k) => listed.get(k)!), 0],
    window: [...names.map((k) => w.counts[k] ?? 0), w.otherCount],
  };
}

function decide(m: Measured, alphaPerFeature: number, policy: DriftPolicy): FeatureDrift {
  const out: FeatureDrift = {
    feature: m.feature,
    kind: m.kind,
    count: m.count,
    status: 'insufficient_data',
    statistics: m.statistics,
  };
  const s = m.statistics;
  const verdict = (method: DriftMethod, score: number, threshold: number, drifted: boolean): FeatureDrift => ({
    ...out,
    method,
    score,
    threshold,
    status: drifted ? 'drift' : 'no_drift',
  });
  if (s.ks) return verdict('ks', s.ks.pValue, alphaPerFeature, s.ks.pValue < alphaPerFeature);
  if (s.chiSquare)
    return verdict('chi_square', s.chiSquare.pValue, alphaPerFeature, s.chiSquare.pValue < alphaPerFeature);
  if (s.wasserstein !== undefined)
    return verdict(
      'wasserstein',
      s.wasserstein,
      policy.wassersteinThreshold,
      s.wasserstein >= policy.wassersteinThreshold,
    );
  if (s.jensenShannon !== undefined)
    return verdict(
      'jensen_shannon',
      s.jensenShannon,
      policy.jensenShannonThreshold,
      s.jensenShannon >= policy.jensenShannonThreshold,
    );
  return out;
}
