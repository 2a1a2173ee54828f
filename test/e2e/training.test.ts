/**
 * Training end to end on one local host, over HTTP like a user: churn features and labels
 * arrive over Event Hubs; POST /api/jobs/train trains from them (two triggers, one job); the
 * job's status shows its steps and progress; the run records what happened; the gate makes the
 * first version production, canaries a better one and refuses one that is not better by the
 * margin; predict answers with the trained versions; runs compare side by side.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually, type HostProcess } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { ingestChurnHistory, type ChurnHistory } from '../helpers/train-fixtures';
import { WAIT_MS } from '../helpers/wait';
import { BlobBaselineStore } from '../../shared/azure/baseline-blobs';
import { storageFor } from '../../shared/azure/storage';
import { featureRepo } from '../../shared/definitions';

const storage = useAzurite('training-e2e-');
let host: HostProcess;
let history: ChurnHistory;
const admin = { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' };
const fkey = { 'x-functions-key': FUNCTION_KEY };

interface Job {
  id: string;
  kind: string;
  status: string;
  step: string | null;
  model: string | null;
  version: number | null;
  progress: { phase: string; done?: number; total?: number; unit?: string } | null;
  metrics: { candidate?: { auc: number }; production?: { auc: number } | null } | null;
  gate: { action: string; reason: string; productionVersion: number | null } | null;
  error: string | null;
}

beforeAll(async () => {
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
  });
  history = await ingestChurnHistory(host.baseUrl, ADMIN_KEY, storage.connectionString, { users: 400, events: 8000 });
}, 240_000);

afterAll(async () => {
  await host?.stop();
});

/** A user whose every churn_v1 feature is online (the signature requires them all). */
async function completeUser(): Promise<string> {
  for (const u of history.buyers) {
    const f = (await (await fetch(`${host.baseUrl}/api/features/${u}?service=churn_v1`, { headers: fkey })).json()) as {
      features: Record<string, unknown>;
    };
    if (Object.values(f.features).every((v) => v !== null)) return u;
  }
  throw new Error('no user has every churn_v1 feature online');
}
let user: string;

const train = (body: unknown, headers: Record<string, string> = admin) =>
  fetch(`${host.baseUrl}/api/jobs/train`, { method: 'POST', headers, body: JSON.stringify(body) });

async function finished(id: string, seen?: Set<string>): Promise<Job> {
  return eventually(
    async () => {
      const r = await fetch(`${host.baseUrl}/api/jobs/${id}`, { headers: fkey });
      expect(r.status).toBe(200);
      const j = (await r.json()) as Job;
      if (j.step) seen?.add(j.step);
      return j.status === 'COMPLETED' || j.status === 'FAILED' ? j : undefined;
    },
    180_000,
    `train job ${id} to finish`,
  );
}

describe('training over HTTP', () => {
  it('refuses bad train requests with a 4xx naming the field, and needs the admin key', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ model: 'churn', params: { l2: -1 } }, 400, 'params.l2'],
      [{ model: 'churn', labels: { source: 'nope', field: 'x' } }, 400, 'labels.source'],
      [{ model: 'churn', labels: { source: 'churn_labels', field: 'user_id' } }, 400, 'labels.field'],
      [{ model: 'churn', window: { last: 'soon' } }, 400, 'window'],
      [{ model: 'churn', gate: { policy: 'canary', metric: 'rmse' } }, 400, 'gate.metric'],
      [{ model: 'churn', trainer: 'nope' }, 400, 'trainer'],
      [{ model: 'churn', colour: 'red' }, 400, 'colour'],
      [{ model: 'nothing' }, 404, 'model'],
    ];
    for (const [body, status, where] of cases) {
      const r = await train(body);
      const text = await r.text();
      expect(r.status, text).toBe(status);
      expect(text).toContain(where);
    }
    expect((await train({ model: 'churn' }, { 'x-functions-key': FUNCTION_KEY })).status).toBe(401);
  });

  it('trains from ingested features, two triggers make one job, the first version becomes production and predicts', async () => {
    // A deliberately weak first model (one stump), so the second can beat it.
    const body = { model: 'churn', window: history.window, trainer: 'gbdt', params: { trees: 1, maxDepth: 1 } };
    const [a, b] = await Promise.all([train(body), train(body)]);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    const [ja, jb] = (await Promise.all([a.json(), b.json()])) as Array<{
      jobId: string;
      status: string;
      statusQueryGetUri: string;
      links: { job: string };
    }>;
    expect(ja!.jobId).toBe(jb!.jobId);
    expect([ja!.status, jb!.status].sort()).toEqual(['joined', 'started']);
    expect(a.headers.get('location')).toBe(ja!.statusQueryGetUri);

    const steps = new Set<string>();
    const job = await finished(ja!.jobId, steps);
    expect(job.error).toBeNull();
    expect(job.status).toBe('COMPLETED');
    expect(job.kind).toBe('train');
    expect(job.model).toBe('churn');
    expect(job.version).toBe(1);
    expect(job.gate).toMatchObject({ action: 'promoted', productionVersion: null });
    expect(job.progress).toMatchObject({ done: 1, total: 1, unit: 'trees' });
    expect(job.metrics!.candidate!.auc).toBeGreaterThan(0.55);
    // The version's baseline is where monitoring reads it, its features named as serving names
    // them (the prediction log's keys), one per feature of the service.
    const baseline = await (await BlobBaselineStore.open(storageFor(storage.connectionString))).get('churn', 1);
    expect(baseline?.features.map((f) => f.name)).toEqual(
      featureRepo.service('churn_v1').features.map((f) => `${f.view}:${f.feature}`),
    );

    // The finished job answers a third trigger instead of training again.
    const again = await train(body);
    expect(((await again.json()) as { status: string }).status).toBe('joined');

    const run = (await (await fetch(`${host.baseUrl}/api/runs/${ja!.jobId}`, { headers: fkey })).json()) as {
      status: string;
      trainingSet: { rows: number; labelSum: number };
      split: { trainRows: number; holdoutRows: number };
      steps: Record<string, { executions: number }>;
      artifacts: { model: string; baseline: string };
      curves: { train: number[] };
      params: { trainer: string; params: { trees: number } };
      durationMs: number;
      cpuSeconds: number;
      definitionVersions: Record<string, string>;
    };
    expect(run.status).toBe('COMPLETED');
    expect(run.trainingSet.rows).toBe(history.labels);
    expect(run.trainingSet.labelSum).toBe(history.positives);
    expect(run.split.trainRows + run.split.holdoutRows).toBe(history.labels);
    expect(run.split.holdoutRows).toBeGreaterThanOrEqual(Math.floor(history.labels * 0.2));
    expect(Object.values(run.steps).map((s) => s.executions)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(run.params).toMatchObject({ trainer: 'gbdt', params: { trees: 1 } });
    expect(run.curves.train).toHaveLength(1);
    expect(run.artifacts.model).toBe(`training-runs/${ja!.jobId}/model.onnx`);
    expect(run.artifacts.baseline).toBe(`training-runs/${ja!.jobId}/baseline.json`);
    expect(run.durationMs).toBeGreaterThan(0);
    expect(run.cpuSeconds).toBeGreaterThan(0);
    expect(Object.keys(run.definitionVersions)).toEqual(
      expect.arrayContaining(['service:churn_v1', 'source:churn_labels', 'view:user_clicks']),
    );

    // The new version serves: a user with every feature online.
    user = await completeUser();
    const p = await eventually(
      async () => {
        const r = await fetch(`${host.baseUrl}/api/predict/churn`, {
          method: 'POST',
          headers: { ...fkey, 'content-type': 'application/json' },
          body: JSON.stringify({ entityId: user }),
        });
        if (r.status !== 200) throw new Error(`predict answered ${r.status}: ${await r.text()}`);
        return (await r.json()) as { modelVersion: number; prediction: number };
      },
      WAIT_MS,
      `a prediction of churn for ${user}`,
    );
    expect(p.modelVersion).toBe(1);
    expect(p.prediction).toBeGreaterThan(0);
    expect(p.prediction).toBeLessThan(1);
  });

  it('canaries a version that beats production on the same holdout, refuses one that does not beat it by the margin', async () => {
    const better = await train({
      model: 'churn',
      window: history.window,
      trainer: 'logistic',
      gate: { policy: 'canary', metric: 'auc', margin: 0.005, canaryShare: 20 },
    });
    expect(better.status).toBe(202);
    const jb = (await better.json()) as { jobId: string };
    const job = await finished(jb.jobId);
    expect(job.status).toBe('COMPLETED');
    expect(job.version).toBe(2);
    expect(job.metrics!.candidate!.auc).toBeGreaterThan(job.metrics!.production!.auc + 0.005);
    expect(job.gate).toMatchObject({ action: 'canary', productionVersion: 1 });
    expect(job.gate!.reason).toContain('production v1');
    const state = (await (await fetch(`${host.baseUrl}/api/models/churn`, { headers: admin })).json()) as {
      model: { aliases: Record<string, number>; traffic: { canary: number } };
    };
    expect(state.model.aliases).toMatchObject({ production: 1, canary: 2 });
    expect(state.model.traffic.canary).toBe(20);

    const canary = await fetch(`${host.baseUrl}/api/predict/churn`, {
      method: 'POST',
      headers: { ...fkey, 'content-type': 'application/json', 'x-strata-model-version': 'canary' },
      body: JSON.stringify({ entityId: user }),
    });
    expect(canary.status, await canary.clone().text()).toBe(200);
    expect(((await canary.json()) as { modelVersion: number }).modelVersion).toBe(2);

    // Not better by a margin no model can clear: registered (staging), never served.
    const worse = await train({
      model: 'churn',
      window: history.window,
      trainer: 'logistic',
      params: { l2: 10 },
      gate: { policy: 'promote', metric: 'auc', margin: 0.5 },
    });
    const jw = (await worse.json()) as { jobId: string };
    const refused = await finished(jw.jobId);
    expect(refused.status).toBe('COMPLETED');
    expect(refused.gate).toMatchObject({ action: 'refused', productionVersion: 1 });
    expect(refused.gate!.reason).toContain('not better by the margin');
    const after = (await (await fetch(`${host.baseUrl}/api/models/churn`, { headers: admin })).json()) as {
      model: { aliases: Record<string, number> };
    };
    expect(after.model.aliases).toMatchObject({ production: 1, canary: 2, staging: 3 });

    // Runs side by side, and the jobs list.
    const cmp = (await (
      await fetch(`${host.baseUrl}/api/runs/compare?ids=${jb.jobId},${jw.jobId}`, { headers: fkey })
    ).json()) as {
      params: Array<{ name: string; values: unknown[]; differs: boolean }>;
      metrics: Array<{ name: string; differs: boolean }>;
    };
    expect(cmp.params.find((p) => p.name === 'params.l2')).toMatchObject({ values: [1, 10], differs: true });
    expect(cmp.params.find((p) => p.name === 'trainer')).toMatchObject({ differs: false });
    expect(cmp.metrics.map((m) => m.name)).toContain('candidate.auc');
    const list = (await (
      await fetch(`${host.baseUrl}/api/jobs?model=churn&status=COMPLETED`, { headers: fkey })
    ).json()) as { jobs: Job[] };
    expect(list.jobs.map((j) => j.id)).toEqual(expect.arrayContaining([jb.jobId, jw.jobId]));
    expect(list.jobs.every((j) => j.kind === 'train' && j.status === 'COMPLETED')).toBe(true);
    const runs = (await (await fetch(`${host.baseUrl}/api/runs?model=churn`, { headers: fkey })).json()) as {
      runs: Array<{ id: string }>;
    };
    expect(runs.runs).toHaveLength(3);
    expect((await fetch(`${host.baseUrl}/api/runs/compare?ids=${jb.jobId}`, { headers: fkey })).status).toBe(400);
    expect((await fetch(`${host.baseUrl}/api/jobs?status=DONE`, { headers: fkey })).status).toBe(400);
  });
});
