/**
 * Application Insights wiring without the cloud: the local host runs with
 * APPLICATIONINSIGHTS_CONNECTION_STRING whose IngestionEndpoint is an HTTP server in this
 * test (HTTPS with a certificate made for it: the exporter only speaks HTTPS; the host trusts
 * it through NODE_EXTRA_CA_CERTS), so the real @azure/monitor-opentelemetry exporter posts its
 * envelopes here. After a
 * short ingest + predict run, the custom metrics it sent must add up to the numbers of
 * /api/metrics (counters arrive as deltas per export interval; histograms as their
 * _bucket/_sum/_count series), with the Prometheus labels as properties.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { startPlatformRun, type PlatformRun } from '../helpers/platform-run';
import { eventually } from '../helpers/host-process';
import { ensureDebianPackage } from '../helpers/debian';
import { tempDir } from '../helpers/temp';

interface MetricEnvelope {
  name: string;
  time: string;
  data: { baseType: string; baseData: { metrics: Array<{ name: string; value: number; count?: number }>; properties?: Record<string, string> } };
}

let server: https.Server;
const certs = tempDir('strata-ai-tls-');
let run: PlatformRun;
const envelopes: MetricEnvelope[] = [];
const paths = new Set<string>();

/** A self-signed certificate for 127.0.0.1 (openssl), valid for a day. */
function certificate(): { key: string; cert: string; certFile: string } {
  ensureDebianPackage('openssl', 'openssl');
  const keyFile = path.join(certs.dir, 'key.pem');
  const certFile = path.join(certs.dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
}

beforeAll(async () => {
  const tls = certificate();
  server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.add(`${req.method} ${req.url}`);
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
  const endpoint = `http://127.0.0.1:${port}/`;
  run = await startPlatformRun({
    env: {
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
}, 240_000);

afterAll(async () => {
  await run?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
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

describe('metrics reach Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set', () => {
  it('posts metric envelopes to the connection string\'s ingestion endpoint', async () => {
    await eventually(() => (envelopes.length > 0 ? true : undefined), 30_000, 'a first metrics export');
    expect([...paths]).toContain('POST /v2.1/track');
    expect(envelopes[0]!.name).toMatch(/Metric$/);
  });

  it('the serving counters add up to /api/metrics, per model, version and shadow', async () => {
    const want = await scraped('strata_predict_requests_total', 'model', 'version', 'shadow');
    expect(Object.values(want).reduce((a, b) => a + b, 0)).toBe(Object.values(run.requestsByVersion).reduce((a, b) => a + b, 0));
    await eventually(() => (JSON.stringify(exported('strata_predict_requests_total', 'model', 'version', 'shadow')) === JSON.stringify(want) ? true : undefined), 30_000,
      `exported predict requests to equal ${JSON.stringify(want)} (got ${JSON.stringify(exported('strata_predict_requests_total', 'model', 'version', 'shadow'))})`);
    expect(exported('strata_predictions_total', 'model', 'version')).toEqual(await scraped('strata_predictions_total', 'model', 'version'));
    expect(exported('strata_predict_errors_total', 'model', 'status')).toEqual({ 'churn/422': run.failedRequests });
  });

  it('the latency histogram arrives as its Prometheus series (_bucket by le, _sum, _count)', async () => {
    const want = await scraped('strata_predict_duration_seconds_count', 'version');
    await eventually(() => (JSON.stringify(exported('strata_predict_duration_seconds_count', 'version')) === JSON.stringify(want) ? true : undefined), 30_000, 'histogram counts exported');
    const inf = exported('strata_predict_duration_seconds_bucket', 'version', 'le');
    for (const [version, n] of Object.entries(want)) expect(inf[`${version}/+Inf`]).toBe(n);
    const sum = exported('strata_predict_duration_seconds_sum', 'version');
    for (const version of Object.keys(want)) expect(sum[version]).toBeGreaterThan(0);
  });

  it('the ingest counters add up to /api/metrics, per source and outcome', async () => {
    await run.get('/api/metrics'); // settle
    const want = await scraped('strata_ingest_records_total', 'source', 'outcome');
    expect(want['clicks/rejected']).toBe(run.sent.invalidClicks);
    await eventually(async () => {
      const now = await scraped('strata_ingest_records_total', 'source', 'outcome');
      return JSON.stringify(exported('strata_ingest_records_total', 'source', 'outcome')) === JSON.stringify(now) ? true : undefined;
    }, 30_000, 'exported ingest records to equal /api/metrics');
  });
});
