/**
 * `strata backfill <views> --from <time> --to <time> [--watch]`: recompute views over a time
 * range (POST /api/backfills, a Durable job; the same request while it runs joins it). With
 * --watch, follows GET /api/backfills/{id} with a progress bar of intervals until it ends;
 * exit 1 when it failed.
 */
import type { CommandSpec } from '../core/command';
import { Failed } from '../core/errors';
import { startProgress } from '../core/progress';
import { parseTime } from '../core/values';
import { watchJob } from '../core/watch';

interface Started {
  id: string;
  status: 'started' | 'joined';
  request: { views: string[]; from: string; to: string };
}

interface BackfillStatus {
  runtimeStatus: string;
  progress: {
    phase?: string;
    stage?: string;
    intervals?: { total: number; done: number; committed: number; skipped: number; empty: number };
    rows?: Record<string, number>;
  } | null;
  output: unknown;
}

const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export const backfillCommand: CommandSpec = {
  name: 'backfill',
  summary: 'recompute views over a time range (and everything downstream), as a Durable job',
  description:
    '[from, to) is widened to whole UTC days. Prints the job id; with --watch follows it to the end\n' +
    '(exit 1 when it failed). `npx strata plan` lists the backfills the views need.',
  positionals: [{ name: 'views', required: true }],
  options: {
    from: {
      type: 'string',
      value: '<time>',
      description: 'start (2026-11-02, an ISO time, epoch ms, now-7d); required',
    },
    to: { type: 'string', value: '<time>', description: 'end, exclusive; required' },
    interval: {
      type: 'string',
      value: '<duration>',
      description: 'work unit: 1h..12h dividing a day, or whole days (default 1d)',
    },
    'max-parallel': { type: 'string', value: '<n>', description: "intervals computed at once (default: the app's)" },
    watch: { type: 'boolean', description: 'follow the job until it ends, with progress' },
    'poll-ms': { type: 'string', value: '<ms>', description: 'how often --watch asks (default 1000)' },
  },
  examples: ['npx strata backfill user_clicks,user_purchases --from 2026-11-02 --to 2026-11-09 --watch'],
  async run(ctx) {
    const views = ctx.positionals[0]!.split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    const from = parseTime(ctx.required('from'), 'from');
    const to = parseTime(ctx.required('to'), 'to');
    const maxParallel =
      ctx.string('max-parallel') !== undefined ? ctx.number('max-parallel', 0, { min: 1, integer: true }) : undefined;
    const pollMs = ctx.number('poll-ms', 1000, { min: 50, integer: true });
    const started = await ctx.api.json<Started>('POST', '/api/backfills', {
      json: {
        views,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        ...(ctx.string('interval') ? { interval: ctx.string('interval') } : {}),
        ...(maxParallel ? { maxParallel } : {}),
      },
    });
    if (!ctx.flag('watch')) {
      ctx.out.result(started, () => [
        `backfill ${started.id} ${started.status}: ${started.request.views.join(', ')} from ${started.request.from} to ${started.request.to}`,
        `follow it: npx strata backfill ${ctx.positionals[0]} --from ${ctx.string('from')} --to ${ctx.string('to')} --watch   (joins the same job)`,
      ]);
      return;
    }
    ctx.out.note(`backfill ${started.id} ${started.status}`);
    const progress = startProgress(ctx.out, { title: 'backfill', total: 0, unit: 'intervals' });
    let status: BackfillStatus;
    try {
      status = await watchJob({
        read: () => ctx.api.json<BackfillStatus>('GET', `/api/backfills/${encodeURIComponent(started.id)}`),
        finished: (s) => FINISHED.has(s.runtimeStatus),
        onStatus: (s) => {
          const iv = s.progress?.intervals;
          if (!iv) return;
          progress.setTotal(iv.total);
          progress.update(
            iv.done,
            `${s.progress?.phase ?? ''}${s.progress?.stage ? ` stage ${s.progress.stage}` : ''}`.trim(),
          );
        },
        progress,
        pollMs,
      });
    } finally {
      progress.stop();
    }
    const result = { id: started.id, status: started.status, ...status };
    if (status.runtimeStatus !== 'Completed') {
      throw new Failed(
        `backfill ${started.id} ended ${status.runtimeStatus}: ${typeof status.output === 'string' ? status.output : JSON.stringify(status.output)}`,
      );
    }
    const iv = status.progress?.intervals;
    ctx.out.result(result, () => [
      `backfill ${started.id} completed`,
      ...(iv
        ? [
            `  intervals: ${iv.total} total, ${iv.committed} committed, ${iv.skipped} skipped (already committed), ${iv.empty} empty`,
          ]
        : []),
      ...Object.entries(status.progress?.rows ?? {}).map(([v, n]) => `  ${v}: ${n} rows`),
    ]);
  },
};
