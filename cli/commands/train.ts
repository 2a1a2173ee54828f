/**
 * `strata train <model> [--trainer t] [--params json] [--from --to | --last 30d] [--gate policy]
 * [--watch]`: start (or join) a train job (POST /api/jobs/train, admin key). With --watch,
 * follows GET /api/jobs/{id} with a progress bar (the fit's trees built / total, or the steps)
 * until it ends and prints the version, metrics and the gate's decision; exit 1 when it failed.
 */
import type { CommandSpec } from '../core/command';
import { Failed, UsageError } from '../core/errors';
import { startProgress } from '../core/progress';
import { parseTime } from '../core/values';
import { watchJob } from '../core/watch';

interface Started {
  jobId: string;
  status: 'started' | 'joined' | 'skipped';
  skipped?: string;
  window: { from: string | number; to: string | number };
}

interface Job {
  id: string;
  status: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED';
  step: string | null;
  progress: { phase?: string; done?: number; total?: number; unit?: string; trainLoss?: number } | null;
  metrics: { candidate?: Record<string, unknown>; production?: Record<string, unknown> | null } | null;
  version: number | null;
  gate: { action: string; reason: string } | null;
  error: string | null;
}

const STEPS = ['training-set', 'split', 'fit', 'evaluate', 'evaluate-production', 'baseline', 'register', 'gate'];

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'train a model from its training config (labels, window, features), evaluate, register and gate it',
  description:
    'Overrides apply to this job only. The same job (model, trainer config, window, definitions) joins a running\n' +
    'one and answers a finished one. Prints the job id; with --watch follows it to the end (exit 1 when it failed).',
  positionals: [{ name: 'model', required: true }],
  options: {
    trainer: { type: 'string', value: '<name>', description: 'logistic, gbdt, or a registered trainer' },
    params: { type: 'string', value: '<json>', description: 'trainer params, e.g. \'{"trees":200}\'' },
    from: { type: 'string', value: '<time>', description: 'window start (with --to)' },
    to: { type: 'string', value: '<time>', description: 'window end, exclusive' },
    last: { type: 'string', value: '<duration>', description: 'window: the last 30d, 12h, ... up to now' },
    gate: { type: 'string', value: '<policy>', description: 'register | canary | promote' },
    reason: { type: 'string', value: '<text>', description: 'why (recorded in the run; default http)' },
    watch: { type: 'boolean', description: 'follow the job until it ends, with progress' },
    'poll-ms': { type: 'string', value: '<ms>', description: 'how often --watch asks (default 1000)' },
  },
  examples: [
    'npx strata train churn --watch',
    'npx strata train churn --trainer gbdt --params \'{"trees":100}\' --last 7d --gate canary --watch',
  ],
  async run(ctx) {
    const model = ctx.positionals[0]!;
    let params: unknown;
    if (ctx.string('params') !== undefined) {
      try {
        params = JSON.parse(ctx.string('params')!);
      } catch (e) {
        throw new UsageError(`--params: not JSON (${(e as Error).message})`);
      }
    }
    if ((ctx.string('from') === undefined) !== (ctx.string('to') === undefined))
      throw new UsageError('give --from and --to together (or --last)');
    if (ctx.string('from') !== undefined && ctx.string('last') !== undefined)
      throw new UsageError('give either --from/--to or --last');
    const window =
      ctx.string('from') !== undefined
        ? {
            from: new Date(parseTime(ctx.required('from'), 'from')).toISOString(),
            to: new Date(parseTime(ctx.required('to'), 'to')).toISOString(),
          }
        : ctx.string('last') !== undefined
          ? { last: ctx.string('last') }
          : undefined;
    const body = {
      model,
      ...(ctx.string('trainer') ? { trainer: ctx.string('trainer') } : {}),
      ...(params !== undefined ? { params } : {}),
      ...(window ? { window } : {}),
      ...(ctx.string('gate') ? { gate: { policy: ctx.string('gate') } } : {}),
      ...(ctx.string('reason') ? { reason: ctx.string('reason') } : {}),
    };
    const pollMs = ctx.number('poll-ms', 1000, { min: 50, integer: true });
    const started = await ctx.api.json<Started>('POST', '/api/jobs/train', { key: 'admin', json: body });
    if (started.status === 'skipped' || !ctx.flag('watch')) {
      ctx.out.result(started, () => [
        started.status === 'skipped'
          ? `train ${model}: skipped (${started.skipped})`
          : `train job ${started.jobId} ${started.status}: ${model}, ${String(started.window.from)}..${String(started.window.to)}`,
        ...(started.status === 'skipped'
          ? []
          : [`follow it: npx strata train ${model} --watch   (joins the same job)`]),
      ]);
      return;
    }
    ctx.out.note(`train job ${started.jobId} ${started.status}`);
    const progress = startProgress(ctx.out, { title: `train ${model}`, total: STEPS.length, unit: 'steps' });
    let job: Job;
    try {
      job = await watchJob({
        read: () => ctx.api.json<Job>('GET', `/api/jobs/${encodeURIComponent(started.jobId)}`),
        finished: (j) => j.status === 'COMPLETED' || j.status === 'FAILED',
        onStatus: (j) => {
          const p = j.progress;
          if (j.step === 'fit' && p?.total) {
            progress.setTotal(p.total);
            progress.update(
              p.done ?? 0,
              `fit: ${p.unit ?? ''}${p.trainLoss !== undefined ? `, loss ${p.trainLoss.toFixed(4)}` : ''}`,
            );
          } else {
            progress.setTotal(STEPS.length);
            progress.update(
              j.status === 'COMPLETED' ? STEPS.length : Math.max(0, STEPS.indexOf(j.step ?? '')),
              j.step ?? j.status.toLowerCase(),
            );
          }
        },
        progress,
        pollMs,
      });
    } finally {
      progress.stop();
    }
    if (job.status !== 'COMPLETED')
      throw new Failed(`train job ${started.jobId} failed: ${job.error ?? 'see GET /api/jobs/' + started.jobId}`);
    const c = job.metrics?.candidate ?? {};
    const metric = (m: Record<string, unknown> | null | undefined) =>
      Object.entries(m ?? {})
        .filter(([, v]) => typeof v === 'number')
        .map(([k, v]) => `${k} ${Number(v).toFixed(4)}`)
        .join(', ');
    ctx.out.result(job, () => [
      `train job ${job.id} completed: ${model} version ${job.version}`,
      `  holdout: ${metric(c)}`,
      ...(job.metrics?.production ? [`  production on the same holdout: ${metric(job.metrics.production)}`] : []),
      `  gate: ${job.gate?.action} (${job.gate?.reason})`,
      `  run: npx strata runs ${job.id}`,
    ]);
  },
};
