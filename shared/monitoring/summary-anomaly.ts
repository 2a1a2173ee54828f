/**
 * Monitoring the store itself: each day partition of a view gets a summary (rows, and per
 * feature the null rate, mean and quantiles), and a new summary is scored against the
 * previous N with a robust z-score, so one bad day in the history does not hide the next:
 *
 *   z = (x - median) / (1.4826 · MAD)        (Iglewicz & Hoaglin's modified z, scaled so that
 *                                             it reads like a normal z-score)
 *
 * A metric whose history never moves has MAD 0, and any change would be infinitely
 * surprising; the scale is floored at `relativeFloor`·|median| and at `absoluteFloor` (for
 * rates: a null rate going from 0 to 0.001 is not an incident). A summary is an anomaly when
 * any metric's |z| reaches `threshold` (3.5, Iglewicz & Hoaglin's cut-off).
 */
import { z } from 'zod';

/** One partition's summary. Quantile keys are free-form ("p50", "p95"); they are compared key by key. */
export interface PartitionSummary {
  rows: number;
  features: Record<string, { nullRate: number; mean?: number | null; quantiles?: Record<string, number> }>;
}

export const AnomalyPolicySchema = z
  .object({
    /** Fewer previous summaries than this: insufficient history (no verdict). */
    minHistory: z.number().int().min(3).default(7),
    /** Only the newest this many previous summaries count. */
    maxHistory: z.number().int().positive().default(28),
    threshold: z.number().positive().default(3.5),
    /** Scale floor relative to |median| (5%). */
    relativeFloor: z.number().nonnegative().default(0.05),
    /** Scale floor for rates (null rate), absolute. */
    rateFloor: z.number().nonnegative().default(0.01),
  })
  .strict();
export type AnomalyPolicy = z.output<typeof AnomalyPolicySchema>;
export const DEFAULT_ANOMALY_POLICY: AnomalyPolicy = AnomalyPolicySchema.parse({});

export interface MetricScore {
  /** `rows`, or `<feature>.nullRate`, `<feature>.mean`, `<feature>.<quantile>`. */
  metric: string;
  value: number;
  median: number;
  scale: number;
  z: number;
  anomaly: boolean;
}

export interface SummaryScore {
  status: 'anomaly' | 'normal' | 'insufficient_history';
  /** Previous summaries used. */
  history: number;
  /** The largest |z| (0 without history). */
  score: number;
  /** Every metric scored, the most surprising first. */
  metrics: MetricScore[];
}

/** Score `current` against `previous` (oldest first; only the newest `maxHistory` are used). */
export function scoreSummary(
  current: PartitionSummary,
  previous: readonly PartitionSummary[],
  policy: AnomalyPolicy = DEFAULT_ANOMALY_POLICY,
): SummaryScore {
  const history = previous.slice(-policy.maxHistory);
  if (history.length < policy.minHistory)
    return { status: 'insufficient_history', history: history.length, score: 0, metrics: [] };
  const past = history.map(flatten);
  const metrics: MetricScore[] = [];
  for (const [metric, value] of flatten(current)) {
    const values = past.map((p) => p.get(metric)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (values.length < policy.minHistory || !Number.isFinite(value)) continue;
    const median = medianOf(values);
    const mad = medianOf(values.map((v) => Math.abs(v - median)));
    const floor = Math.max(
      policy.relativeFloor * Math.abs(median),
      metric.endsWith('.nullRate') ? policy.rateFloor : 0,
      Number.EPSILON,
    );
    const scale = Math.max(1.4826 * mad, floor);
    const zScore = (value - median) / scale;
    metrics.push({ metric, value, median, scale, z: zScore, anomaly: Math.abs(zScore) >= policy.threshold });
  }
  metrics.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
  const score = metrics.length ? Math.abs(metrics[0]!.z) : 0;
  return { status: metrics.some((m) => m.anomaly) ? 'anomaly' : 'normal', history: history.length, score, metrics };
}

function flatten(s: PartitionSummary): Map<string, number> {
  const out = new Map<string, number>([['rows', s.rows]]);
  for (const [name, f] of Object.entries(s.features)) {
    out.set(`${name}.nullRate`, f.nullRate);
    if (f.mean !== undefined && f.mean !== null) out.set(`${name}.mean`, f.mean);
    for (const [q, v] of Object.entries(f.quantiles ?? {})) out.set(`${name}.${q}`, v);
  }
  return out;
}

function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
