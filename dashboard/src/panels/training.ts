/**
 * Jobs page, training: train jobs of the last 7 days with their status, current step and fit
 * progress (trees built / total), the holdout metric and the gate's decision, polled every 2 s
 * (GET /api/jobs?kind=train); and a comparison of two runs (GET /api/runs/compare): params and
 * metrics side by side, differences marked, with both runs' loss curves per iteration (uPlot).
 * The two runs default to the newest two finished ones; the selects change them.
 */
import { definePanel } from '../registry';
import { badge, empty, fmtNumber, fmtTime, h, progress, table } from '../dom';
import { lineChart, color, type Series } from '../chart';

interface TrainJob {
  id: string;
  status: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';
  step: string | null;
  model: string | null;
  version: number | null;
  progress: { phase?: string; done?: number; total?: number; unit?: string } | null;
  metrics: { candidate?: Record<string, number | null>; production?: Record<string, number | null> | null } | null;
  gate: { action: string; reason: string; metric: string } | null;
  error: string | null;
  createdTime: string | null;
}

interface Comparison {
  ids: string[];
  params: Array<{ name: string; values: unknown[]; differs: boolean }>;
  metrics: Array<{ name: string; values: Array<number | null>; differs: boolean; best: number | null }>;
}

interface Run {
  id: string;
  curves?: { loss: string; train: number[]; validation: number[] };
}

const STATUS_KIND = { COMPLETED: 'ok', RUNNING: 'info', PENDING: 'info', FAILED: 'bad' } as const;
const GATE_KIND: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'muted'> = {
  promoted: 'ok',
  canary: 'info',
  staged: 'muted',
  refused: 'warn',
};
const STEPS = ['training-set', 'split', 'fit', 'evaluate', 'evaluate-production', 'baseline', 'register', 'gate'];

const short = (id: string) => (id.length > 30 ? `${id.slice(0, 30)}…` : id);
const fmt = (v: unknown) =>
  typeof v === 'number'
    ? Number.isInteger(v)
      ? fmtNumber(v)
      : v.toFixed(4)
    : v === null || v === undefined
      ? '–'
      : typeof v === 'string'
        ? v
        : JSON.stringify(v);

definePanel({
  page: 'jobs',
  id: 'training',
  title: 'Training jobs',
  order: 5,
  refreshMs: 2000,
  wide: true,
  async render(ctx) {
    const { jobs } = await ctx.api.get<{ jobs: TrainJob[] }>('jobs?kind=train', ctx.signal);
    if (!jobs.length)
      return void ctx.body.append(
        empty(
          'No training jobs in the last 7 days. Start one: POST /api/jobs/train {"model": "churn"} or `npx strata train churn --watch`.',
        ),
      );
    ctx.body.append(
      table(
        ['job', 'model', 'status', 'step', 'progress', 'holdout', 'production', 'version', 'gate', 'started'],
        jobs.map((j) => {
          const p = j.progress;
          const metric = j.gate?.metric ?? 'auc';
          const bar =
            j.status === 'RUNNING' && j.step === 'fit' && p?.total
              ? progress(p.done ?? 0, p.total)
              : progress(
                  j.status === 'COMPLETED' ? STEPS.length : Math.max(0, STEPS.indexOf(j.step ?? '')),
                  STEPS.length,
                );
          return [
            h('code', { title: j.id }, short(j.id)),
            j.model ?? '–',
            badge(j.status, STATUS_KIND[j.status]),
            j.error ? h('span', { class: 'bad', title: j.error }, j.error.slice(0, 60)) : (j.step ?? '–'),
            h('span', { title: p?.unit ?? '' }, bar, p?.unit && j.step === 'fit' ? ` ${p.unit}` : ''),
            `${metric} ${fmt(j.metrics?.candidate?.[metric])}`,
            fmt(j.metrics?.production?.[metric]),
            j.version ?? '–',
            j.gate
              ? h('span', { title: j.gate.reason }, badge(j.gate.action, GATE_KIND[j.gate.action] ?? 'muted'))
              : '–',
            fmtTime(j.createdTime),
          ];
        }),
        { 'data-table': 'training-jobs' },
      ),
    );
  },
});

let chosen: [string, string] | undefined;

definePanel({
  page: 'jobs',
  id: 'runs-compare',
  title: 'Compare runs',
  order: 6,
  refreshMs: 15_000,
  wide: true,
  async render(ctx) {
    const { jobs } = await ctx.api.get<{ jobs: TrainJob[] }>('jobs?kind=train&status=COMPLETED', ctx.signal);
    if (jobs.length < 2)
      return void ctx.body.append(
        empty('Two finished training runs are needed to compare; each train job records one.'),
      );
    const ids = jobs.map((j) => j.id);
    if (!chosen || !ids.includes(chosen[0]) || !ids.includes(chosen[1])) chosen = [ids[1]!, ids[0]!];
    const picker = (i: 0 | 1) =>
      h(
        'select',
        {
          'data-run': i,
          onchange: (e: Event) => {
            chosen![i] = (e.target as HTMLSelectElement).value;
            ctx.rerender();
          },
        },
        ...ids.map((id) => {
          const o = h('option', { value: id }, short(id));
          if (id === chosen![i]) o.selected = true;
          return o;
        }),
      );
    ctx.body.append(h('p', {}, 'Run A ', picker(0), ' vs run B ', picker(1)));
    const [cmp, a, b] = await Promise.all([
      ctx.api.get<Comparison>(`runs/compare?ids=${chosen.map(encodeURIComponent).join(',')}`, ctx.signal),
      ctx.api.get<Run>(`runs/${encodeURIComponent(chosen[0])}`, ctx.signal),
      ctx.api.get<Run>(`runs/${encodeURIComponent(chosen[1])}`, ctx.signal),
    ]);
    const rows = [
      ...cmp.params
        .filter((p) => p.differs || !p.name.startsWith('labels'))
        .map((p) => [p.differs ? h('strong', {}, p.name) : p.name, ...p.values.map(fmt)]),
      ...cmp.metrics
        .filter((m) => /^(candidate|production)\.|durationMs|cpuSeconds/.test(m.name))
        .map((m) => [
          m.differs ? h('strong', {}, m.name) : m.name,
          ...m.values.map((v, i) => (m.best === i ? h('strong', { class: 'ok' }, `${fmt(v)} ▲`) : fmt(v))),
        ]),
    ];
    ctx.body.append(table(['', 'A', 'B'], rows, { 'data-table': 'runs-compare' }));
    const series: Series[] = [];
    const curveOf = (r: Run, tag: string, i: number) => {
      if (!r.curves) return;
      series.push({ label: `${tag} train`, values: r.curves.train, color: color(i) });
      if (r.curves.validation.length)
        series.push({ label: `${tag} validation`, values: r.curves.validation, color: color(i), dash: true });
    };
    curveOf(a, 'A', 0);
    curveOf(b, 'B', 1);
    const n = Math.max(0, ...series.map((s) => s.values.length));
    const padded = series.map((s) => ({ ...s, values: Array.from({ length: n }, (_, k) => s.values[k] ?? null) }));
    lineChart(ctx.body, {
      title: `loss per iteration (${a.curves?.loss ?? b.curves?.loss ?? 'loss'})`,
      x: 'number',
      times: Array.from({ length: n }, (_, k) => k + 1),
      series: padded,
      width: ctx.width,
    });
  },
});
