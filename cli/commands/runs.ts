/**
 * `strata runs [--model m] [--status s]` lists training runs (GET /api/runs); `strata runs <id>`
 * shows one (GET /api/runs/{id}); `strata runs compare <a> <b> [...]` puts params and metrics
 * side by side (GET /api/runs/compare), marking what differs and the best value per metric.
 */
import type { CommandSpec } from '../core/command';
import { UsageError } from '../core/errors';
import { formatDuration, table } from '../core/output';

interface Run {
  id: string;
  model: string;
  status: string;
  reason: string;
  createdAt: number;
  version?: number;
  durationMs?: number;
  cpuSeconds?: number;
  params: { trainer: string };
  metrics?: { candidate?: Record<string, unknown>; production?: Record<string, unknown> | null };
  gate?: { action: string; reason: string };
  error?: { step: string; message: string };
}

interface Comparison {
  ids: string[];
  params: Array<{ name: string; values: unknown[]; differs: boolean }>;
  metrics: Array<{ name: string; values: Array<number | null>; differs: boolean; best: number | null }>;
}

const num = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : '-');
const show = (v: unknown) =>
  v === null || v === undefined ? '-' : typeof v === 'number' ? num(v) : typeof v === 'string' ? v : JSON.stringify(v);

export const runsCommand: CommandSpec = {
  name: 'runs',
  summary: 'training runs: list, show one, or compare runs side by side',
  description:
    'strata runs [--model m]        list (newest first)\nstrata runs <id>                one run as JSON\nstrata runs compare <a> <b>     params and metrics side by side (* = differs, ^ = best)',
  positionals: [{ name: 'id|compare' }, { name: 'ids...' }],
  options: {
    model: { type: 'string', value: '<model>', description: "only this model's runs" },
    status: { type: 'string', value: '<status>', description: 'PENDING, RUNNING, COMPLETED or FAILED' },
  },
  examples: ['npx strata runs --model churn', 'npx strata runs compare train-churn-1a2b train-churn-3c4d'],
  async run(ctx) {
    const [first, ...rest] = ctx.positionals;
    if (first === 'compare') {
      if (rest.length < 2) throw new UsageError('runs compare needs two or more run ids');
      const c = await ctx.api.json<Comparison>(
        'GET',
        `/api/runs/compare?ids=${rest.map(encodeURIComponent).join(',')}`,
      );
      ctx.out.result(c, () => {
        const row = (name: string, values: string[], mark: string) => ({ name: `${mark} ${name}`, values });
        const rows = [
          ...c.params.map((p) => row(p.name, p.values.map(show), p.differs ? '*' : ' ')),
          ...c.metrics.map((m) =>
            row(
              m.name,
              m.values.map((v, i) => `${num(v)}${m.best === i ? ' ^' : ''}`),
              m.differs ? '*' : ' ',
            ),
          ),
        ];
        return table(rows, [
          { title: '', value: (r) => r.name },
          ...c.ids.map((id, i) => ({ title: id, value: (r: (typeof rows)[number]) => r.values[i] ?? '-' })),
        ]);
      });
      return;
    }
    if (first !== undefined) {
      const run = await ctx.api.json<Run>('GET', `/api/runs/${encodeURIComponent(first)}`);
      ctx.out.result(run, () => JSON.stringify(run, null, 2));
      return;
    }
    const q = new URLSearchParams();
    if (ctx.string('model')) q.set('model', ctx.string('model')!);
    if (ctx.string('status')) q.set('status', ctx.string('status')!);
    const { runs } = await ctx.api.json<{ runs: Run[] }>('GET', `/api/runs${q.size ? `?${q}` : ''}`);
    ctx.out.result(runs, () =>
      runs.length === 0
        ? ['no runs yet: npx strata train <model>']
        : table(runs, [
            { title: 'run', value: (r) => r.id },
            { title: 'status', value: (r) => r.status },
            { title: 'started', value: (r) => new Date(r.createdAt).toISOString() },
            { title: 'trainer', value: (r) => r.params.trainer },
            { title: 'version', value: (r) => show(r.version) },
            { title: 'auc', value: (r) => num(r.metrics?.candidate?.auc) },
            { title: 'gate', value: (r) => r.gate?.action ?? (r.error ? `failed at ${r.error.step}` : '-') },
            { title: 'took', value: (r) => (r.durationMs !== undefined ? formatDuration(r.durationMs) : '-') },
          ]),
    );
  },
};
