/**
 * Serving metrics per model and version. Two views of the same observations:
 * - Prometheus (prom-client, its own Registry): counters and a latency histogram with
 *   FIXED buckets, so histograms from many instances add up bucket by bucket.
 * - A recent window in-process (a ring of time slots of the same bucket counts) for
 *   `GET /api/models/{model}/stats`: p50/p95/p99 and each version's share of traffic.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** Upper bounds of the latency buckets in ms (the +Inf bucket follows). Never change them in place: it breaks merging. */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000,
]);

export interface Observation {
  latencyMs: number;
  /** Entities predicted by this request on this version. */
  predictions: number;
  shadow: boolean;
}

export interface VersionStats {
  version: number;
  shadow: boolean;
  requests: number;
  predictions: number;
  errors: number;
  /** Share of the model's live (non-shadow) predictions in the window, 0..1; shadows: 0. */
  share: number;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

export interface ModelStats {
  model: string;
  windowSeconds: number;
  requests: number;
  predictions: number;
  errors: number;
  versions: VersionStats[];
}

export interface MetricsOptions {
  /** The longest window stats can cover (default 5 min). */
  windowMs?: number;
  /** Width of one ring slot (default 10 s). */
  slotMs?: number;
  now?: () => number;
}

interface Series {
  model: string;
  version: number;
  shadow: boolean;
  requests: number;
  predictions: number;
  errors: number;
  buckets: Uint32Array; // LATENCY_BUCKETS_MS.length + 1 (+Inf)
}

interface Slot {
  start: number;
  series: Map<string, Series>;
}

export class ServingMetrics {
  /** Served by `GET /api/metrics` (`await registry.metrics()`, content type `registry.contentType`). */
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'shadow'>;
  private readonly predictions: Counter<'model' | 'version' | 'shadow'>;
  private readonly errors: Counter<'model' | 'version' | 'shadow' | 'status'>;
  private readonly latency: Histogram<'model' | 'version' | 'shadow'>;
  private readonly slots: Slot[];
  private readonly slotMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(opts: MetricsOptions = {}) {
    this.windowMs = opts.windowMs ?? 5 * 60_000;
    this.slotMs = opts.slotMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.slots = Array.from({ length: Math.ceil(this.windowMs / this.slotMs) + 1 }, () => ({
      start: -1,
      series: new Map(),
    }));
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'strata_predict_requests_total',
      help: 'Predict requests served, per model version',
      labelNames: ['model', 'version', 'shadow'],
      registers,
    });
    this.predictions = new Counter({
      name: 'strata_predictions_total',
      help: 'Entities predicted, per model version',
      labelNames: ['model', 'version', 'shadow'],
      registers,
    });
    // Same labels as the request counter (plus status), so errors / requests divides label by label.
    this.errors = new Counter({
      name: 'strata_predict_errors_total',
      help: 'Predict requests that failed, per model version and HTTP status',
      labelNames: ['model', 'version', 'shadow', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'strata_predict_duration_seconds',
      help: 'Predict latency per model version (fixed buckets: merge across instances by summing)',
      labelNames: ['model', 'version', 'shadow'],
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
      registers,
    });
  }

  observe(model: string, version: number, o: Observation): void {
    const labels = { model, version: String(version), shadow: String(o.shadow) };
    this.requests.inc(labels);
    this.predictions.inc(labels, o.predictions);
    this.latency.observe(labels, o.latencyMs / 1000);
    const s = this.series(model, version, o.shadow);
    s.requests++;
    s.predictions += o.predictions;
    s.buckets[bucketIndex(o.latencyMs)]!++;
  }

  /** A failed request; version 0 when it failed before a version was chosen. */
  error(model: string, version: number, status: number, shadow = false): void {
    this.errors.inc({ model, version: String(version), shadow: String(shadow), status: String(status) });
    this.series(model, version, shadow).errors++;
  }

  /** Live predict requests per second over the last `spanMs`, every model (what monitoring's load guard reads). */
  requestRate(spanMs = 60_000): number {
    const span = Math.min(spanMs, this.windowMs);
    const since = this.now() - span;
    let n = 0;
    for (const slot of this.slots) {
      if (slot.start < 0 || slot.start + this.slotMs <= since) continue;
      for (const s of slot.series.values()) if (!s.shadow) n += s.requests;
    }
    return n / (span / 1000);
  }

  /** Per version over the last `windowMs` (at most the configured window). */
  stats(model: string, windowMs = this.windowMs): ModelStats {
    const span = Math.min(windowMs, this.windowMs);
    const since = this.now() - span;
    const merged = new Map<string, Series>();
    for (const slot of this.slots) {
      if (slot.start < 0 || slot.start + this.slotMs <= since) continue;
      for (const [k, s] of slot.series) {
        if (s.model !== model) continue;
        let m = merged.get(k);
        if (!m)
          merged.set(
            k,
            (m = { ...s, requests: 0, predictions: 0, errors: 0, buckets: new Uint32Array(s.buckets.length) }),
          );
        m.requests += s.requests;
        m.predictions += s.predictions;
        m.errors += s.errors;
        for (let i = 0; i < s.buckets.length; i++) m.buckets[i]! += s.buckets[i]!;
      }
    }
    const all = [...merged.values()];
    const live = all.filter((s) => !s.shadow).reduce((a, s) => a + s.predictions, 0);
    const versions = all
      .map((s) => ({
        version: s.version,
        shadow: s.shadow,
        requests: s.requests,
        predictions: s.predictions,
        errors: s.errors,
        share: !s.shadow && live > 0 ? s.predictions / live : 0,
        latencyMs: { p50: quantile(s.buckets, 0.5), p95: quantile(s.buckets, 0.95), p99: quantile(s.buckets, 0.99) },
      }))
      .sort((a, b) => Number(a.shadow) - Number(b.shadow) || a.version - b.version);
    const liveSeries = all.filter((s) => !s.shadow);
    return {
      model,
      windowSeconds: span / 1000,
      requests: liveSeries.reduce((a, s) => a + s.requests, 0),
      predictions: live,
      errors: liveSeries.reduce((a, s) => a + s.errors, 0),
      versions,
    };
  }

  private series(model: string, version: number, shadow: boolean): Series {
    const now = this.now();
    const start = now - (now % this.slotMs);
    const slot = this.slots[Math.floor(now / this.slotMs) % this.slots.length]!;
    if (slot.start !== start) {
      slot.start = start;
      slot.series.clear();
    }
    const k = `${model}\u0000${version}\u0000${shadow}`;
    let s = slot.series.get(k);
    if (!s) {
      slot.series.set(
        k,
        (s = {
          model,
          version,
          shadow,
          requests: 0,
          predictions: 0,
          errors: 0,
          buckets: new Uint32Array(LATENCY_BUCKETS_MS.length + 1),
        }),
      );
    }
    return s;
  }
}

function bucketIndex(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length; // index of +Inf
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_BUCKETS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile from bucket counts, interpolated linearly inside the bucket (as
 * Prometheus' histogram_quantile does); the +Inf bucket reports the last finite bound.
 */
export function quantile(buckets: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i]!;
    if (c > 0 && seen + c >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const upper = LATENCY_BUCKETS_MS[i]!;
      return lower + (upper - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}
