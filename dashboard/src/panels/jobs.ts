/**
 * Jobs page: backfill jobs of the last 7 days with status and progress, polled every 2 s
 * (GET /api/backfills). Training jobs join as another panel file on this page.
 */
import { definePage, definePanel } from '../registry';
import { badge, empty, fmtNumber, fmtTime, h, progress, table } from '../dom';
import type { BackfillJob, BackfillProgress } from '../types';

definePage({ id: 'jobs', title: 'Jobs', order: 30 });

const STATUS_KIND: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'muted'> = {
  Completed: 'ok',
  Running: 'info',
  Pending: 'info',
  ContinuedAsNew: 'info',
  Suspended: 'warn',
  Failed: 'bad',
  Terminated: 'muted',
};

definePanel({
  page: 'jobs',
  id: 'backfills',
  title: 'Backfill jobs',
  order: 10,
  refreshMs: 2000,
  wide: true,
  async render(ctx) {
    const { jobs, days } = await ctx.api.get<{ jobs: BackfillJob[]; days: number }>('backfills', ctx.signal);
    if (!jobs.length)
      return void ctx.body.append(
        empty(`No backfill jobs in the last ${days} days. The Plan page starts the ones that would fix stale views.`),
      );
    ctx.body.append(
      table(
        ['job', 'status', 'views', 'range', 'phase', 'intervals', 'rows written', 'started', 'updated'],
        jobs.map((j) => {
          // No custom status yet (the job is starting): nothing to show.
          const p: Partial<BackfillProgress> = j.progress ?? {};
          const i = p.intervals;
          const rows = p.rows ? Object.values(p.rows).reduce((a, b) => a + b, 0) : undefined;
          return [
            h('code', { title: j.id }, j.id.length > 28 ? `${j.id.slice(0, 28)}…` : j.id),
            badge(j.runtimeStatus, STATUS_KIND[j.runtimeStatus] ?? 'muted'),
            j.request?.views.join(', ') ?? '–',
            j.request ? `${fmtTime(j.request.from).slice(0, 10)} → ${fmtTime(j.request.to).slice(0, 10)}` : '–',
            [p.phase, p.stage ? `stage ${p.stage}` : ''].filter(Boolean).join(', ') || '–',
            i ? progress(i.done, i.total) : '–',
            rows !== undefined ? fmtNumber(rows) : '–',
            fmtTime(j.createdTime),
            fmtTime(j.lastUpdatedTime),
          ];
        }),
        { 'data-table': 'backfills' },
      ),
    );
  },
});
