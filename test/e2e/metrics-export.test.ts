/**
 * The metrics leave the app for real, from one short ingest + predict run on the local host:
 *
 * - Prometheus: Debian's prometheus scrapes /api/metrics with the function key, using
 *   infra/monitoring/prometheus.yml. Through Prometheus' HTTP API, the serving, ingest and
 *   training-job metrics must arrive with their names, types and labels and the values the run
 *   produced (two real train jobs: one over a window without labels, which fails, and one over
 *   labels sent here, which completes; its gate only registers, so serving's traffic is
 *   untouched); and every PromQL query of the Grafana dashboard (infra/monitoring/grafana/
 *   dashboards/strata.json) must return data.
 * - Application Insights, without the cloud: the host runs with
 *   APPLICATIONINSIGHTS_CONNECTION_STRING whose IngestionEndpoint is an HTTPS server in this
 *   test (a certificate made for it, trusted through NODE_EXTRA_CA_CERTS: the exporter only
 *   speaks HTTPS), so the real @azure/monitor-opentelemetry exporter posts its envelopes here.
 *   The custom metrics it sent must add up to the numbers of /api/metrics (counters arrive as
 *   deltas per export interval; histograms as their _bucket/_sum/_count series), with the
 *   Prometheus labels as properties. The exporter signs in as infra/ deploys it
 *   (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=ClientId=<id>;Authorization=AAD: local auth is
 *   off there): every post carries a bearer token for Azure Monitor, from the managed identity
 *   protocol's stand-in (test/helpers/token-issuer.ts, the only stub).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startPlatformRun, USERS, type PlatformRun } from '../helpers/platform-run';
import { prometheusConfig, startPrometheus, type Prometheus } from '../helpers/prometheus';
import { ADMIN_KEY, FUNCTION_KEY, ROOT, eventually } from '../helpers/host-process';
import { ensureDebianPackage } from '../helpers/debian';
import { tempDir } from '../helpers/temp';
import { LATENCY_BUCKETS_MS } from '../../shared/serving/metrics';
import { JOB_DURATION_BUCKETS_S } from '../../shared/training/job-metrics';
import { WAIT_MS } from '../helpers/wait';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer';

interface MetricEnvelope {
  name: string;
  time: string;
  data: {
    baseType: string;
    baseData: { metrics: Array<{ name: string; value: number; count?: number }>; properties?: Record<string, string> };
  };
}

let run: PlatformRun;
let prom: Prometheus;
let server: https.Server;
const certs = tempDir('strata-ai-tls-');
const envelopes: MetricEnvelope[] = [];
const paths = new Set<string>();
/** The Authorization header of every post to the ingestion endpoint. */
const authorizations: Array<string | undefined> = [];
const TELEMETRY_CLIENT_ID = '3b7e5c21-0000-4000-8000-0000000a1e75';
let issuer: TokenIssuer;
const extra = { requests: 0, predictions: 0, clicks: 0 };
/** When the scrapes after the extra traffic were in: rates over the minute before it are not zero. */
let evalAt = 0;
interface FinishedJob {
  id: string;
  status: string;
  version: number | null;
  metrics: { candidate?: Record<string, number> } | null;
  durationMs: number;
}
/** The two train jobs, as the jobs and runs APIs report them once finished. */
const jobs: { failed?: FinishedJob; completed?: FinishedJob } = {};

/** Start a train job of the churn model over `window` (gate: register only) and follow it to its end. */
async function trainToEnd(window: { from: string; to: string }): Promise<FinishedJob> {
  const started = await run.post(
    '/api/jobs/train',
    { model: 'churn', window, gate: { policy: 'register' } },
    ADMIN_KEY,
  );
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const id = started.body.jobId as string;
  const job = await eventually(
    async () => {
      const j = (await run.get(`/api/jobs/${id}`)).body as Omit<FinishedJob, 'durationMs'>;
      return j.status === 'COMPLETED' || j.status === 'FAILED' ? j : undefined;
    },
    WAIT_MS,
    `train job ${id} to finish`,
  );
  const runRecord = (await run.get(`/api/runs/${id}`)).body as { durationMs: number };
  return { ...job, id, durationMs: runRecord.durationMs };
}

/** A self-signed certificate for 127.0.0.1 (openssl), valid for a day. */
function certificate(): { key: string; cert: string; certFile: string } {
  ensureDebianPackage('openssl', 'openssl');
  const keyFile = path.join(certs.dir, 'key.pem');
  const certFile = path.join(certs.dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
}

beforeAll(async () => {
  const tls = certificate();
  server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.add(`${req.method} ${req.url}`);
      if (req.method === 'POST') authorizations.push(req.headers.authorization);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const items = JSON.parse(body.toString('utf8') || '[]') as MetricEnvelope[];
      for (const e of Array.isArray(items) ? items : [items]) if (e.data?.baseType === 'MetricData') envelopes.push(e);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const endpoint = `https://127.0.0.1:${port}/`;
  issuer = await startTokenIssuer();
  run = await startPlatformRun({
    env: {
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${TELEMETRY_CLIENT_ID};Authorization=AAD`,
      IDENTITY_ENDPOINT: issuer.url,
      IDENTITY_HEADER: issuer.secret,
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=${endpoint};LiveEndpoint=${endpoint}`,
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      NODE_EXTRA_CA_CERTS: tls.certFile,
      // Nothing may leave the machine: no statsbeat to Microsoft's endpoints, and the Functions
      // resource detector (an app name) instead of the VM detector's metadata-service probe.
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
      WEBSITE_SITE_NAME: 'strata-e2e',
      FUNCTIONS_EXTENSION_VERSION: '~4',
    },
  });
  prom = await startPrometheus(
    path.join(run.dir, 'prometheus'),
    prometheusConfig(`127.0.0.1:${run.host.port}`, FUNCTION_KEY),
  );
  await eventually(async () => ((await prom.scrapes('strata')) >= 1 ? true : undefined), WAIT_MS, 'a first scrape');
  // Churn labels for every user, ten and two minutes ago (three churned), after their clicks and purchases.
  const labelAt = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const labels = USERS.flatMap((u, i) => [10, 2].map((m) => ({ user_id: u, ts: labelAt(m), churned: i < 3 })));
  expect(
    (await run.post('/api/_local/eventhubs/churn_labels?partitionKeyField=user_id', labels, ADMIN_KEY)).status,
  ).toBe(202);
  await eventually(
    async () =>
      (await scraped('strata_ingest_records_total', 'source', 'outcome'))['churn_labels/accepted'] === labels.length
        ? true
        : undefined,
    WAIT_MS,
    `the ${labels.length} churn labels ingested`,
  );
  jobs.failed = await trainToEnd({ from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' });
  jobs.completed = await trainToEnd({ from: labelAt(60), to: new Date().toISOString() });
  // Traffic between scrapes, so rates over the last minute are not zero.
  const now = Date.now();
  for (const u of USERS) {
    const r = await run.post('/api/predict/churn', { entityId: u });
    expect(r.status).toBe(200);
    extra.requests++;
    extra.predictions++;
  }
  expect((await run.post('/api/predict/churn', { entityId: 'nobody' })).status).toBe(422);
  const clicks = USERS.map((u) => ({ user_id: u, page: '/later', ts: new Date(now - 60_000).toISOString() }));
  expect(
    (
      await run.post(
        '/api/_local/eventhubs/clicks?partitionKeyField=user_id',
        [...clicks, { user_id: 'u1' }],
        ADMIN_KEY,
      )
    ).status,
  ).toBe(202);
  extra.clicks = clicks.length;
  const before = await prom.scrapes('strata');
  await eventually(
    async () => {
      const ingested = await prom.query(
        'sum(strata_ingest_records_total{job="strata",source="clicks",outcome="rejected"})',
      );
      // Every partition's batch, not only u1's: partitions are ingested independently.
      const accepted = await prom.query(
        'sum(strata_ingest_records_total{job="strata",source="clicks",outcome="accepted"})',
      );
      const allAccepted = Number(accepted[0]?.value[1]) === run.sent.clicks - run.sent.invalidClicks + extra.clicks;
      return Number(ingested[0]?.value[1]) === 2 && allAccepted && (await prom.scrapes('strata')) >= before + 2
        ? true
        : undefined;
    },
    WAIT_MS,
    'two more scrapes after the extra traffic, carrying the second dead-lettered click and every extra click',
  );
  evalAt = Date.now() / 1000;
}, 420_000);

afterAll(async () => {
  await prom?.stop();
  await run?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await issuer?.close();
  certs.cleanup();
});

/** Sum of the exported deltas of one metric, by the given properties. */
function exported(metric: string, ...keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of envelopes) {
    for (const m of e.data.baseData.metrics) {
      if (m.name !== metric) continue;
      const k = keys.map((x) => e.data.baseData.properties?.[x]).join('/');
      out[k] = (out[k] ?? 0) + m.value;
    }
  }
  return out;
}

/** One metric of /api/metrics (Prometheus text), by the given labels. */
async function scraped(metric: string, ...keys: string[]): Promise<Record<string, number>> {
  const text = (await run.get('/api/metrics')).text;
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const k = keys.map((x) => labels[x]).join('/');
    out[k] = (out[k] ?? 0) + Number(m[3]);
  }
  return out;
}

const byLabels = (samples: Array<{ metric: Record<string, string>; value: [number, string] }>, ...keys: string[]) =>
  Object.fromEntries(samples.map((s) => [keys.map((k) => s.metric[k]).join('/'), Number(s.value[1])]));

describe('Prometheus scrapes /api/metrics with the key', () => {
  it('scrapes the target successfully (up = 1) and keeps the metric types', async () => {
    expect(byLabels(await prom.query('up{job="strata"}'), 'instance')).toEqual({ [`127.0.0.1:${run.host.port}`]: 1 });
    const meta = (await (await fetch(`${prom.url}/api/v1/metadata`)).json()) as {
      data: Record<string, Array<{ type: string }>>;
    };
    const types = Object.fromEntries(
      Object.entries(meta.data)
        .filter(([n]) => n.startsWith('strata_'))
        .map(([n, m]) => [n, m[0]!.type]),
    );
    expect(types).toEqual({
      strata_predict_requests_total: 'counter',
      strata_predictions_total: 'counter',
      strata_predict_errors_total: 'counter',
      strata_predict_duration_seconds: 'histogram',
      strata_ingest_records_total: 'counter',
      strata_ingest_feature_rows_total: 'counter',
      strata_ingest_batches_total: 'counter',
      // Monitoring's newest window per model version (none computed in this run: the types are still declared).
      strata_drift_score: 'gauge',
      strata_drift_detected: 'gauge',
      strata_data_quality_null_rate: 'gauge',
      strata_data_quality_out_of_range_share: 'gauge',
      strata_data_quality_unknown_category_share: 'gauge',
      strata_data_quality_defaulted_share: 'gauge',
      strata_data_quality_contract_violation_share: 'gauge',
      strata_data_quality_feature_age_seconds: 'gauge',
      strata_model_performance: 'gauge',
      strata_monitoring_window_end_seconds: 'gauge',
      strata_training_jobs_started_total: 'counter',
      strata_training_jobs_finished_total: 'counter',
      strata_training_jobs_running: 'gauge',
      strata_training_job_duration_seconds: 'histogram',
      strata_training_candidate_metric: 'gauge',
    });
  });

  it('serving: requests, predictions and errors per model version with the counts the run made', async () => {
    const requests = byLabels(
      await prom.query('strata_predict_requests_total{job="strata"}'),
      'model',
      'version',
      'shadow',
    );
    const served = (await run.get('/api/models/churn/timeseries')).body as {
      versions: Array<{ version: number; totals: { requests: number; predictions: number } }>;
    };
    const expected = Object.fromEntries(served.versions.map((v) => [`churn/${v.version}/false`, v.totals.requests]));
    expect(requests).toEqual(expected); // what the prediction log in the offline store counted too
    const initial = Object.values(run.requestsByVersion).reduce((a, b) => a + b, 0);
    expect(Object.values(requests).reduce((a, b) => a + b, 0)).toBe(initial + extra.requests);
    const predictions = byLabels(await prom.query('strata_predictions_total{job="strata"}'), 'model', 'version');
    const initialPredictions = Object.values(run.predictionsByVersion).reduce((a, b) => a + b, 0);
    expect(Object.values(predictions).reduce((a, b) => a + b, 0)).toBe(initialPredictions + extra.predictions);
    const errors = await prom.query('strata_predict_errors_total{job="strata"}');
    expect(errors.map((e) => [e.metric.model, e.metric.shadow, e.metric.status, Number(e.value[1])])).toEqual([
      ['churn', 'false', '422', run.failedRequests + 1],
    ]);
  });

  it('serving: the latency histogram in seconds with fixed buckets, so instances merge by summing', async () => {
    const buckets = await prom.query('strata_predict_duration_seconds_bucket{job="strata",version="1",shadow="false"}');
    const les = buckets
      .map((b) => b.metric.le!)
      .sort((a, b) => (a === '+Inf' ? Infinity : Number(a)) - (b === '+Inf' ? Infinity : Number(b)));
    expect(les).toEqual([...LATENCY_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf']);
    const count = Number(
      (await prom.query('strata_predict_duration_seconds_count{job="strata",version="1",shadow="false"}'))[0]!.value[1],
    );
    expect(Number(buckets.find((b) => b.metric.le === '+Inf')!.value[1])).toBe(count);
    const p99 = await prom.query(
      'histogram_quantile(0.99, sum by (le) (strata_predict_duration_seconds_bucket{job="strata"}))',
    );
    expect(Number(p99[0]!.value[1])).toBeGreaterThan(0);
    expect(Number(p99[0]!.value[1])).toBeLessThan(10); // seconds, not milliseconds
  });

  it('ingest: records per source and outcome, feature rows per view, batches per status', async () => {
    const records = byLabels(await prom.query('strata_ingest_records_total{job="strata"}'), 'source', 'outcome');
    expect(records['clicks/accepted']).toBe(run.sent.clicks - run.sent.invalidClicks + extra.clicks);
    expect(records['clicks/rejected']).toBe(run.sent.invalidClicks + 1);
    expect(records['clicks/late']).toBe(run.sent.lateClicks);
    expect(records['purchases/accepted']).toBe(run.sent.purchases);
    expect(records['predictions/accepted']).toBeGreaterThan(0);
    const rows = byLabels(await prom.query('strata_ingest_feature_rows_total{job="strata"}'), 'view');
    expect(Object.keys(rows).sort()).toEqual(['user_clicks', 'user_engagement', 'user_purchases']);
    const batches = await prom.query('strata_ingest_batches_total{job="strata"}');
    expect(new Set(batches.map((b) => b.metric.status))).toContain('ingested');
  });
});

describe('Prometheus has the training jobs the run started', () => {
  it('the two jobs ended as expected: no labels in the first window, a version from the second', () => {
    expect(jobs.failed?.status).toBe('FAILED');
    expect(jobs.completed?.status).toBe('COMPLETED');
    expect(jobs.completed?.version).toBe(3); // after the run's registered v1 and v2
  });

  it('jobs started and finished per model, trainer and outcome; none left running', async () => {
    // The scrape after the jobs ended (metrics are read from the run store, cached up to 10 s).
    await eventually(
      async () =>
        (await prom.query('sum(strata_training_jobs_finished_total{job="strata"})'))[0]?.value[1] === '2'
          ? true
          : undefined,
      WAIT_MS,
      'a scrape with both train jobs finished',
    );
    expect(byLabels(await prom.query('strata_training_jobs_started_total{job="strata"}'), 'model', 'trainer')).toEqual({
      'churn/logistic': 2,
    });
    expect(
      byLabels(await prom.query('strata_training_jobs_finished_total{job="strata"}'), 'model', 'trainer', 'outcome'),
    ).toEqual({ 'churn/logistic/completed': 1, 'churn/logistic/failed': 1 });
    const running = await prom.query('strata_training_jobs_running{job="strata"}');
    expect(running.filter((r) => Number(r.value[1]) !== 0)).toEqual([]);
  });

  it('the job duration histogram in seconds, fixed buckets, each job counted once with its recorded duration', async () => {
    const buckets = await prom.query('strata_training_job_duration_seconds_bucket{job="strata",outcome="completed"}');
    const les = buckets
      .map((b) => b.metric.le!)
      .sort((a, b) => (a === '+Inf' ? Infinity : Number(a)) - (b === '+Inf' ? Infinity : Number(b)));
    expect(les).toEqual([...JOB_DURATION_BUCKETS_S.map(String), '+Inf']);
    for (const [outcome, job] of [
      ['completed', jobs.completed!],
      ['failed', jobs.failed!],
    ] as const) {
      const sel = `{job="strata",model="churn",trainer="logistic",outcome="${outcome}"}`;
      expect(Number((await prom.query(`strata_training_job_duration_seconds_count${sel}`))[0]!.value[1])).toBe(1);
      const sum = Number((await prom.query(`strata_training_job_duration_seconds_sum${sel}`))[0]!.value[1]);
      expect(sum).toBeCloseTo(job.durationMs / 1000, 3);
      // The one observation sits in the first bucket at or above it, and in every one after.
      const inBucket = byLabels(await prom.query(`strata_training_job_duration_seconds_bucket${sel}`), 'le');
      for (const le of JOB_DURATION_BUCKETS_S) expect(inBucket[String(le)], `le=${le}`).toBe(sum <= le ? 1 : 0);
    }
  });

  it("the newest completed job's candidate metrics, with its version", async () => {
    const candidate = jobs.completed!.metrics!.candidate!;
    const got = await prom.query('strata_training_candidate_metric{job="strata"}');
    expect(new Set(got.map((g) => `${g.metric.model}/${g.metric.trainer}/${g.metric.version}`))).toEqual(
      new Set(['churn/logistic/3']),
    );
    const byMetric = byLabels(got, 'metric');
    expect(Object.keys(byMetric).sort()).toEqual(['accuracy', 'auc', 'brier', 'logLoss']);
    for (const [metric, value] of Object.entries(byMetric)) expect(value, metric).toBeCloseTo(candidate[metric]!, 9);
  });
});

describe('the Grafana dashboard', () => {
  const file = path.join(ROOT, 'infra/monitoring/grafana/dashboards/strata.json');
  const dashboard = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    schemaVersion: number;
    uid: string;
    templating: { list: Array<{ name: string; type: string; query: unknown }> };
    panels: Array<{
      id: number;
      type: string;
      title: string;
      datasource?: { uid: string };
      targets?: Array<{ expr: string; refId: string }>;
    }>;
  };

  it('is importable: a schema version, a datasource variable every panel uses, unique ids', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    for (const p of dashboard.panels.filter((x) => x.type !== 'row'))
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  it('every panel query returns data from the real Prometheus', async () => {
    const vars = { $__rate_interval: '1m', $job: 'strata', $model: '.*' };
    const empty: string[] = [];
    let queries = 0;
    for (const p of dashboard.panels) {
      for (const t of p.targets ?? []) {
        if (/shadow="true"/.test(t.expr)) continue; // the run has no shadow version
        let expr = t.expr;
        for (const [k, v] of Object.entries(vars)) expr = expr.split(k).join(v);
        expect(expr, `${p.title} ${t.refId}: a variable left unreplaced`).not.toMatch(/\$/);
        const result = await prom.query(expr, evalAt);
        queries++;
        if (!result.some((r) => Number.isFinite(Number(r.value[1])))) empty.push(`${p.title} (${t.refId}): ${expr}`);
      }
    }
    expect(empty, 'panel queries without a finite value').toEqual([]);
    expect(queries).toBeGreaterThanOrEqual(14);
  });
});

describe('metrics reach Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set', () => {
  it("posts metric envelopes to the connection string's ingestion endpoint", async () => {
    await eventually(() => (envelopes.length > 0 ? true : undefined), WAIT_MS, 'a first metrics export');
    expect([...paths]).toContain('POST /v2.1/track');
    expect(envelopes[0]!.name).toMatch(/Metric$/);
  });

  it('each post carries a managed identity token for Azure Monitor (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)', () => {
    expect(authorizations.length).toBeGreaterThan(0);
    for (const a of authorizations) {
      expect(a).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      const claims = JSON.parse(Buffer.from(a!.split(' ')[1]!.split('.')[1]!, 'base64url').toString('utf8')) as {
        aud: string;
      };
      expect(claims.aud).toBe('https://monitor.azure.com');
    }
    expect(issuer.requests.filter((r) => r.resource === 'https://monitor.azure.com')[0]).toEqual({
      resource: 'https://monitor.azure.com',
      clientId: TELEMETRY_CLIENT_ID,
      apiVersion: '2019-08-01',
      authorized: true,
    });
  });

  it('the serving counters add up to /api/metrics, per model, version and shadow', async () => {
    const want = await scraped('strata_predict_requests_total', 'model', 'version', 'shadow');
    expect(Object.values(want).reduce((a, b) => a + b, 0)).toBe(
      Object.values(run.requestsByVersion).reduce((a, b) => a + b, 0) + extra.requests,
    );
    await eventually(
      () =>
        JSON.stringify(exported('strata_predict_requests_total', 'model', 'version', 'shadow')) === JSON.stringify(want)
          ? true
          : undefined,
      30_000,
      `exported predict requests to equal ${JSON.stringify(want)} (got ${JSON.stringify(exported('strata_predict_requests_total', 'model', 'version', 'shadow'))})`,
    );
    expect(exported('strata_predictions_total', 'model', 'version')).toEqual(
      await scraped('strata_predictions_total', 'model', 'version'),
    );
    expect(exported('strata_predict_errors_total', 'model', 'status')).toEqual(
      await scraped('strata_predict_errors_total', 'model', 'status'),
    );
  });

  it('the latency histogram arrives as its Prometheus series (_bucket by le, _sum, _count)', async () => {
    const want = await scraped('strata_predict_duration_seconds_count', 'version');
    await eventually(
      () =>
        JSON.stringify(exported('strata_predict_duration_seconds_count', 'version')) === JSON.stringify(want)
          ? true
          : undefined,
      WAIT_MS,
      'histogram counts exported',
    );
    const inf = exported('strata_predict_duration_seconds_bucket', 'version', 'le');
    for (const [version, n] of Object.entries(want)) expect(inf[`${version}/+Inf`]).toBe(n);
    const sum = exported('strata_predict_duration_seconds_sum', 'version');
    for (const version of Object.keys(want)) expect(sum[version]).toBeGreaterThan(0);
  });

  it('the ingest counters add up to /api/metrics, per source and outcome', async () => {
    const want = await scraped('strata_ingest_records_total', 'source', 'outcome');
    expect(want['clicks/rejected']).toBe(run.sent.invalidClicks + 1);
    await eventually(
      async () => {
        const now = await scraped('strata_ingest_records_total', 'source', 'outcome');
        return JSON.stringify(exported('strata_ingest_records_total', 'source', 'outcome')) === JSON.stringify(now)
          ? true
          : undefined;
      },
      WAIT_MS,
      'exported ingest records to equal /api/metrics',
    );
  });
});
