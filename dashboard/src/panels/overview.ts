/**
 * Overview page: dependency health, sources (ingest rate over the last hour, dead-lettered
 * and late records), and the freshness of every feature view. One GET /api/overview feeds
 * all three panels (fetched once per refresh round and shared).
 */
import { definePage, definePanel, type PanelContext } from '../registry';
import { badge, empty, fmtAge, fmtNumber, fmtTime, h, table } from '../dom';
import { lineChart } from '../chart';
import type { Overview } from '../types';

definePage({ id: 'overview', title: 'Overview', order: 10 });

// The three panels refresh together: one request per round of one visit of the page, not three.
let pending: { at: number; signal: AbortSignal; data: Promise<Overview> } | undefined;
function overview(ctx: PanelContext): Promise<Overview> {
  if (!pending || pending.signal !== ctx.signal || Date.now() - pending.at > 2000) {
    pending = { at: Date.now(), signal: ctx.signal, data: ctx.api.get<Overview>('overview', ctx.signal) };
  }
  const p = pending.data;
  p.catch(() => (pending = undefined));
  return p;
}

definePanel({
  page: 'overview',
  id: 'health',
  title: 'Health',
  order: 10,
  refreshMs: 10_000,
  async render(ctx) {
    const { health } = await overview(ctx);
    ctx.body.append(
      h(
        'p',
        {},
        'Strata ',
        h('strong', {}, health.version),
        ' — ',
        badge(health.status, health.status === 'ok' ? 'ok' : 'bad'),
        ` checked ${fmtTime(health.checkedAt)}`,
      ),
      table(
        ['dependency', 'state', 'latency', 'details'],
        Object.entries(health.dependencies).map(([name, d]) => [
          name,
          badge(d.ok ? 'up' : 'down', d.ok ? 'ok' : 'bad'),
          `${d.latencyMs} ms`,
          [d.version, d.detail, d.error].filter(Boolean).join(' · ') || '–',
        ]),
        { 'data-table': 'health' },
      ),
    );
  },
});

definePanel({
  page: 'overview',
  id: 'sources',
  title: 'Sources',
  order: 20,
  refreshMs: 10_000,
  async render(ctx) {
    const { sources } = await overview(ctx);
    if (!sources.length) return void ctx.body.append(empty('No sources are defined.'));
    ctx.body.append(
      table(
        [
          'source',
          'arrives by',
          'views',
          'records/s',
          'last hour',
          'newest event',
          'dead-lettered records',
          'days marked late',
        ],
        sources.map((s) => [
          h('strong', {}, s.name),
          [s.hub ? `hub ${s.hub}` : '', s.files ? 'files' : ''].filter(Boolean).join(', '),
          s.views.join(', ') || '(stored only)',
          `${fmtNumber(s.ingest.recordsPerSecond, 2)} (${s.ingest.rateWindowSeconds / 60} min)`,
          fmtNumber(s.ingest.lastHour),
          fmtTime(s.newestEvent),
          s.deadLettered.records ? badge(fmtNumber(s.deadLettered.records), 'warn') : '0',
          s.late.daysMarked ? badge(fmtNumber(s.late.daysMarked), 'warn') : '0',
        ]),
        { 'data-table': 'sources' },
      ),
      h(
        'p',
        { class: 'hint' },
        `Dead-lettered and late: last ${sources[0]!.deadLettered.days} days. A day is marked late when records arrived too late to be folded in (the Plan page backfills it).`,
      ),
    );
    const since = Date.parse(sources[0]!.ingest.since);
    lineChart(ctx.body, {
      title: 'Records ingested per minute',
      times: sources[0]!.ingest.perMinute.map((_, i) => since + i * 60_000),
      series: sources.filter((s) => s.ingest.lastHour > 0).map((s) => ({ label: s.name, values: s.ingest.perMinute })),
      width: ctx.width,
      height: 180,
    });
  },
});

definePanel({
  page: 'overview',
  id: 'freshness',
  title: 'Feature freshness',
  order: 30,
  refreshMs: 10_000,
  wide: true,
  async render(ctx) {
    const { views } = await overview(ctx);
    ctx.body.append(
      table(
        [
          'view',
          'version',
          'computed from',
          'watermark',
          'age',
          'lag behind sources',
          'state',
          'days complete / incomplete / missing / stale',
          'days marked late',
        ],
        views.map((v) => [
          h('strong', {}, v.view),
          v.version.slice(0, 8),
          v.inputs.join(', '),
          fmtTime(v.watermark),
          fmtAge(v.ageMs),
          fmtAge(v.lagMs),
          v.watermark === null
            ? badge('not computed', 'muted')
            : v.caughtUp
              ? badge('caught up', 'ok')
              : badge('behind', 'warn'),
          `${v.days.complete} / ${v.days.incomplete} / ${v.days.missing} / ${v.days.stale}`,
          fmtNumber(v.lateDays),
        ]),
        { 'data-table': 'freshness' },
      ),
    );
  },
});
