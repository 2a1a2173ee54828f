/**
 * `npm run demo`, shortened (--quick): the whole loop against a running local host, as a
 * newcomer runs it beside `npm start`. Produce, features, two trained versions (production and
 * a 30% canary), traffic through predict, injected drift, a monitoring window, a retrain alert
 * whose train job runs, and the summary: the test reads the summary's JSON (stdout) and checks
 * that each step left its mark. The narration goes to stderr and is shown when it fails.
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, FUNCTION_KEY } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';
import { runCli } from '../helpers/cli';

interface Summary {
  events: number;
  labels: number;
  featuresOnline: number;
  versions: Array<{
    version: number;
    trainer: string | null;
    auc: number | null;
    gate: string | null;
    requests: number;
    p95Ms: number | null;
  }>;
  aliases: Record<string, number>;
  drifted: string[];
  alerts: number;
  retrainJob: {
    id: string;
    version: number | null;
    gate: { action: string; reason: string } | null;
    promoted: boolean;
  };
  steps: Array<{ step: string; ms: number }>;
  dashboard: string;
}

const { tmp, host } = useHost({ tempPrefix: 'strata-demo-' });

describe('npm run demo (--quick)', () => {
  it('runs the whole loop and its summary shows every step', async () => {
    const r = await runCli(['demo', '--quick', '--exit', '--json', '--url', host.baseUrl], {
      cwd: tmp.dir,
      env: { STRATA_ADMIN_KEY: ADMIN_KEY, STRATA_FUNCTION_KEY: FUNCTION_KEY },
      timeoutMs: 600_000,
    });
    expect(r.code, `${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`).toBe(0);
    const s = r.json<Summary>();
    expect(s.events).toBeGreaterThan(16_000);
    expect(s.labels).toBeGreaterThan(0);
    expect(s.featuresOnline).toBe(9);
    // v1 (logistic, production), v2 (trees, the canary), v3 (the alert's retrain).
    expect(s.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(s.versions[0]).toMatchObject({ trainer: 'logistic', gate: 'promoted' });
    // The produced users carry a known churn signal, and it depends on the time of day the demo
    // runs: churners fade over the 3-day history, so labels nearer its end carry more of it. v1
    // (every churn_v1 feature) scored 0.87 with the history ending at 01:00 UTC and 0.76 ending at
    // 22:00 (near the weakest: its last midnight is 22 h before the end); clicks_24h alone 0.74-0.87.
    // 0.68 leaves three standard errors of the ~800-label holdout below 0.76. A training
    // set with a partition's users missing their features (issue 16) scored 0.44-0.69; the loss
    // itself is caught exactly by test/integration/replayed-partitions.test.ts. The retrain (v3)
    // also has the snapshot after the last hour's events, with the same users' labels (the drift
    // step keeps --seed).
    expect(s.versions[0]!.auc, 'v1 finds the known churn signal').toBeGreaterThan(0.68);
    expect(s.versions[2]!.auc, 'the retrained version finds the known churn signal').toBeGreaterThan(0.6);
    expect(s.versions[1]).toMatchObject({ trainer: 'gbdt' });
    // Both live versions served traffic, with a latency each.
    for (const v of s.versions.slice(0, 2)) {
      expect(v.requests, `v${v.version} requests`).toBeGreaterThan(0);
      expect(v.p95Ms).toBeGreaterThan(0);
    }
    // Monitoring found drift in the window of these predictions (the injected purchase drift, and
    // the replayed history's windows against live ones), and the alert retrained.
    expect(s.drifted.length).toBeGreaterThan(0);
    expect(s.alerts).toBeGreaterThan(0);
    expect(s.retrainJob.version).toBe(3);
    expect(['canary', 'refused']).toContain(s.retrainJob.gate?.action);
    expect(s.retrainJob.promoted).toBe(s.retrainJob.gate?.action === 'canary');
    expect(s.aliases.production).toBe(s.retrainJob.promoted ? 3 : 1);
    expect(s.steps).toHaveLength(10);
    expect(s.dashboard).toBe(`${host.baseUrl}/api/dashboard/?code=${FUNCTION_KEY}`);
  }, 660_000);
});
