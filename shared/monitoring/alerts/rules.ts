/**
 * Alert rules: "when `metric` of a subject compares to `threshold` for `for` consecutive
 * windows, open an alert of `severity` and do `action`". A rule comes from a model's
 * monitoring definition (shared/definitions/monitoring.ts) or from POST /api/alerts/rules;
 * both are this schema, so a bad rule is refused the same way (400 naming the field).
 *
 * `metric` is a name from window-result.ts `windowMetrics` (drift_score, drift_detected,
 * dataset_drift, null_rate, out_of_range_share, unknown_category_share, dead_letters,
 * defaulted_share, contract_violation_share, performance_auc, ...) or `store_anomaly` (a
 * view's day summary scored against its history). `subject` narrows it to one feature,
 * source, output or performance kind (absent = each subject the metric has, each its own
 * alert); `model` / `view` narrow it to one model or view (absent = every one).
 */
import { z } from 'zod';
import { durationSchema } from '../duration-schema';
import { WINDOW_METRIC_NAMES } from '../window-result';

export const COMPARISONS = ['>', '>=', '<', '<='] as const;
export type Comparison = (typeof COMPARISONS)[number];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export const ACTIONS = ['notify', 'retrain'] as const;

const durationMs = durationSchema();
/** What a rule can watch: a window's metrics, or a view's scored day summary. */
const RULE_METRICS: ReadonlySet<string> = new Set([...WINDOW_METRIC_NAMES, 'store_anomaly']);

export const AlertRuleSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be 1-64 lower-case letters, digits, _ or -, starting with a letter'),
    // A metric no window gives would never fire: a typo is refused, not kept silently.
    metric: z.string().refine((m) => RULE_METRICS.has(m), {
      message: `must be one of ${[...RULE_METRICS].join(', ')}`,
    }),
    subject: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    view: z.string().min(1).optional(),
    comparison: z.enum(COMPARISONS, { message: `must be one of ${COMPARISONS.join(' ')}` }),
    threshold: z.number().finite(),
    /** Consecutive windows (or days, for store_anomaly) the condition must hold. */
    for: z.number().int().min(1).max(100).default(1),
    severity: z.enum(SEVERITIES, { message: `must be one of ${SEVERITIES.join(', ')}` }).default('warning'),
    action: z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(', ')}` }).default('notify'),
    /** After an alert resolves, the same rule and subject open no new alert for this long ("1h", or ms). */
    cooldown: durationMs.default(3_600_000),
    description: z.string().max(500).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.action === 'retrain' && r.metric === 'store_anomaly')
      ctx.addIssue({
        code: 'custom',
        path: ['action'],
        message: 'retrain needs a model; store_anomaly is about a view',
      });
    if (r.view !== undefined && r.metric !== 'store_anomaly')
      ctx.addIssue({ code: 'custom', path: ['view'], message: 'only store_anomaly rules name a view' });
  });
export type AlertRule = z.output<typeof AlertRuleSchema>;
export type AlertRuleInput = z.input<typeof AlertRuleSchema>;

/** Rules every deployment has (a rule with the same id, from a definition or the API, replaces one). */
export const DEFAULT_RULES: readonly AlertRule[] = Object.freeze([
  AlertRuleSchema.parse({
    id: 'dataset-drift',
    metric: 'dataset_drift',
    comparison: '>=',
    threshold: 1,
    severity: 'warning',
    description: "Half or more of a model's features drifted in a window.",
  }),
  AlertRuleSchema.parse({
    id: 'store-anomaly',
    metric: 'store_anomaly',
    comparison: '>=',
    threshold: 1,
    severity: 'warning',
    description: 'A day partition of a view is unlike its recent history (robust z-score).',
  }),
]);

export function breaches(rule: Pick<AlertRule, 'comparison' | 'threshold'>, value: number): boolean {
  switch (rule.comparison) {
    case '>':
      return value > rule.threshold;
    case '>=':
      return value >= rule.threshold;
    case '<':
      return value < rule.threshold;
    case '<=':
      return value <= rule.threshold;
  }
}
