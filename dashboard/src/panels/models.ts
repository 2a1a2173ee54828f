/**
 * Models page: per model, its versions with aliases and traffic, requests/s and latency
 * p50/p95/p99 per version over time (GET /api/models/{m}/timeseries: from the prediction log
 * in the offline store, so it covers every instance and survives restarts), production and
 * canary side by side, recent errors per version (this instance, GET /api/serving/models)
 * and the alias / traffic / promote / rollback history.
 */
import { definePage, definePanel } from '../registry';
import { badge, empty, fmtMs, fmtNumber, fmtTime, h, table } from '../dom';
import { color, lineChart } from '../chart';
import type { ModelSummary, Timeseries, VersionSeries } from '../types';

definePage({ id: 'models', title: 'Models', order: 20 });

const RANGES: Array<[string, number]> = [
  ['15 min', 15 * 60_000],
  ['1 h', 3_600_000],
  ['6 h', 6 * 3_600_000],
  ['24 h', 86_400_000],
];
let rangeMs = 3_600_000;

const label = (v: VersionSeries, m: ModelSummary) => {
  const aliases = m.versions.find((x) => x.version === v.version)?.aliases ?? [];
  return `v${v.version}${v.shadow ? ' shadow' : aliases.length ? ` (${aliases.join(', ')})` : ''}`;
};

definePanel({
  page: 'models',
  id: 'models',
  title: 'Models',
  order: 10,
  refreshMs: 15_000,
  wide: true,
  async render(ctx) {
    const { models } = await ctx.api.get<{ models: ModelSummary[] }>('serving/models', ctx.signal);
    ctx.body.append(
      h(
        'div',
        { class: 'controls' },
        'Range: ',
        ...RANGES.map(([name, ms]) =>
          h(
            'button',
            {
              type: 'button',
              class: ms === rangeMs ? 'active' : '',
              onclick: () => {
                rangeMs = ms;
                ctx.rerender();
              },
            },
            name,
          ),
        ),
      ),
    );
    if (!models.length)
      return void ctx.body.append(empty('No models are registered (POST /api/models/{model}/versions).'));
    const to = Date.now();
    const series = await Promise.all(
      models.map((m) =>
        ctx.api.get<Timeseries>(
          `models/${encodeURIComponent(m.model)}/timeseries?from=${to - rangeMs}&to=${to}`,
          ctx.signal,
        ),
      ),
    );
    models.forEach((m, i) => ctx.body.append(modelSection(m, series[i]!, ctx.width)));
  },
});

function modelSection(m: ModelSummary, ts: Timeseries, width: number): HTMLElement {
  const el = h('div', { class: 'model', 'data-model': m.model });
  el.append(
    h(
      'h3',
      {},
      m.model,
      ' ',
      ...Object.entries(m.aliases)
        .sort()
        .map(([a, v]) => badge(`${a} → v${v}`, a === 'production' ? 'ok' : a === 'canary' ? 'warn' : 'info')),
    ),
    h(
      'p',
      {},
      `Traffic: production ${m.traffic.production}% · canary ${m.traffic.canary}%`,
      m.description ? ` — ${m.description}` : '',
    ),
  );

  const live = ts.versions.filter((v) => !v.shadow);
  const charts = h('div', { class: 'charts' });
  el.append(charts);
  lineChart(charts, {
    title: 'Requests per second',
    times: ts.buckets,
    series: ts.versions.map((v, i) => ({
      label: label(v, m),
      values: v.requestsPerSecond,
      color: color(i),
      dash: v.shadow,
    })),
    unit: '/s',
    width,
    height: 180,
  });
  // Production and canary (and any other live version) side by side, same quantiles each.
  const side = h('div', { class: 'side-by-side' });
  el.append(side);
  // Every aliased live version (production, canary) gets its chart, with or without traffic yet.
  const aliased = [
    ...new Set(
      Object.entries(m.aliases)
        .filter(([a]) => !a.startsWith('shadow'))
        .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
        .map(([, v]) => v),
    ),
  ];
  const shown = [...new Set([...aliased, ...live.map((v) => v.version)])].map(
    (n) => live.find((v) => v.version === n) ?? idle(n, ts.buckets.length),
  );
  for (const v of shown) {
    lineChart(side, {
      title: `Latency ${label(v, m)}`,
      times: ts.buckets,
      series: [
        { label: 'p50', values: v.latencyMs.p50, color: color(0) },
        { label: 'p95', values: v.latencyMs.p95, color: color(1) },
        { label: 'p99', values: v.latencyMs.p99, color: color(4) },
      ],
      unit: 'ms',
      width: shown.length > 1 ? width / 2 - 12 : width,
      height: 180,
    });
  }
  if (!ts.versions.length) side.append(empty('No predictions logged in this range.'));

  const totalLive = live.reduce((n, v) => n + v.totals.predictions, 0);
  const recent = new Map(m.stats.versions.map((s) => [`${s.version}/${s.shadow}`, s]));
  el.append(
    h('h4', {}, 'Versions'),
    table(
      [
        'version',
        'aliases',
        'feature service',
        'registered',
        'requests',
        'share of live predictions',
        'p50 / p95 / p99',
        `errors (last ${m.stats.windowSeconds / 60} min, this instance)`,
      ],
      [...m.versions].reverse().map((v) => {
        const s =
          ts.versions.find((x) => x.version === v.version && !x.shadow) ??
          ts.versions.find((x) => x.version === v.version);
        const r = recent.get(`${v.version}/false`) ?? recent.get(`${v.version}/true`);
        return [
          h('strong', {}, `v${v.version}`),
          v.aliases.join(', ') || '–',
          `${v.featureService} (${v.features})`,
          fmtTime(v.createdAt),
          fmtNumber(s?.totals.requests ?? 0),
          s && !s.shadow && totalLive
            ? `${fmtNumber((100 * s.totals.predictions) / totalLive, 1)}%`
            : s?.shadow
              ? 'shadow'
              : '–',
          s
            ? `${fmtMs(s.totals.latencyMs.p50)} / ${fmtMs(s.totals.latencyMs.p95)} / ${fmtMs(s.totals.latencyMs.p99)}`
            : '–',
          r?.errors ? badge(fmtNumber(r.errors), 'bad') : '0',
        ];
      }),
      { 'data-table': 'versions' },
    ),
  );
  el.append(
    h('h4', {}, 'Promote / rollback history'),
    m.history.length
      ? table(
          ['when', 'change', 'details'],
          m.history.map((x) => [fmtTime(x.at), x.action, describe(x)]),
          { 'data-table': 'history' },
        )
      : empty('No changes yet.'),
  );
  return el;
}

const rank = (alias: string) => (alias === 'production' ? 0 : alias === 'canary' ? 1 : 2);

/** A version with no predictions in the range (nothing to draw yet). */
function idle(version: number, n: number): VersionSeries {
  const none = () => new Array<number | null>(n).fill(null);
  return {
    version,
    shadow: false,
    routedBy: [],
    requests: [],
    requestsPerSecond: [],
    predictions: [],
    latencyMs: { p50: none(), p95: none(), p99: none() },
    totals: { requests: 0, predictions: 0, latencyMs: { p50: null, p95: null, p99: null } },
  };
}

function describe(x: ModelSummary['history'][number]): string {
  if (x.action === 'traffic' && x.traffic) return `production ${x.traffic.production}% · canary ${x.traffic.canary}%`;
  const v = (n: number | undefined) => (n === undefined ? 'none' : `v${n}`);
  if (x.alias) return `${x.alias}: ${v(x.from)} → ${v(x.to)}`;
  if (x.to !== undefined || x.from !== undefined) return `${v(x.from)} → ${v(x.to)}`;
  return '';
}
