/**
 * Training configs: what a model is trained from and how, declared beside the feature
 * definitions (shared/definitions/training.ts) and overridable per job (POST /api/jobs/train).
 *
 *   labels     a label source and its label field (`{source: 'churn_labels', field: 'churned'}`),
 *              or a label expression over any source (`{source: 'purchases', expression:
 *              {field: 'amount', op: '>=', value: 100}}`: 1 where it holds); the spine is the
 *              label events in the window
 *   window     `{from, to}` (ISO-8601 or epoch ms) or `{last: '30d'}` (up to now)
 *   knownAt    'row' (default: each feature as it was known at the label's time) or 'asOf'
 *              (as known at the window's end: for history ingested after the fact)
 *   trainer    a registered trainer and its params, task, seed, holdout share
 *   gate       register (staging only) | canary | promote, on a metric with a margin
 *   schedule   an NCRONTAB schedule for the timer (six fields or five, UTC), cooldown, tags (`heavy`)
 *
 * Everything is checked twice over by one function, `resolveTrainingConfig`: its zod schema
 * (shapes), then the repo (the service, the source and its fields) and the trainer (params),
 * every problem named by its path, so a bad declaration fails at load and a bad request
 * answers 400 naming the field. The schedule is parsed by the NCRONTAB parser the local host's timers use
 * (a pure module with Azure's semantics), so what is accepted here is what the timer runs.
 */
import { z } from 'zod';
import { ValidationError, detailsFromZod, type ErrorDetail } from '../errors';
import type { FeatureRepo } from '../features/definitions/repo';
import { parseDuration } from '../features/definitions/duration';
import { clientTimeSchema } from '../times';
import { nameSchema } from '../names';
import { parseSchedule } from '../schedule/ncrontab';
import { TASKS, type Task } from './data';
import { getTrainer } from './trainers';

export const GATE_POLICIES = ['register', 'canary', 'promote'] as const;
export type GatePolicy = (typeof GATE_POLICIES)[number];

/** Gate metrics and which way is better. */
export const GATE_METRICS = {
  auc: 'higher',
  accuracy: 'higher',
  logLoss: 'lower',
  brier: 'lower',
  rmse: 'lower',
  mae: 'lower',
  r2: 'higher',
} as const;
export type GateMetric = keyof typeof GATE_METRICS;
const METRICS_OF: Record<Task, GateMetric[]> = {
  binary: ['auc', 'accuracy', 'logLoss', 'brier'],
  regression: ['rmse', 'mae', 'r2'],
};

export const LABEL_OPS = ['==', '!=', '>', '>=', '<', '<='] as const;

const duration = z.union([z.string(), z.number()]).superRefine((d, ctx) => {
  try {
    parseDuration(d);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const LabelSpecSchema = z.union(
  [
    z.object({ source: nameSchema('definition'), field: nameSchema('definition') }).strict(),
    z
      .object({
        source: nameSchema('definition'),
        expression: z
          .object({
            field: nameSchema('definition'),
            op: z.enum(LABEL_OPS),
            value: z.union([z.number().finite(), z.string(), z.boolean()]),
          })
          .strict(),
      })
      .strict(),
  ],
  { message: 'give {source, field} (a label column) or {source, expression: {field, op, value}}' },
);
export type LabelSpec = z.infer<typeof LabelSpecSchema>;

export const WindowSpecSchema = z.union(
  [
    z
      .object({ from: clientTimeSchema, to: clientTimeSchema })
      .strict()
      .refine((w) => w.from < w.to, { message: 'from must be before to', path: ['to'] }),
    z.object({ last: duration }).strict(),
  ],
  { message: 'give {from, to} (ISO-8601 times or epoch ms) or {last: "30d"}' },
);
export type WindowSpec = z.input<typeof WindowSpecSchema>;

export const GateSchema = z
  .object({
    policy: z.enum(GATE_POLICIES),
    /** The metric compared on the holdout (default: auc for binary, rmse for regression). */
    metric: z.enum(Object.keys(GATE_METRICS) as [GateMetric, ...GateMetric[]]).optional(),
    /** How much better than production the new version must be (in the metric's units; default 0). */
    margin: z.number().finite().min(0, 'must be 0 or more').default(0),
    /** Canary policy: the share of live traffic the canary gets, percent (default 10). */
    canaryShare: z.number().gt(0, 'must be more than 0').max(100).default(10),
  })
  .strict();

export const TrainingConfigSchema = z
  .object({
    model: nameSchema('model'),
    description: z.string().max(500).optional(),
    featureService: nameSchema('definition'),
    labels: LabelSpecSchema,
    window: WindowSpecSchema,
    knownAt: z.enum(['row', 'asOf']).default('row'),
    task: z.enum(TASKS).default('binary'),
    trainer: z.string().min(1),
    params: z.record(z.string(), z.unknown()).default({}),
    seed: z.number().int().default(0),
    holdoutFraction: z.number().gt(0, 'must be more than 0').lt(1, 'must be less than 1').default(0.2),
    threads: z.number().int().min(1).max(64).default(1),
    gate: GateSchema.default({ policy: 'register', margin: 0, canaryShare: 10 }),
    schedule: z.string().min(1).optional(),
    /** Least time between two automatic starts (schedule, alerts) of this model's training; HTTP is not held back. */
    cooldown: duration.default('1h'),
    tags: z.array(z.string().min(1).max(40)).max(20).default([]),
  })
  .strict();

export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>;

/** A config checked against the repo and the trainer: what a job runs. */
export interface TrainingConfig {
  model: string;
  description?: string;
  featureService: string;
  /** The service's features in model input order (`view:feature`), and their column names in the training set. */
  features: Array<{ view: string; feature: string; column: string }>;
  labels: LabelSpec;
  window: WindowSpec;
  knownAt: 'row' | 'asOf';
  task: Task;
  trainer: string;
  /** As the trainer resolved them (defaults filled). */
  params: unknown;
  seed: number;
  holdoutFraction: number;
  threads: number;
  gate: { policy: GatePolicy; metric: GateMetric; margin: number; canaryShare: number };
  schedule?: string;
  cooldownMs: number;
  tags: string[];
}

function throwIfAny(message: string, details: ErrorDetail[]): void {
  if (details.length)
    throw new ValidationError(`${message}: ${details.map((d) => `${d.where}: ${d.problem}`).join('; ')}`, details);
}

/** Validate a config (declared or asked for) against the repo and the trainer registry; every problem named at once, under `where`. */
export function resolveTrainingConfig(repo: FeatureRepo, raw: unknown, where = ''): TrainingConfig {
  const at = (p: string) => (where ? `${where}.${p}` : p);
  const r = TrainingConfigSchema.safeParse(raw);
  if (!r.success) throwIfAny('invalid training config', detailsFromZod(r.error.issues, where || undefined));
  const c = r.data!;
  const problems: ErrorDetail[] = [];

  const svc = repo.services.get(c.featureService);
  if (!svc)
    problems.push({
      where: at('featureService'),
      problem: `no feature service "${c.featureService}"; known: ${[...repo.services.keys()].join(', ') || '(none)'}`,
    });
  const src = repo.sources.get(c.labels.source);
  if (!src) {
    problems.push({
      where: at('labels.source'),
      problem: `no source "${c.labels.source}"; known: ${[...repo.sources.keys()].join(', ')}`,
    });
  } else if ('field' in c.labels) {
    const f = src.fields[c.labels.field];
    if (!f)
      problems.push({
        where: at('labels.field'),
        problem: `source ${src.name} has no field "${c.labels.field}"; it has ${Object.keys(src.fields).join(', ')}`,
      });
    else if (f.type !== 'bool' && f.type !== 'int' && f.type !== 'float')
      problems.push({
        where: at('labels.field'),
        problem: `${src.name}.${c.labels.field} is ${f.type}; a label is a boolean or a number (or use a label expression)`,
      });
  } else {
    const e = c.labels.expression;
    const f = src.fields[e.field];
    if (!f)
      problems.push({
        where: at('labels.expression.field'),
        problem: `source ${src.name} has no field "${e.field}"; it has ${Object.keys(src.fields).join(', ')}`,
      });
    else {
      const want = f.type === 'bool' ? 'boolean' : f.type === 'string' ? 'string' : 'number';
      if (typeof e.value !== want)
        problems.push({
          where: at('labels.expression.value'),
          problem: `${src.name}.${e.field} is ${f.type}: compare it with a ${want}`,
        });
      if (want !== 'number' && e.op !== '==' && e.op !== '!=')
        problems.push({
          where: at('labels.expression.op'),
          problem: `${e.op} compares numbers; ${src.name}.${e.field} is ${f.type} (use == or !=)`,
        });
    }
  }
  const joinKey = svc ? repo.view(svc.features[0]!.view).joinKey : undefined;
  if (src && joinKey !== undefined && !(joinKey in src.fields)) {
    problems.push({
      where: at('labels.source'),
      problem: `source ${src.name} has no field ${joinKey} (the join key of the service's entity)`,
    });
  }
  const metric: GateMetric = c.gate.metric ?? (c.task === 'binary' ? 'auc' : 'rmse');
  if (!METRICS_OF[c.task].includes(metric))
    problems.push({
      where: at('gate.metric'),
      problem: `${metric} is not a ${c.task} metric; use one of ${METRICS_OF[c.task].join(', ')}`,
    });
  if (c.schedule !== undefined) {
    try {
      parseSchedule(c.schedule);
    } catch (e) {
      problems.push({
        where: at('schedule'),
        problem: `${(e as Error).message} (NCRONTAB, UTC: six fields, seconds first, e.g. "0 0 2 * * 0" for Sundays 02:00, or five, e.g. "0 2 * * 0")`,
      });
    }
  }
  let params: unknown = c.params;
  try {
    const trainer = getTrainer(c.trainer);
    if (!trainer.tasks.includes(c.task))
      problems.push({ where: at('task'), problem: `trainer ${trainer.name} does ${trainer.tasks.join(', ')}` });
    params = trainer.parseParams(c.params);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    for (const d of e.details) problems.push({ where: at(d.where), problem: d.problem });
  }
  throwIfAny('invalid training config', problems);
  return {
    model: c.model,
    ...(c.description !== undefined ? { description: c.description } : {}),
    featureService: c.featureService,
    features: svc!.features.map((f) => ({ view: f.view, feature: f.feature, column: `${f.view}__${f.feature}` })),
    labels: c.labels,
    window: c.window,
    knownAt: c.knownAt,
    task: c.task,
    trainer: c.trainer,
    params,
    seed: c.seed,
    holdoutFraction: c.holdoutFraction,
    threads: c.threads,
    gate: { policy: c.gate.policy, metric, margin: c.gate.margin, canaryShare: c.gate.canaryShare },
    ...(c.schedule !== undefined ? { schedule: c.schedule } : {}),
    cooldownMs: parseDuration(c.cooldown),
    tags: c.tags,
  };
}

/** A window as epoch ms: `last` ends at `now` rounded down to the hour, so triggers within an hour ask for the same window. */
export function resolveWindow(w: WindowSpec, now: number): { from: number; to: number } {
  if ('last' in w) {
    const to = Math.floor(now / 3_600_000) * 3_600_000;
    return { from: to - parseDuration(w.last), to };
  }
  const parsed = WindowSpecSchema.parse(w) as { from: number; to: number };
  return { from: parsed.from, to: parsed.to };
}

export function isBetter(metric: GateMetric, a: number, b: number, margin: number): boolean {
  return GATE_METRICS[metric] === 'higher' ? a >= b + margin && a > b : a <= b - margin && a < b;
}
