/**
 * Prometheus metrics read from a store when scraped, not counted in process memory (monitoring's
 * gauges, the training jobs'): the work they describe runs on whichever instance takes it, so
 * only the stored records give every instance the same store-wide numbers.
 *
 *   const snapshot = new ScrapeSnapshot(() => store.list(), { cacheMs: 10_000, empty: [] });
 *   const m = scrapedMetrics(registry, snapshot);
 *   m.gauge({ name, help, labelNames }, (g, records) => { ... g.set(...) });
 *
 * One read serves all the metrics of a scrape (cached for `cacheMs`, one read at a time); a
 * failed read answers the last snapshot (`empty` before the first), so a storage outage does not
 * fail the scrape's other metrics. Each metric is reset and filled from the snapshot at every
 * collect, so a series whose records are gone disappears.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ScrapeSnapshotOptions<T> {
  cacheMs: number;
  /** The answer before the first successful read. */
  empty: T;
  now?: () => number;
  /** Told of a failed read (the last snapshot is answered). */
  onError?: (e: unknown) => void;
}

export class ScrapeSnapshot<T> {
  private cached: { at: number; value: T } | undefined;
  private loading: Promise<T> | undefined;

  constructor(
    private readonly load: (now: number) => Promise<T>,
    private readonly o: ScrapeSnapshotOptions<T>,
  ) {}

  read(): Promise<T> {
    const now = (this.o.now ?? Date.now)();
    if (this.cached && now - this.cached.at < this.o.cacheMs) return Promise.resolve(this.cached.value);
    this.loading ??= this.load(now)
      .then(
        (value) => {
          this.cached = { at: now, value };
          return value;
        },
        (e: unknown) => {
          this.o.onError?.(e);
          return this.cached?.value ?? this.o.empty;
        },
      )
      .finally(() => (this.loading = undefined));
    return this.loading;
  }
}

interface Declared<L extends string> {
  name: string;
  help: string;
  labelNames: L[];
}

/** Declare metrics on `registry` that are computed from `snapshot` at each scrape. */
export function scrapedMetrics<T>(registry: Registry, snapshot: ScrapeSnapshot<T>) {
  const registers = [registry];
  const collect = <M extends { reset(): void }>(fill: (m: M, s: T) => void) =>
    async function (this: M) {
      const s = await snapshot.read();
      this.reset();
      fill(this, s);
    };
  return {
    counter: <L extends string>(d: Declared<L>, fill: (c: Counter<L>, s: T) => void) =>
      new Counter<L>({ ...d, registers, collect: collect(fill) }),
    gauge: <L extends string>(d: Declared<L>, fill: (g: Gauge<L>, s: T) => void) =>
      new Gauge<L>({ ...d, registers, collect: collect(fill) }),
    histogram: <L extends string>(d: Declared<L> & { buckets: number[] }, fill: (h: Histogram<L>, s: T) => void) =>
      new Histogram<L>({ ...d, registers, collect: collect(fill) }),
  };
}
