/**
 * Metrics computed from a store at scrape time (shared/telemetry/scrape-time.ts), on a real
 * prom-client registry: one read serves every metric of a scrape and the cache window, a failed
 * read answers the last numbers, and a series whose records are gone disappears.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ScrapeSnapshot, scrapedMetrics } from '../../shared/telemetry/scrape-time';

interface Job {
  model: string;
  seconds: number;
}

function jobsMetrics() {
  let clock = 1_000_000;
  let reads = 0;
  let next: Job[] | Error = [];
  const errors: string[] = [];
  const registry = new Registry();
  const snapshot = new ScrapeSnapshot<Job[]>(
    async () => {
      reads++;
      if (next instanceof Error) throw next;
      return next;
    },
    { cacheMs: 10_000, empty: [], now: () => clock, onError: (e) => errors.push((e as Error).message) },
  );
  const m = scrapedMetrics(registry, snapshot);
  m.counter({ name: 'jobs_total', help: 'jobs', labelNames: ['model'] }, (c, jobs) => {
    for (const j of jobs) c.inc({ model: j.model });
  });
  m.gauge({ name: 'jobs_newest_seconds', help: 'newest', labelNames: ['model'] }, (g, jobs) => {
    for (const j of jobs) g.set({ model: j.model }, j.seconds);
  });
  m.histogram({ name: 'jobs_seconds', help: 'durations', labelNames: ['model'], buckets: [10, 100] }, (h, jobs) => {
    for (const j of jobs) h.observe({ model: j.model }, j.seconds);
  });
  return {
    registry,
    errors,
    reads: () => reads,
    set: (v: Job[] | Error) => (next = v),
    advance: (ms: number) => (clock += ms),
    /** metric name -> label model -> value (the histogram: its count). */
    scrape: async () => {
      const out: Record<string, Record<string, number>> = {};
      for (const metric of await registry.getMetricsAsJSON()) {
        const byModel: Record<string, number> = {};
        for (const v of metric.values as Array<{ labels: Record<string, string>; value: number; metricName?: string }>)
          if (metric.name !== 'jobs_seconds' || v.metricName === 'jobs_seconds_count')
            byModel[v.labels.model!] = (byModel[v.labels.model!] ?? 0) + v.value;
        out[metric.name] = byModel;
      }
      return out;
    },
  };
}

describe('metrics read from a store at scrape time', () => {
  it('one read serves every metric of a scrape, and the scrapes within the cache window', async () => {
    const j = jobsMetrics();
    j.set([
      { model: 'churn', seconds: 5 },
      { model: 'churn', seconds: 50 },
      { model: 'ltv', seconds: 500 },
    ]);
    expect(await j.scrape()).toEqual({
      jobs_total: { churn: 2, ltv: 1 },
      jobs_newest_seconds: { churn: 50, ltv: 500 },
      jobs_seconds: { churn: 2, ltv: 1 },
    });
    expect(j.reads()).toBe(1);
    j.set([{ model: 'churn', seconds: 5 }]);
    j.advance(9_999);
    expect((await j.scrape()).jobs_total).toEqual({ churn: 2, ltv: 1 });
    expect(j.reads()).toBe(1);
    j.advance(1);
    // Past the window: read again, and the series of the records that are gone disappear.
    expect(await j.scrape()).toEqual({
      jobs_total: { churn: 1 },
      jobs_newest_seconds: { churn: 5 },
      jobs_seconds: { churn: 1 },
    });
    expect(j.reads()).toBe(2);
  });

  it('a failed read answers the last numbers (none before the first) and is told', async () => {
    const j = jobsMetrics();
    j.set(new Error('storage down'));
    expect((await j.scrape()).jobs_total).toEqual({});
    j.set([{ model: 'churn', seconds: 5 }]);
    expect((await j.scrape()).jobs_total).toEqual({ churn: 1 });
    j.advance(10_000);
    j.set(new Error('storage down again'));
    expect((await j.scrape()).jobs_total).toEqual({ churn: 1 });
    expect(j.errors).toEqual(['storage down', 'storage down again']);
  });
});
