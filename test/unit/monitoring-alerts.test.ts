/**
 * The alert state machine, step by step with hand-made observations: `for` consecutive
 * windows before opening, one open alert per rule and subject (dedupe), resolve on the first
 * normal window, cooldown after a resolve, a recomputed window replacing its own
 * observation, older windows ignored; and rule validation naming the field.
 */
import { describe, expect, it } from 'vitest';
import { step, type AlertState } from '../../shared/monitoring/alerts/engine';
import { AlertRuleSchema, breaches } from '../../shared/monitoring/alerts/rules';

const H = 3_600_000;
const rule = AlertRuleSchema.parse({
  id: 'nulls',
  metric: 'null_rate',
  comparison: '>',
  threshold: 0.1,
  for: 2,
  cooldown: '3h',
});

/** Feed (window index, value) pairs at "now" = the window's end; returns the transitions. */
function run(values: Array<[number, number]>, r = rule, start?: AlertState) {
  let state = start;
  const out: string[] = [];
  for (const [w, value] of values) {
    const { next, transition } = step(r, state, { subject: 'm/v1/x', model: 'm', value, at: w * H }, (w + 1) * H);
    state = next;
    out.push(transition);
  }
  return { transitions: out, state: state! };
}

describe('alert state machine', () => {
  it('opens after `for` consecutive breaching windows, stays one alert while breaching, resolves on the first normal one', () => {
    const { transitions, state } = run([
      [0, 0.2],
      [1, 0.05],
      [2, 0.3],
      [3, 0.4],
      [4, 0.5],
      [5, 0.01],
    ]);
    expect(transitions).toEqual(['none', 'none', 'none', 'opened', 'updated', 'resolved']);
    expect(state).toMatchObject({
      status: 'resolved',
      openedAt: 4 * H,
      openedAtWindow: 3 * H,
      resolvedAt: 6 * H,
      value: 0.01,
      streak: 0,
      delivered: false,
    });
  });

  it('a breach within the cooldown after a resolve is suppressed and counted; after it, a new alert opens', () => {
    const fourHours = { ...rule, cooldown: 4 * H };
    const { transitions, state } = run(
      [
        [0, 0.2],
        [1, 0.2],
        [2, 0],
        [3, 0.2],
        [4, 0.2],
        [5, 0.2],
        [7, 0.2],
      ],
      fourHours,
    );
    expect(
      run(
        [
          [0, 0.2],
          [1, 0.2],
          [2, 0],
          [3, 0.2],
          [4, 0.2],
          [5, 0.2],
        ],
        fourHours,
      ).state.suppressed,
    ).toBe(2);
    // resolved at 3 h; windows 4 and 5 end at 5 h and 6 h (< 4 h after), window 7 ends at 8 h (5 h after).
    expect(transitions).toEqual(['none', 'opened', 'resolved', 'none', 'suppressed', 'suppressed', 'opened']);
    expect(state).toMatchObject({ status: 'open', openedAt: 8 * H, suppressed: 0 });
  });

  it('a recomputed window replaces its own observation (late data can resolve or confirm it); an older window changes nothing', () => {
    const open = run([
      [0, 0.2],
      [1, 0.2],
    ]).state;
    expect(open.status).toBe('open');
    expect(run([[1, 0.2]], rule, open).transitions).toEqual(['updated']);
    expect(run([[1, 0.02]], rule, open)).toMatchObject({ transitions: ['resolved'], state: { status: 'resolved' } });
    expect(run([[0, 0.5]], rule, open)).toMatchObject({ transitions: ['ignored'], state: open });
    // Recomputing the window that made the streak 1 does not count twice.
    const one = run([[0, 0.2]]).state;
    expect(run([[0, 0.3]], rule, one)).toMatchObject({ transitions: ['none'], state: { streak: 1 } });
  });

  it('comparisons', () => {
    expect([
      breaches({ comparison: '>', threshold: 1 }, 1),
      breaches({ comparison: '>=', threshold: 1 }, 1),
      breaches({ comparison: '<', threshold: 1 }, 0.5),
      breaches({ comparison: '<=', threshold: 1 }, 2),
    ]).toEqual([false, true, true, false]);
  });

  it('a rule is validated with the field named; defaults fill the rest', () => {
    const bad = AlertRuleSchema.safeParse({
      id: 'Bad Id',
      metric: 'nul_rate',
      comparison: '=>',
      threshold: 'high',
      cooldown: 'soon',
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'comparison',
      'cooldown',
      'id',
      'metric',
      'threshold',
    ]);
    // A metric no window gives would never fire: refused, with the names there are.
    expect(bad.error!.issues.find((i) => i.path[0] === 'metric')!.message).toMatch(
      /^must be one of rows, drift_score, .*null_rate, .*performance_auc, .*store_anomaly$/,
    );
    expect(AlertRuleSchema.parse({ id: 'r', metric: 'performance_auc', comparison: '<', threshold: 0.7 })).toEqual({
      id: 'r',
      metric: 'performance_auc',
      comparison: '<',
      threshold: 0.7,
      for: 1,
      severity: 'warning',
      action: 'notify',
      cooldown: 3_600_000,
    });
    expect(
      AlertRuleSchema.safeParse({ id: 'r', metric: 'store_anomaly', comparison: '>=', threshold: 1, action: 'retrain' })
        .error!.issues[0]!.path,
    ).toEqual(['action']);
  });
});
