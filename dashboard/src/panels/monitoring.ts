/**
 * Drift and quality page, from the monitoring APIs (GET /api/models/{m}/drift, /quality,
 * /performance; the last 24 hours of windows): per model, a heatmap of each feature's drift
 * score against its threshold by window (cell colour = score / threshold for distances,
 * threshold / p-value for tests, so 1 is the verdict's edge; "·" = insufficient data), the
 * baseline-vs-window histogram of a chosen feature and window, data quality and contract
 * violations of that window, and realized vs estimated performance over the windows. The
 * Overview page gets the open alerts (GET /api/alerts?state=open).
 */
import { definePage, definePanel } from '../registry';
import { badge, empty, fmtNumber, fmtTime, h, table } from '../dom';
import { color, lineChart } from '../chart';
import type { ModelSummary } from '../types';

definePage({ id: 'drift', title: 'Drift & quality', order: 25 });

interface FeatureDrift {
  feature: string;
  status: string;
  method?: string;
  score?: number;
  threshold?: number;
  count: number;
  statistics: { psi?: number };
}
interface Hist {
  edges?: number[];
  categories?: string[];
  baseline: number[];
  window: number[];
}
interface Quality {
  feature: string;
  nullRate: number;
  baselineNullRate: number;
  outOfRange?: { share: number };
  unknownCategories?: { share: number; top: Array<{ value: string; count: number }> };
}
interface Tally {
  checked: number;
  violating: number;
  violations: Record<string, number>;
}
interface Perf {
  kind: 'realized' | 'estimated';
  labelledShare: number;
  metrics: Record<string, number | null>;
}
interface Window {
  version: number;
  start: string;
  status: string;
  rows: number;
  drift?: { features: FeatureDrift[]; prediction?: FeatureDrift; dataset: { status: string; share: number } };
  quality?: { features: Quality[]; deadLetters: Record<string, number>; defaultedShare: Record<string, number> };
  contracts?: Record<string, Tally>;
  performance?: Perf[];
  histograms?: Record<string, Hist>;
}
interface Alert {
  ruleId: string;
  subject: string;
  severity: string;
  metric: string;
  value: number;
  at: number;
  openedAt?: number;
  message: string;
  delivered: boolean;
}

const choice: { feature?: string; window?: string } = {};

definePanel({
  page: 'drift',
  id: 'drift',
  title: 'Drift and quality',
  order: 10,
  refreshMs: 60_000,
  wide: true,
  async render(ctx) {
    const { models } = await ctx.api.get<{ models: ModelSummary[] }>('serving/models', ctx.signal);
    if (!models.length) return void ctx.body.append(empty('No models are registered.'));
    const to = Date.now();
    const from = to - 86_400_000;
    for (const m of models) {
      const q = `from=${from}&to=${to}`;
      const base = `models/${encodeURIComponent(m.model)}`;
      const [drift, quality, perf] = await Promise.all([
        ctx.api.get<{ windows: Window[] }>(`${base}/drift?${q}`, ctx.signal),
        ctx.api.get<{ windows: Window[] }>(`${base}/quality?${q}`, ctx.signal),
        ctx.api.get<{ windows: Window[] }>(`${base}/performance?${q}`, ctx.signal),
      ]);
      const el = h('div', { class: 'model', 'data-model': m.model }, h('h3', {}, m.model));
      ctx.body.append(el);
      const computed = drift.windows.filter((w) => w.status === 'computed' && w.drift);
      if (!computed.length) {
        el.append(
          empty(
            `No computed monitoring windows in the last 24 h${drift.windows.length ? ` (${drift.windows.map((w) => w.status).join(', ')})` : ''}.`,
          ),
        );
        continue;
      }
      el.append(h('h4', {}, 'Drift score / threshold by window'), heatmap(computed));
      const key = (w: Window) => `${w.version}@${w.start}`;
      const chosen = computed.find((w) => key(w) === choice.window) ?? computed[computed.length - 1]!;
      const features = Object.keys(chosen.histograms ?? {});
      const feature = choice.feature && features.includes(choice.feature) ? choice.feature : features[0];
      el.append(
        h(
          'div',
          { class: 'controls' },
          'Window: ',
          select(
            computed.map((w) => [key(w), `v${w.version} ${fmtTime(w.start)}`]),
            key(chosen),
            (v) => {
              choice.window = v;
              ctx.rerender();
            },
          ),
          ' Feature: ',
          select(
            features.map((f) => [f, f]),
            feature ?? '',
            (v) => {
              choice.feature = v;
              ctx.rerender();
            },
          ),
        ),
      );
      if (feature && chosen.histograms?.[feature])
        el.append(histogram(feature, chosen.histograms[feature]!, ctx.width));
      const q1 = quality.windows.find((w) => key(w) === key(chosen));
      if (q1?.quality) el.append(h('h4', {}, `Quality, v${chosen.version} ${fmtTime(chosen.start)}`), qualityTable(q1));
      const contracts = Object.entries(q1?.contracts ?? {});
      el.append(
        h('h4', {}, 'Output contracts'),
        contracts.length
          ? table(
              ['output', 'checked', 'violating', 'by rule'],
              contracts.map(([o, t]) => [
                o,
                fmtNumber(t.checked),
                t.violating ? badge(fmtNumber(t.violating), 'bad') : '0',
                Object.entries(t.violations)
                  .filter(([, n]) => n > 0)
                  .map(([r, n]) => `${r} ${n}`)
                  .join(', ') || '–',
              ]),
              { 'data-table': 'contracts' },
            )
          : empty('No output declares a contract.'),
      );
      performanceChart(
        el,
        perf.windows.filter((w) => w.version === chosen.version),
        chosen.version,
        ctx.width,
      );
    }
  },
});

function heatmap(ws: Window[]): HTMLElement {
  const names = [
    ...new Set(
      ws.flatMap((w) => [...w.drift!.features.map((f) => f.feature), ...(w.drift!.prediction ? ['prediction'] : [])]),
    ),
  ];
  const cell = (f: FeatureDrift | undefined) => {
    if (!f || f.status === 'insufficient_data' || f.score === undefined || f.threshold === undefined)
      return h('td', { class: 'heat', 'data-status': 'insufficient_data', title: 'insufficient data' }, '·');
    const test = f.method === 'ks' || f.method === 'chi_square';
    const ratio = test ? f.threshold / Math.max(f.score, 1e-300) : f.score / f.threshold;
    const level = Math.min(1, ratio / 2);
    return h(
      'td',
      {
        class: 'heat',
        'data-status': f.status,
        title: `${f.method} ${f.score.toPrecision(3)} (threshold ${f.threshold.toPrecision(3)}); PSI ${f.statistics.psi?.toFixed(3) ?? '–'}`,
        style: `background: rgba(${f.status === 'drift' ? '220,38,38' : '37,99,235'}, ${(0.1 + 0.8 * level).toFixed(2)})`,
      },
      ratio >= 100 ? '≫1' : ratio.toFixed(2),
    );
  };
  return h(
    'table',
    { 'data-heatmap': 'drift' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'feature'),
        ...ws.map((w) => h('th', {}, `v${w.version} ${fmtTime(w.start).slice(11, 16)}`)),
      ),
    ),
    h(
      'tbody',
      {},
      ...names.map((n) =>
        h(
          'tr',
          {},
          h('td', {}, n),
          ...ws.map((w) =>
            cell(n === 'prediction' ? w.drift!.prediction : w.drift!.features.find((f) => f.feature === n)),
          ),
        ),
      ),
      h(
        'tr',
        {},
        h('td', {}, h('strong', {}, 'dataset')),
        ...ws.map((w) =>
          h(
            'td',
            { 'data-status': w.drift!.dataset.status },
            w.drift!.dataset.status === 'drift'
              ? badge('drift', 'bad')
              : w.drift!.dataset.status === 'no_drift'
                ? badge('ok', 'ok')
                : badge('n/a', 'muted'),
          ),
        ),
      ),
    ),
  );
}

/** Baseline vs window shares per bin (or category), as paired SVG bars. */
function histogram(feature: string, hist: Hist, width: number): HTMLElement {
  const labels =
    hist.categories ??
    hist.baseline.map((_, i) =>
      i === 0
        ? `< ${fmt(hist.edges![0])}`
        : i === hist.baseline.length - 1
          ? `≥ ${fmt(hist.edges![i - 1])}`
          : `${fmt(hist.edges![i - 1])}–${fmt(hist.edges![i])}`,
    );
  const share = (xs: number[]) => {
    const n = xs.reduce((a, b) => a + b, 0) || 1;
    return xs.map((x) => x / n);
  };
  const b = share(hist.baseline);
  const w = share(hist.window);
  const W = Math.max(320, Math.min(width, 900));
  const H = 200;
  const slot = W / labels.length;
  const top = Math.max(...b, ...w, 1e-9);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', String(W));
  svg.setAttribute('height', String(H + 40));
  const rect = (x: number, v: number, fill: string, title: string) => {
    const r = document.createElementNS(ns, 'rect');
    const hgt = (v / top) * H;
    Object.entries({
      x: x.toFixed(1),
      y: (H - hgt).toFixed(1),
      width: (slot * 0.4).toFixed(1),
      height: hgt.toFixed(1),
      fill,
    }).forEach(([k, val]) => r.setAttribute(k, val));
    const t = document.createElementNS(ns, 'title');
    t.textContent = title;
    r.appendChild(t);
    svg.appendChild(r);
  };
  labels.forEach((l, i) => {
    rect(i * slot + slot * 0.1, b[i]!, color(0), `baseline ${l}: ${(100 * b[i]!).toFixed(1)}%`);
    rect(i * slot + slot * 0.5, w[i]!, color(1), `window ${l}: ${(100 * w[i]!).toFixed(1)}%`);
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', (i * slot + slot / 2).toFixed(1));
    text.setAttribute('y', String(H + 14));
    text.setAttribute('text-anchor', 'middle');
    text.setAttribute('font-size', '10');
    text.textContent = l.length > 12 ? `${l.slice(0, 11)}…` : l;
    svg.appendChild(text);
  });
  return h(
    'div',
    { class: 'chart', 'data-chart': `Histogram ${feature}`, 'data-series': 2, 'data-points': labels.length },
    h(
      'p',
      {},
      h('strong', {}, feature),
      ' — ',
      h('span', { style: `color:${color(0)}` }, '■ baseline'),
      ' ',
      h('span', { style: `color:${color(1)}` }, '■ window'),
      ' (share of values per bin)',
    ),
    svg,
  );
}

function qualityTable(w: Window): HTMLElement {
  const q = w.quality!;
  return h(
    'div',
    {},
    table(
      ['feature', 'null rate', 'training null rate', 'outside training range', 'unknown categories', 'defaulted'],
      q.features.map((f) => [
        f.feature,
        pct(f.nullRate),
        pct(f.baselineNullRate),
        f.outOfRange ? pct(f.outOfRange.share) : '–',
        f.unknownCategories
          ? `${pct(f.unknownCategories.share)}${
              f.unknownCategories.top.length
                ? ` (${f.unknownCategories.top
                    .slice(0, 3)
                    .map((u) => u.value)
                    .join(', ')})`
                : ''
            }`
          : '–',
        pct(q.defaultedShare[f.feature] ?? 0),
      ]),
      { 'data-table': 'quality' },
    ),
    h(
      'p',
      { class: 'hint' },
      `Dead-lettered on the window's day: ${
        Object.entries(q.deadLetters)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ') || 'none'
      }`,
    ),
  );
}

function performanceChart(el: HTMLElement, ws: Window[], version: number, width: number): void {
  const done = ws.filter((w) => w.status === 'computed' && w.performance?.length);
  const metric = done.some((w) => w.performance!.some((p) => p.metrics.auc !== undefined))
    ? 'auc'
    : done.some((w) => w.performance!.some((p) => p.metrics.rmse !== undefined))
      ? 'rmse'
      : 'accuracy';
  const series = (['estimated', 'realized'] as const).map((kind, i) => ({
    label: kind,
    color: color(i),
    dash: kind === 'estimated',
    values: done.map((w) => w.performance!.find((p) => p.kind === kind)?.metrics[metric] ?? null),
  }));
  el.append(h('h4', {}, `Performance (${metric}) of v${version}: realized vs estimated`));
  lineChart(el, {
    title: `Performance ${metric}`,
    times: done.map((w) => Date.parse(w.start)),
    series,
    width,
    height: 180,
  });
  const labelled = done
    .map((w) => w.performance!.find((p) => p.kind === 'realized')?.labelledShare)
    .filter((x): x is number => x !== undefined);
  if (labelled.length)
    el.append(
      h(
        'p',
        { class: 'hint' },
        `Labelled: ${labelled.map(pct).join(' · ')} of each window's predictions (realized fills in as labels arrive).`,
      ),
    );
}

definePanel({
  page: 'overview',
  id: 'alerts',
  title: 'Open alerts',
  order: 15,
  refreshMs: 15_000,
  async render(ctx) {
    const { alerts } = await ctx.api.get<{ alerts: Alert[] }>('alerts?state=open', ctx.signal);
    if (!alerts.length) return void ctx.body.append(empty('No open alerts.'));
    ctx.body.append(
      table(
        ['severity', 'rule', 'subject', 'value', 'window', 'opened', 'delivered'],
        alerts.map((a) => [
          badge(a.severity, a.severity === 'critical' ? 'bad' : a.severity === 'warning' ? 'warn' : 'info'),
          h('span', { title: a.message }, a.ruleId),
          a.subject,
          fmtNumber(a.value, 4),
          fmtTime(a.at),
          fmtTime(a.openedAt),
          a.delivered ? 'yes' : badge('pending', 'warn'),
        ]),
        { 'data-table': 'alerts' },
      ),
    );
  },
});

function select(options: Array<[string, string]>, value: string, onChange: (v: string) => void): HTMLSelectElement {
  const s = h(
    'select',
    { onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value) },
    ...options.map(([v, label]) => h('option', { value: v, ...(v === value ? { selected: true } : {}) }, label)),
  );
  return s;
}

const pct = (x: number) => `${(100 * x).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;
const fmt = (x: number | undefined) => (x === undefined ? '' : Number(x.toPrecision(3)).toString());
