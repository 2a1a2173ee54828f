import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainingRunner, type RunnerProgress } from '../../shared/training/runner';
import { runFit, type FitJob } from '../../shared/training/fit';
import { ValidationError } from '../../shared/errors';
import { inline, xorSet } from '../helpers/training-fixtures';

const set = xorSet(8_000, 4, 8);
const big = xorSet(60_000, 4, 8);
const job = (params: unknown = { trees: 5, maxDepth: 4 }, extra: Partial<FitJob> = {}): FitJob => ({
  trainer: 'gbdt',
  task: 'binary',
  seed: 1,
  params,
  train: inline(set),
  baseline: false,
  ...extra,
});
const runners: TrainingRunner[] = [];
const runner = (o: ConstructorParameters<typeof TrainingRunner>[0] = {}) => {
  const r = new TrainingRunner(o);
  runners.push(r);
  return r;
};
afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
});

/** Run jobs; as each starts, note the runner's status (the starting fit included). */
async function starts(r: TrainingRunner, jobs: Array<{ name: string; job: FitJob; tags?: string[] }>) {
  const log: Array<{ name: string; threads: number; running: number; heavyRunning: number }> = [];
  await Promise.all(
    jobs.map(({ name, job: j, tags }) =>
      r.run(j, {
        tags,
        onProgress: (p: RunnerProgress) =>
          p.phase === 'started' && log.push({ name, threads: p.threads, ...r.status() }),
      }),
    ),
  );
  return log;
}

/** The longest gap between ticks of a 10 ms timer while `work` runs (the event loop's worst delay). */
async function maxLoopDelay(work: () => Promise<unknown>): Promise<{ maxMs: number; ms: number }> {
  let last = performance.now();
  let maxMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxMs = Math.max(maxMs, now - last);
    last = now;
  }, 10);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 30));
  clearInterval(timer);
  return { maxMs, ms };
}

describe('the training runner', () => {
  it('fits in a worker thread (with its own histogram helper thread) exactly what the fit gives in-process', async () => {
    const both = job({ trees: 10, maxDepth: 5 }, { train: inline(big), baseline: {}, threads: 2 });
    const out = await runner({ maxThreadsPerFit: 2 }).run(both);
    const here = await runFit(both);
    expect(Buffer.from(out.onnx).equals(Buffer.from(here.onnx))).toBe(true);
    expect(out.metrics.train).toEqual(here.metrics.train);
    expect(out.baseline).toEqual(here.baseline);
    // CPU time of the fit's own threads (Linux): some, and never more than two threads' worth of its time.
    expect(out.cpuMs).toBeGreaterThan(0);
    expect(out.cpuMs!).toBeLessThanOrEqual(2 * out.timings.totalMs + 50);
  });

  it('keeps the event loop answering while a fit runs (in-process the same fit blocks it)', async () => {
    const inWorker = await maxLoopDelay(() => runner().run(job({ trees: 40, maxDepth: 6 }, { train: inline(big) })));
    // The instrument works: a smaller fit on this thread blocks the loop for most of its time.
    const onThread = await maxLoopDelay(() => runFit(job({ trees: 8, maxDepth: 6 }, { train: inline(big) })));
    expect(onThread.maxMs).toBeGreaterThan(onThread.ms * 0.5);
    expect(inWorker.ms).toBeGreaterThan(500);
    expect(inWorker.maxMs).toBeLessThan(inWorker.ms / 4);
  });

  it('runs one fit at a time by default: each starts only after the previous one ended', async () => {
    const log = await starts(
      runner(),
      ['a', 'b', 'c'].map((name) => ({ name, job: job() })),
    );
    expect(log.map((l) => [l.name, l.running])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
  });

  it('holds heavy fits to their own limit and one thread, without holding up other fits', async () => {
    const r = runner({ maxConcurrent: 2, maxHeavyConcurrent: 1, maxThreadsPerFit: 2 });
    const log = await starts(r, [
      { name: 'heavy1', job: job(undefined, { threads: 2 }), tags: ['heavy'] },
      { name: 'heavy2', job: job(undefined, { threads: 2 }), tags: ['heavy'] },
      { name: 'normal', job: job(undefined, { threads: 2 }) },
    ]);
    // normal starts beside heavy1 (heavy2 waits for heavy1's slot, and does not hold normal up);
    // heavy2 starts when heavy1 has ended; heavy fits get one thread whatever they ask for.
    expect(log).toEqual([
      { name: 'heavy1', threads: 1, running: 1, heavyRunning: 1, queued: 0 },
      { name: 'normal', threads: 2, running: 2, heavyRunning: 1, queued: 1 },
      { name: 'heavy2', threads: 1, running: expect.any(Number), heavyRunning: 1, queued: 0 },
    ]);
  });

  it('reports progress: queued, started, loading, trees built out of the total, evaluating', async () => {
    const r = runner();
    const seen: RunnerProgress[] = [];
    const first = r.run(job({ trees: 30 }));
    await r.run(job({ trees: 30 }), { onProgress: (p) => seen.push(p) });
    await first;
    const phases = [...new Set(seen.map((p) => p.phase))];
    expect(phases).toEqual(['queued', 'started', 'loading', 'fitting', 'evaluating']);
    const trees = seen.filter((p) => p.phase === 'fitting') as Array<{ done: number; total: number; unit: string }>;
    expect(trees.at(-1)).toMatchObject({ done: 30, total: 30, unit: 'trees' });
  });

  it('passes a ValidationError from the worker on as a ValidationError naming the field', async () => {
    const err = await runner()
      .run(job({ trees: 0 }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details[0]!.where).toBe('params.trees');
  });

  it('cancels a running fit when its signal aborts, and the next queued fit then runs', async () => {
    const r = runner();
    const ac = new AbortController();
    const long = r.run(job({ trees: 5_000, maxDepth: 6 }, { train: inline(big) }), {
      signal: ac.signal,
      onProgress: (p) => p.phase === 'fitting' && ac.abort(),
    });
    const next = r.run(job());
    await expect(long).rejects.toMatchObject({ name: 'AbortError' });
    expect((await next).onnx.byteLength).toBeGreaterThan(0);
    expect(r.status()).toEqual({ running: 0, heavyRunning: 0, queued: 0 });
  });

  it("runs a user's trainer from its module, and reports a trainer that fails or a worker that dies", async () => {
    const modules = [path.resolve(__dirname, '../fixtures/base-rate-trainer.ts')];
    const r = runner();
    const out = await r.run(job({}, { trainer: 'base-rate', trainerModules: modules }));
    const rate = set.y.reduce((s, v) => s + v, 0) / set.n;
    expect(out.summary.mean).toBeCloseTo(rate, 12);
    expect(out.trainer).toBe('base-rate');
    await expect(r.run(job({ failWith: 'error' }, { trainer: 'base-rate', trainerModules: modules }))).rejects.toThrow(
      'base-rate: asked to fail',
    );
    await expect(r.run(job({ failWith: 'exit' }, { trainer: 'base-rate', trainerModules: modules }))).rejects.toThrow(
      /exited with code 3/,
    );
    await expect(r.run(job({}, { trainer: 'nope' }))).rejects.toThrow(/unknown trainer "nope"/);
  });
});
