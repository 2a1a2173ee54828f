/**
 * The train job's pure core: configs checked against the sample repo (every problem named),
 * windows, the job's identity (same work, same id), the gate's decisions with hand-computed
 * margins, run comparison, and how a Durable status reads as a job.
 */
import { describe, expect, it } from 'vitest';
import { featureRepo } from '../../shared/definitions';
import { churnTraining, trainingConfigs } from '../../shared/definitions/training';
import { resolveTrainingConfig, resolveWindow } from '../../shared/training/config';
import { decideGate } from '../../shared/training/gate';
import { compareRuns, type TrainingRun } from '../../shared/training/runs';
import { jobStatusOf, jobView } from '../../shared/training/jobs-view';
import { parseTrainJob, parseTrainRequest, trainInstanceId } from '../../shared/training/train-job';
import { ValidationError } from '../../shared/errors';
import type { BinaryMetrics } from '../../shared/training/metrics';

const configs = (m: string) => (m === 'churn' ? churnTraining : undefined);
const NOW = Date.UTC(2026, 11, 1, 18, 40, 12);

function problems(fn: () => unknown): Array<{ where: string; problem: string }> {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.details;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

const binary = (auc: number | null): BinaryMetrics => ({
  task: 'binary',
  rows: 100,
  positives: 30,
  auc,
  logLoss: 0.5,
  accuracy: 0.7,
  brier: 0.2,
  calibration: [],
});

describe('training configs', () => {
  it('the declared churn config resolves: features as training-set columns, defaults filled', () => {
    const c = trainingConfigs().get('churn')!;
    expect(c.features.map((f) => f.column)).toEqual([
      'user_clicks__clicks_1h',
      'user_clicks__clicks_24h',
      'user_clicks__distinct_pages_24h',
      'user_purchases__purchases_7d',
      'user_purchases__spend_7d',
      'user_purchases__avg_order_30d',
      'user_purchases__max_order_30d',
      'user_engagement__spend_per_click',
      'user_engagement__is_active',
    ]);
    expect(c).toMatchObject({
      task: 'binary',
      knownAt: 'asOf',
      holdoutFraction: 0.2,
      cooldownMs: 3_600_000,
      gate: { policy: 'canary', metric: 'auc', margin: 0.005, canaryShare: 10 },
    });
    expect(c.params).toMatchObject({ l2: 1, maxIterations: 100 });
  });

  it('takes a five-field cron schedule as well as six-field NCRONTAB', () => {
    expect(resolveTrainingConfig(featureRepo, { ...churnTraining, schedule: '0 2 * * 0' }).schedule).toBe('0 2 * * 0');
    expect(
      problems(() => resolveTrainingConfig(featureRepo, { ...churnTraining, schedule: '0 2 * *' }))[0],
    ).toMatchObject({ where: 'schedule', problem: expect.stringContaining('or five') });
  });

  it('names every problem of a bad config at once', () => {
    const p = problems(() =>
      resolveTrainingConfig(featureRepo, {
        ...churnTraining,
        featureService: 'nope',
        labels: { source: 'purchases', expression: { field: 'currency', op: '>', value: 'EUR' } },
        gate: { policy: 'canary', metric: 'rmse' },
        schedule: '0 0 25 * * *',
        params: { l2: -1 },
      }),
    );
    expect(p.map((d) => d.where).sort()).toEqual([
      'featureService',
      'gate.metric',
      'labels.expression.op',
      'params.l2',
      'schedule',
    ]);
    expect(
      problems(() =>
        resolveTrainingConfig(featureRepo, { ...churnTraining, labels: { source: 'clicks', field: 'page' } }),
      )[0],
    ).toMatchObject({ where: 'labels.field', problem: expect.stringContaining('is string') });
    expect(
      problems(() =>
        resolveTrainingConfig(featureRepo, { ...churnTraining, window: { from: '2026-02-01', to: '2026-01-01' } }),
      )[0]!.where,
    ).toBe('window.to');
  });

  it('a `last` window ends at the hour and spans the duration', () => {
    expect(resolveWindow({ last: '30d' }, NOW)).toEqual({
      from: Date.UTC(2026, 11, 1, 18) - 30 * 86_400_000,
      to: Date.UTC(2026, 11, 1, 18),
    });
    expect(resolveWindow({ from: '2026-01-01T00:00:00Z', to: 1767312000000 }, NOW)).toEqual({
      from: Date.UTC(2026, 0, 1),
      to: 1767312000000,
    });
  });
});

describe('the train job', () => {
  it('the same work gets the same id; another window, trainer config or param another', () => {
    const a = parseTrainRequest(featureRepo, configs, { model: 'churn' }, NOW);
    const b = parseTrainRequest(featureRepo, configs, { model: 'churn', reason: 'alert:drift' }, NOW + 60_000);
    expect(trainInstanceId(a)).toBe(trainInstanceId(b));
    expect(trainInstanceId(a)).toMatch(/^train-churn-[0-9a-f]{24}$/);
    const ids = [
      parseTrainRequest(featureRepo, configs, { model: 'churn' }, NOW + 3_600_000),
      parseTrainRequest(featureRepo, configs, { model: 'churn', params: { l2: 2 } }, NOW),
      parseTrainRequest(featureRepo, configs, { model: 'churn', trainer: 'gbdt' }, NOW),
      parseTrainRequest(featureRepo, configs, { model: 'churn', gate: { policy: 'promote' } }, NOW),
    ].map(trainInstanceId);
    expect(new Set([trainInstanceId(a), ...ids]).size).toBe(5);
  });

  it('the orchestration reads its input by the same rules, the window exact', () => {
    const job = parseTrainRequest(featureRepo, configs, { model: 'churn', trainer: 'gbdt', params: { trees: 5 } }, NOW);
    expect(job.input).toEqual({
      model: 'churn',
      reason: 'http',
      overrides: { trainer: 'gbdt', params: { trees: 5 } },
      window: job.window,
    });
    expect(trainInstanceId(parseTrainJob(featureRepo, configs, JSON.parse(JSON.stringify(job.input))))).toBe(
      trainInstanceId(job),
    );
    expect(() => parseTrainJob(featureRepo, configs, { ...job.input, window: { from: 5, to: 1 } })).toThrow(
      /window\.to: from must be before to/,
    );
    expect(() =>
      parseTrainJob(featureRepo, configs, { ...job.input, overrides: { trainer: 'gbdt', params: { trees: 0 } } }),
    ).toThrow(/params\.trees/);
  });

  it('refuses unknown fields and models without a config', () => {
    expect(
      problems(() => parseTrainRequest(featureRepo, configs, { model: 'churn', colour: 1 }, NOW))[0]!.problem,
    ).toContain('colour');
    expect(() => parseTrainRequest(featureRepo, configs, { model: 'fraud' }, NOW)).toThrow(
      /model fraud has no training config/,
    );
  });
});

describe('the gate', () => {
  const g = { metric: 'auc' as const, margin: 0.01, productionVersion: 3 };
  it('canaries a candidate better by at least the margin, refuses one that is not', () => {
    expect(decideGate({ ...g, policy: 'canary', candidate: binary(0.82), production: binary(0.8) })).toMatchObject({
      action: 'canary',
      candidate: 0.82,
      production: 0.8,
      reason: expect.stringContaining('+0.0200'),
    });
    expect(decideGate({ ...g, policy: 'canary', candidate: binary(0.805), production: binary(0.8) })).toMatchObject({
      action: 'refused',
      reason: expect.stringContaining('not better by the margin'),
    });
    expect(decideGate({ ...g, policy: 'promote', candidate: binary(0.7), production: binary(0.8) }).action).toBe(
      'refused',
    );
    expect(decideGate({ ...g, policy: 'promote', candidate: binary(0.9), production: binary(0.8) }).action).toBe(
      'promoted',
    );
  });

  it('lower is better for losses; equal is never better', () => {
    const loss = (l: number): BinaryMetrics => ({ ...binary(0.8), logLoss: l });
    expect(
      decideGate({ ...g, metric: 'logLoss', margin: 0, policy: 'canary', candidate: loss(0.4), production: loss(0.45) })
        .action,
    ).toBe('canary');
    expect(
      decideGate({
        ...g,
        metric: 'logLoss',
        margin: 0,
        policy: 'canary',
        candidate: loss(0.45),
        production: loss(0.45),
      }).action,
    ).toBe('refused');
    expect(
      decideGate({ ...g, margin: 0, policy: 'canary', candidate: binary(0.8), production: binary(0.8) }).action,
    ).toBe('refused');
  });

  it('register only stages; a first version becomes production; no metric, no deployment', () => {
    expect(decideGate({ ...g, policy: 'register', candidate: binary(0.99), production: binary(0.5) }).action).toBe(
      'staged',
    );
    expect(
      decideGate({ ...g, policy: 'canary', productionVersion: null, candidate: binary(0.6), production: null }).action,
    ).toBe('promoted');
    expect(decideGate({ ...g, policy: 'canary', candidate: binary(null), production: binary(0.8) }).action).toBe(
      'refused',
    );
    expect(decideGate({ ...g, policy: 'canary', candidate: binary(0.9), production: null }).reason).toContain(
      'could not be scored',
    );
  });
});

describe('runs and jobs', () => {
  const run = (id: string, l2: number, auc: number): TrainingRun => ({
    id,
    model: 'churn',
    status: 'COMPLETED',
    reason: 'http',
    createdAt: 1,
    updatedAt: 1,
    steps: {},
    params: {
      trainer: 'logistic',
      params: { l2 },
      task: 'binary',
      seed: 0,
      holdoutFraction: 0.2,
      featureService: 'churn_v1',
      labels: {},
      knownAt: 'row',
      gate: {},
      tags: [],
    },
    window: { from: 0, to: 10 },
    definitionVersions: {},
    codeVersion: '0.1.0',
    metrics: { candidate: { ...binary(auc), logLoss: auc } },
    durationMs: 1000 * l2,
  });

  it('compares params and metrics side by side, marking differences and the best run', () => {
    const c = compareRuns([run('a', 1, 0.8), run('b', 3, 0.85)]);
    expect(c.params.find((p) => p.name === 'params.l2')).toEqual({ name: 'params.l2', values: [1, 3], differs: true });
    expect(c.params.find((p) => p.name === 'trainer')).toEqual({
      name: 'trainer',
      values: ['logistic', 'logistic'],
      differs: false,
    });
    expect(c.metrics.find((m) => m.name === 'candidate.auc')).toEqual({
      name: 'candidate.auc',
      values: [0.8, 0.85],
      differs: true,
      best: 1,
    });
    expect(c.metrics.find((m) => m.name === 'candidate.logLoss')!.best).toBe(0);
    expect(c.metrics.find((m) => m.name === 'durationMs')!.best).toBe(0);
    expect(c.metrics.find((m) => m.name === 'candidate.rows')).toMatchObject({ differs: false });
  });

  it('reads Durable statuses as a job queue reports them', () => {
    expect(['Pending', 'Running', 'Suspended', 'Completed', 'Failed', 'Terminated'].map(jobStatusOf)).toEqual([
      'PENDING',
      'RUNNING',
      'RUNNING',
      'COMPLETED',
      'FAILED',
      'FAILED',
    ]);
    const r = {
      ...run('train-x', 1, 0.8),
      status: 'RUNNING' as const,
      step: 'fit' as const,
      progress: { phase: 'fitting', done: 40, total: 100, unit: 'trees' },
    };
    const v = jobView(
      'train',
      { instanceId: 'train-x', runtimeStatus: 'Running', createdTime: new Date(0), customStatus: { step: 'fit' } },
      r,
    );
    expect(v).toMatchObject({
      id: 'train-x',
      kind: 'train',
      status: 'RUNNING',
      model: 'churn',
      step: 'fit',
      progress: { done: 40, total: 100 },
      links: { run: '/api/runs/train-x' },
    });
    const failed = jobView('backfill', { instanceId: 'b', runtimeStatus: 'Failed', output: 'boom\nstack' });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'boom', model: null, links: { run: null } });
  });
});
