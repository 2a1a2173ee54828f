/**
 * The alert state machine, pure: one (rule, subject) pair and one new observation in, the
 * next state and what happened out. Kept apart from storage and delivery so its rules are
 * tested exactly:
 *
 *   - a breach counts toward `for` only once per window (a recomputed window is the same
 *     observation, and an older window than the last one seen changes nothing);
 *   - `for` consecutive breaches open an alert, unless the last one resolved less than
 *     `cooldown` ago (then it is suppressed, and says so);
 *   - while open, further breaches update its value: one open alert per rule and subject;
 *   - the first observation back on the normal side resolves it.
 */
import { breaches, type AlertRule } from './rules';

export type AlertStatus = 'open' | 'resolved';

export interface AlertState {
  ruleId: string;
  subject: string;
  model?: string;
  view?: string;
  status: AlertStatus | 'idle';
  severity: AlertRule['severity'];
  metric: string;
  /** The latest observed value and the window (or day) it came from (epoch ms). */
  value: number;
  at: number;
  /** Consecutive breaching observations up to `at`, and up to the observation before it. */
  streak: number;
  streakBefore: number;
  openedAt?: number;
  resolvedAt?: number;
  /** The window that opened it (what a retrain is keyed by). */
  openedAtWindow?: number;
  /** Whether the latest transition (open or resolve) has been delivered to the sinks. */
  delivered: boolean;
  /** Opens suppressed by the cooldown since the last resolve. */
  suppressed: number;
  message: string;
}

export type AlertTransition = 'opened' | 'resolved' | 'updated' | 'suppressed' | 'ignored' | 'none';

export interface Observation {
  subject: string;
  model?: string;
  view?: string;
  value: number;
  /** The window start (or day start) observed, epoch ms. */
  at: number;
}

export function step(
  rule: AlertRule,
  prev: AlertState | undefined,
  o: Observation,
  now: number,
): { next: AlertState; transition: AlertTransition } {
  if (prev && o.at < prev.at) return { next: prev, transition: 'ignored' };
  const breach = breaches(rule, o.value);
  // The same window seen again (recomputed after late data) replaces its own observation.
  const sameWindow = prev !== undefined && o.at === prev.at;
  const streakBefore = sameWindow ? prev!.streakBefore : (prev?.streak ?? 0);
  const streak = breach ? streakBefore + 1 : 0;
  const base: AlertState = {
    ruleId: rule.id,
    subject: o.subject,
    ...(o.model ? { model: o.model } : {}),
    ...(o.view ? { view: o.view } : {}),
    status: prev?.status ?? 'idle',
    severity: rule.severity,
    metric: rule.metric,
    value: o.value,
    at: o.at,
    streak,
    streakBefore,
    ...(prev?.openedAt !== undefined ? { openedAt: prev.openedAt } : {}),
    ...(prev?.resolvedAt !== undefined ? { resolvedAt: prev.resolvedAt } : {}),
    ...(prev?.openedAtWindow !== undefined ? { openedAtWindow: prev.openedAtWindow } : {}),
    delivered: prev?.delivered ?? true,
    suppressed: prev?.suppressed ?? 0,
    message: describe(rule, o),
  };
  if (prev?.status === 'open') {
    if (breach) return { next: base, transition: 'updated' };
    return { next: { ...base, status: 'resolved', resolvedAt: now, delivered: false }, transition: 'resolved' };
  }
  if (!breach || streak < rule.for) return { next: base, transition: 'none' };
  if (prev?.resolvedAt !== undefined && now - prev.resolvedAt < rule.cooldown) {
    return { next: { ...base, suppressed: base.suppressed + (sameWindow ? 0 : 1) }, transition: 'suppressed' };
  }
  return {
    next: { ...base, status: 'open', openedAt: now, openedAtWindow: o.at, delivered: false, suppressed: 0 },
    transition: 'opened',
  };
}

function describe(rule: AlertRule, o: Observation): string {
  return `${rule.metric} ${rule.comparison} ${rule.threshold}${rule.for > 1 ? ` for ${rule.for} windows` : ''}: ${o.subject} is ${round(o.value)} (${new Date(o.at).toISOString()})`;
}

const round = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Number(x.toPrecision(4)).toString());
