/**
 * Monitoring over HTTP on the local host, as a user runs it: after a platform run (clicks and
 * purchases ingested, churn v1 production and v2 canary, predictions logged to the offline
 * store), each version gets its training baseline (PUT, admin), an alert rule is added
 * (POST, admin; a bad one is refused naming the field), a window close is forced through the
 * admin route, and the drift, quality and performance APIs, the gauges on /api/metrics and
 * the open alerts answer from what the window computed. A second forced run computes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatformRun, type PlatformRun } from '../helpers/platform-run';
import { ADMIN_KEY, FUNCTION_KEY } from '../helpers/host-process';
import { runCli } from '../helpers/cli';
import { CHURN_REFS as REFS, churnBaseline } from '../helpers/monitoring-fixtures';

let run: PlatformRun;
let windowStart: string;

const put = (url: string, body: unknown) => run.put(url, body, ADMIN_KEY);

beforeAll(async () => {
  run = await startPlatformRun();
  const baseline = await churnBaseline();
  for (const v of [1, 2]) {
    const r = await put(`/api/models/churn/versions/${v}/baseline`, baseline);
    if (r.status !== 201) throw new Error(`baseline v${v}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  windowStart = new Date(run.predictionHour).toISOString();
}, 600_000);
afterAll(async () => run?.stop());

describe('monitoring on the local host', () => {
  it('refuses a bad baseline and a bad rule naming the field, and lists the rules in force', async () => {
    const bad = await put('/api/models/churn/versions/1/baseline', { schema: 'strata.baseline/1', rows: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { where: string }) => d.where)).toContain('body.rows');
    expect((await put('/api/models/churn/versions/9/baseline', {})).status).toBe(404);
    const rule = await run.post(
      '/api/alerts/rules',
      { id: 'churn-traffic', model: 'churn', metric: 'rows', comparison: '>=', threshold: 1, severity: 'info' },
      ADMIN_KEY,
    );
    expect(rule.status).toBe(201);
    // A bad rule, a metric no window gives and a view the repo lacks: each a 400 naming the field.
    for (const [body, where, problem] of [
      [{ id: 'x', metric: 'rows', comparison: '=>', threshold: 1 }, 'body.comparison', /^must be one of > >= < <=$/],
      [
        { id: 'x', model: 'churn', metric: 'drift_scores', comparison: '>', threshold: 1 },
        'body.metric',
        /^must be one of .*drift_score, /,
      ],
      [
        { id: 'x', view: 'user_clickz', metric: 'store_anomaly', comparison: '>=', threshold: 1 },
        'body.view',
        /no feature view named "user_clickz".*user_clicks/,
      ],
    ] as const) {
      const refused = await run.post('/api/alerts/rules', body, ADMIN_KEY);
      expect(refused.status, where).toBe(400);
      expect(refused.body.details).toEqual([{ where, problem: expect.stringMatching(problem) }]);
    }
    expect(
      (await run.post('/api/alerts/rules', { id: 'y', metric: 'rows', comparison: '>', threshold: 1 }, FUNCTION_KEY))
        .status,
    ).toBe(401);
    const rules = (await run.get('/api/alerts/rules')).body.rules.map((r: { id: string }) => r.id);
    expect(rules).toEqual(
      expect.arrayContaining(['dataset-drift', 'store-anomaly', 'churn-drift-retrain', 'churn-traffic']),
    );
  });

  it("a forced window close computes each version's window; the APIs, gauges and alerts show it; a second run computes nothing", async () => {
    const at = new Date(Date.parse(windowStart) + 3_600_000 + 60_000).toISOString();
    const first = await run.post('/api/monitoring/run', { at, settle: '0s' }, ADMIN_KEY);
    expect(first.status).toBe(200);
    const mine = first.body.windows.filter((w: { start: string }) => w.start === windowStart);
    expect(mine.map((w: { version: number; outcome: string; rows: number }) => [w.version, w.outcome, w.rows])).toEqual(
      [
        [1, 'computed', run.predictionsByVersion[1]],
        [2, 'computed', run.predictionsByVersion[2]],
      ],
    );

    const drift = await run.get(`/api/models/churn/drift?from=${encodeURIComponent(windowStart)}&version=1`);
    expect(drift.status).toBe(200);
    expect(drift.body.windows).toHaveLength(1);
    const w = drift.body.windows[0];
    expect(w).toMatchObject({
      model: 'churn',
      version: 1,
      start: windowStart,
      status: 'computed',
      rows: run.predictionsByVersion[1],
    });
    // Two dozen predictions: far below the minimum count, every verdict is "insufficient data".
    expect(w.drift.features).toHaveLength(REFS.length);
    expect(w.drift.features.every((f: { status: string }) => f.status === 'insufficient_data')).toBe(true);
    expect(w.drift.dataset.status).toBe('insufficient_data');

    const quality = await run.get(`/api/models/churn/quality?from=${encodeURIComponent(windowStart)}&version=1`);
    expect(
      quality.body.windows[0].quality.features.find((f: { feature: string }) => f.feature === 'user_clicks:clicks_1h'),
    ).toMatchObject({ nullRate: 0 });
    expect(quality.body.windows[0].quality.deadLetters.clicks).toBe(run.sent.invalidClicks);
    const perf = await run.get(`/api/models/churn/performance?from=${encodeURIComponent(windowStart)}`);
    // Estimated from the scores; realized waits for labels (churn_labels has none yet: 0% labelled, no metrics).
    expect(
      perf.body.windows.map((x: { performance: Array<{ kind: string; labelledShare: number }> }) =>
        x.performance.map((p) => [p.kind, p.kind === 'realized' ? p.labelledShare : 1]),
      ),
    ).toEqual([
      [
        ['estimated', 1],
        ['realized', 0],
      ],
      [
        ['estimated', 1],
        ['realized', 0],
      ],
    ]);
    expect((await run.get('/api/models/churn/drift?from=yesterday')).status).toBe(400);
    expect((await run.get('/api/models/nope/drift')).status).toBe(404);

    const metrics = await run.get('/api/metrics');
    expect(metrics.text).toMatch(
      /strata_data_quality_null_rate\{model="churn",version="1",feature="user_clicks:clicks_1h"\} 0/,
    );
    expect(metrics.text).toMatch(
      /strata_model_performance\{model="churn",version="2",kind="estimated",metric="accuracy"\} [\d.]+/,
    );

    const open = await run.get('/api/alerts?state=open');
    expect(
      open.body.alerts
        .filter((a: { ruleId: string }) => a.ruleId === 'churn-traffic')
        .map((a: { subject: string }) => a.subject)
        .sort(),
    ).toEqual(['churn/v1', 'churn/v2']);
    expect((await run.get('/api/alerts?state=maybe')).status).toBe(400);

    // The CLI shows the same alerts: a table by default, the API's answer with --json.
    const env = { STRATA_URL: run.host.baseUrl, STRATA_FUNCTION_KEY: FUNCTION_KEY, STRATA_ADMIN_KEY: ADMIN_KEY };
    const json = await runCli(['alerts', '--json'], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).alerts.map((a: { subject: string }) => a.subject)).toEqual(
      expect.arrayContaining(['churn/v1', 'churn/v2']),
    );
    const text = await runCli(['alerts'], { env });
    expect(text.stdout.split('\n')[0]).toMatch(/^status\s+severity\s+rule\s+subject/);
    expect(text.stdout).toMatch(/open\s+info\s+churn-traffic\s+churn\/v1/);
    expect((await runCli(['alerts', '--state', 'maybe'], { env })).code).toBe(2);
    const rulesOut = await runCli(['alerts', 'rules'], { env });
    expect(rulesOut.stdout).toMatch(/churn-drift-retrain\s+dataset_drift >= 1 for 2\s+churn\s+critical\s+retrain/);

    const second = await run.post('/api/monitoring/run', { at, settle: '0s' }, ADMIN_KEY);
    expect(
      second.body.windows
        .filter((x: { start: string }) => x.start === windowStart)
        .map((x: { outcome: string }) => x.outcome),
    ).toEqual(['unchanged', 'unchanged']);
  }, 300_000);
});
