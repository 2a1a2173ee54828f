/**
 * Training-job metrics for GET /api/metrics, read from the run store at scrape time (cached
 * briefly), not counted in process memory: a job's steps run on whichever instance takes each
 * activity, activities are at-least-once, and a host may restart mid-job, so only the stored
 * runs know how many jobs started and how they ended. Every instance therefore answers a
 * scrape with the same store-wide numbers: aggregate them across instances with max (or scrape
 * one), not sum.
 *
 *   strata_training_jobs_started_total{model,trainer}            runs recorded (one per job id)
 *   strata_training_jobs_finished_total{model,trainer,outcome}   outcome = completed | failed
 *   strata_training_jobs_running{model,trainer}                  runs not finished yet
 *   strata_training_job_duration_seconds{model,trainer,outcome}  histogram of finished jobs, start to end
 *   strata_training_candidate_metric{model,trainer,version,metric}
 *                                                                the newest completed job's candidate
 *                                                                (its ONNX file scored on the holdout: what
 *                                                                the gate compared), one series per metric
 *
 * A failed job started again (same id) runs anew: it counts once, by its newest status, so a
 * failed count can step down when the retry completes (Prometheus reads that as a reset).
 */
import { Registry } from 'prom-client';
import { ScrapeSnapshot, scrapedMetrics } from '../telemetry/scrape-time';
import type { RunStore, TrainingRun } from './runs';

/** Upper bounds of the duration buckets in seconds (the +Inf bucket follows): fixed, so series from any scrape merge. */
export const JOB_DURATION_BUCKETS_S: readonly number[] = Object.freeze([
  5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400,
]);

const CACHE_MS = 10_000;
/** Fields of Metrics that count rows rather than measure the model. */
const COUNTS = new Set(['rows', 'positives']);

export interface TrainingJobMetricsDeps {
  runs: Pick<RunStore, 'list'>;
  now?: () => number;
}

const labelsOf = (r: TrainingRun) => ({ model: r.model, trainer: r.params.trainer });
const outcomeOf = (r: TrainingRun) =>
  r.status === 'COMPLETED' ? 'completed' : r.status === 'FAILED' ? 'failed' : undefined;

export class TrainingJobMetrics {
  readonly registry = new Registry();

  constructor(d: TrainingJobMetricsDeps) {
    // Every run, newest first.
    const runs = new ScrapeSnapshot<TrainingRun[]>(() => d.runs.list(), {
      cacheMs: CACHE_MS,
      empty: [],
      ...(d.now ? { now: d.now } : {}),
      onError: (e) => console.warn(`[metrics] training runs could not be read: ${(e as Error).message ?? String(e)}`),
    });
    const m = scrapedMetrics(this.registry, runs);
    m.counter(
      {
        name: 'strata_training_jobs_started_total',
        help: 'Training jobs started (runs recorded), per model and trainer',
        labelNames: ['model', 'trainer'],
      },
      (c, all) => {
        for (const r of all) c.inc(labelsOf(r));
      },
    );
    m.counter(
      {
        name: 'strata_training_jobs_finished_total',
        help: 'Training jobs finished, per model, trainer and outcome (completed, failed)',
        labelNames: ['model', 'trainer', 'outcome'],
      },
      (c, all) => {
        for (const r of all) {
          const outcome = outcomeOf(r);
          if (outcome) c.inc({ ...labelsOf(r), outcome });
        }
      },
    );
    m.gauge(
      {
        name: 'strata_training_jobs_running',
        help: 'Training jobs started and not finished, per model and trainer',
        labelNames: ['model', 'trainer'],
      },
      (g, all) => {
        for (const r of all) if (!outcomeOf(r)) g.inc(labelsOf(r));
      },
    );
    m.histogram(
      {
        name: 'strata_training_job_duration_seconds',
        help: 'Duration of finished training jobs, from start to end, in seconds',
        labelNames: ['model', 'trainer', 'outcome'],
        buckets: [...JOB_DURATION_BUCKETS_S],
      },
      (h, all) => {
        for (const r of all) {
          const outcome = outcomeOf(r);
          if (outcome && typeof r.durationMs === 'number') h.observe({ ...labelsOf(r), outcome }, r.durationMs / 1000);
        }
      },
    );
    m.gauge(
      {
        name: 'strata_training_candidate_metric',
        help: "The newest completed training job's candidate metrics on its holdout (what the gate compared), per model",
        labelNames: ['model', 'trainer', 'version', 'metric'],
      },
      (g, all) => {
        const newest = new Map<string, TrainingRun>();
        // Newest first: the first completed run with candidate metrics per model wins.
        for (const r of all)
          if (r.status === 'COMPLETED' && r.metrics?.candidate && !newest.has(r.model)) newest.set(r.model, r);
        for (const r of newest.values()) {
          for (const [metric, value] of Object.entries(r.metrics!.candidate!)) {
            if (typeof value !== 'number' || !Number.isFinite(value) || COUNTS.has(metric)) continue;
            g.set({ ...labelsOf(r), version: r.version !== undefined ? String(r.version) : '', metric }, value);
          }
        }
      },
    );
  }
}
