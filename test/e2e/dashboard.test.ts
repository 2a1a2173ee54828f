/**
 * The dashboard as a person meets it: a short ingest + predict run on the local host, then
 * Debian's Chromium (playwright-core) opens /dashboard?code=<function key> and goes through
 * every page. Each page must render its panels with data (tables with the numbers the run
 * left, charts with points drawn), the DAG must show every node of the sample repo plus the
 * model, the Plan page's button must start the backfill it proposes (admin key typed into the
 * page), the Jobs page must follow it to the end, and no page may log a console error.
 * Screenshots of each page go to test-output/dashboard/ (STRATA_DOCS_SCREENSHOT=1 also
 * refreshes docs/dashboard.png for the README).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Page } from 'playwright-core';
import { startPlatformRun, type PlatformRun } from '../helpers/platform-run';
import { openBrowser, type Browser } from '../helpers/browser';
import { ADMIN_KEY, FUNCTION_KEY, ROOT } from '../helpers/host-process';
import { featureRepo } from '../../shared/definitions';
import { storageFor } from '../../shared/azure/storage';
import { Manifest } from '../../shared/features/offline/manifest';
import { ManifestTable } from '../../shared/azure/manifest-table';
import { eventually } from '../helpers/host-process';
import { WAIT_MS } from '../helpers/wait';
import { USERS } from '../helpers/platform-run';
import { churnBaseline } from '../helpers/monitoring-fixtures';

const OUT = path.join(ROOT, 'test-output', 'dashboard');
let run: PlatformRun;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  [run, browser] = await Promise.all([startPlatformRun(), openBrowser({ width: 1280, height: 860 })]);
  page = browser.page;
  // Monitoring: baselines for both versions, then the window holding the run's predictions closed now.
  const baseline = await churnBaseline();
  for (const v of [1, 2])
    expect((await run.put(`/api/models/churn/versions/${v}/baseline`, baseline, ADMIN_KEY)).status).toBe(201);
  expect(
    (
      await run.post(
        '/api/alerts/rules',
        { id: 'churn-traffic', model: 'churn', metric: 'rows', comparison: '>=', threshold: 1, severity: 'info' },
        ADMIN_KEY,
      )
    ).status,
  ).toBe(201);
  const windowEnd = run.predictionHour + 3_600_000;
  expect(
    (await run.post('/api/monitoring/run', { at: new Date(windowEnd).toISOString(), settle: '0s' }, ADMIN_KEY)).status,
  ).toBe(200);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await run?.stop();
});

/**
 * The days the late click marks in user_clicks: its own day up to where its windows reach
 * (the view's warm-up less its lateness), as the ledger does, up to today.
 */
function lateDays(): number {
  const v = featureRepo.view('user_clicks');
  const DAY = 86_400_000;
  const reach = v.warmUpMs === null ? 0 : v.warmUpMs - v.latenessMs;
  // Days up to today only: the overview counts days that have begun.
  return (
    Math.min(Math.floor((run.lateClickTs + reach) / DAY), Math.floor(Date.now() / DAY)) -
    Math.floor(run.lateClickTs / DAY) +
    1
  );
}

/** Open a page by its tab and wait until every panel on it has rendered (or failed). */
async function openPage(id: string): Promise<void> {
  await page.click(`nav a[data-page="${id}"]`);
  await page.waitForSelector(`main[data-page="${id}"]`);
  await page.waitForSelector('main section.panel');
  await page.waitForSelector('main section.panel[data-state="loading"]', { state: 'detached', timeout: 30_000 });
  const failed = await page.$$eval('section.panel[data-state="error"]', (els) =>
    els.map((e) => `${e.getAttribute('data-panel')}: ${e.querySelector('.panel-error')?.textContent}`),
  );
  expect(failed, 'panels that failed to render').toEqual([]);
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

/** Rows of a table marked data-table=..., as text cells. */
function rows(table: string, within = 'main'): Promise<string[][]> {
  return page.$$eval(`${within} table[data-table="${table}"] tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
  );
}

/** Charts on the page: title, points drawn, and whether the canvas holds drawn pixels. */
function charts(): Promise<Array<{ title: string; points: number; inked: boolean }>> {
  return page.$$eval('main .chart', (els) =>
    els.map((el) => {
      const canvas = el.querySelector('canvas');
      let inked = false;
      if (canvas) {
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4)
          if (data[i]! > 0) {
            inked = true;
            break;
          }
      }
      return { title: el.getAttribute('data-chart') ?? '', points: Number(el.getAttribute('data-points')), inked };
    }),
  );
}

describe('serving the page', () => {
  it('serves index.html with an ETag and no-cache, the hashed assets immutable and gzipped, and 304 when unchanged', async () => {
    const index = await fetch(`${run.host.baseUrl}/api/dashboard/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    const etag = index.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const html = await index.text();
    const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(html)![1]!;
    expect((await fetch(`${run.host.baseUrl}/api/dashboard/`, { headers: { 'if-none-match': etag } })).status).toBe(
      304,
    );

    // fetch() would decode gzip itself; read the raw bytes with node:http semantics instead.
    const raw = await fetch(`${run.host.baseUrl}/api/dashboard/${script}`, {
      headers: { 'accept-encoding': 'identity' },
    });
    const plain = Buffer.from(await raw.arrayBuffer());
    expect(raw.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const zipped = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const http = require('node:http') as typeof import('node:http');
      http
        .get(`${run.host.baseUrl}/api/dashboard/${script}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.length / 2);
    expect(zlib.gunzipSync(zipped.body).equals(plain)).toBe(true);
    expect(zipped.headers.etag).not.toBe(raw.headers.get('etag'));

    expect((await fetch(`${run.host.baseUrl}/api/dashboard/assets/nope.js`)).status).toBe(404);
    const bare = await fetch(`${run.host.baseUrl}/api/dashboard?code=x`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, '/api/dashboard/?code=x']);
    const short = await fetch(`${run.host.baseUrl}/dashboard?code=x`, { redirect: 'manual' });
    expect([short.status, short.headers.get('location')]).toEqual([302, '/api/dashboard/?code=x']);
  });

  it('asks for the key when none is given, takes it once from ?code= and keeps it out of the address bar', async () => {
    await page.goto(`${run.host.baseUrl}/dashboard`);
    await page.waitForSelector('form.key-form');
    await page.goto(`${run.host.baseUrl}/dashboard?code=${FUNCTION_KEY}`);
    await page.waitForSelector('main[data-page="overview"]');
    expect(new URL(page.url()).searchParams.has('code')).toBe(false);
    expect(new URL(page.url()).pathname).toBe('/api/dashboard/');
    await page.reload();
    await page.waitForSelector('main[data-page="overview"]');
  });
});

describe('every page renders with data', () => {
  it('Overview: dependency health, sources with ingest, dead-lettered and late counts, freshness per view', async () => {
    await openPage('overview');
    const health = await rows('health');
    expect(health.map((r) => [r[0], r[1]])).toEqual([
      ['blob', 'up'],
      ['table', 'up'],
      ['onlineStore', 'up'],
    ]);
    const sources = new Map((await rows('sources')).map((r) => [r[0], r]));
    // columns: source, arrives by, views, records/s, last hour, newest event, dead-lettered, days marked late
    expect(sources.get('clicks')![4]).toBe(String(run.sent.clicks - run.sent.invalidClicks));
    expect(sources.get('clicks')![6]).toBe(String(run.sent.invalidClicks));
    expect(sources.get('clicks')![7]).toBe(String(lateDays()));
    expect(sources.get('purchases')![4]).toBe(String(run.sent.purchases));
    const predictions = Object.values(run.predictionsByVersion).reduce((a, b) => a + b, 0);
    expect(sources.get('predictions')![4]).toBe(String(predictions));
    const views = new Map((await rows('freshness')).map((r) => [r[0], r]));
    expect([...views.keys()].sort()).toEqual([...featureRepo.viewOrder].sort());
    expect(views.get('user_clicks')![6]).toMatch(/caught up|behind/);
    expect(views.get('user_clicks')![8]).toBe(String(lateDays()));
    const drawn = await charts();
    expect(drawn).toEqual([expect.objectContaining({ title: 'Records ingested per minute', inked: true })]);
    expect(drawn[0]!.points).toBeGreaterThan(0);
    await screenshot('overview');
  });

  it('Models: versions with aliases and traffic share, requests/s and p50/p95/p99 per version from the prediction log, production and canary side by side, history', async () => {
    await openPage('models');
    const text = await page.textContent('main [data-model="churn"]');
    expect(text).toContain('production → v1');
    expect(text).toContain('canary → v2');
    expect(text).toContain('Traffic: production 50% · canary 50%');
    const versions = await rows('versions');
    expect(versions.map((r) => [r[0], r[1], r[4]])).toEqual([
      ['v2', 'canary', String(run.requestsByVersion[2] ?? 0)],
      ['v1', 'production', String(run.requestsByVersion[1] ?? 0)],
    ]);
    const total = (run.predictionsByVersion[1] ?? 0) + (run.predictionsByVersion[2] ?? 0);
    expect(versions[1]![5]).toBe(
      `${(Math.round((1000 * (run.predictionsByVersion[1] ?? 0)) / total) / 10).toLocaleString('en-US')}%`,
    );
    for (const r of versions) if (r[4] !== '0') expect(r[6]).toMatch(/ms \/ .* ms \/ .* ms$/);
    const drawn = await charts();
    expect(drawn.map((c) => c.title)).toEqual([
      'Requests per second',
      'Latency v1 (production)',
      'Latency v2 (canary)',
    ]);
    for (const c of drawn) expect(c.inked && c.points > 0, `${c.title} has points`).toBe(true);
    const history = await rows('history');
    expect(history.map((r) => r[1])).toEqual(['traffic', 'alias', 'register', 'alias', 'register']);
    await screenshot('models');
    if (process.env.STRATA_DOCS_SCREENSHOT === '1')
      await page.screenshot({ path: path.join(ROOT, 'docs', 'dashboard.png') });
  });

  it("Drift & quality: the drift heatmap by window, a feature's baseline-vs-window histogram, quality, contracts and realized vs estimated performance; open alerts on the Overview", async () => {
    await openPage('drift');
    const heat = await page.$$eval('main table[data-heatmap="drift"] tbody tr', (trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll('td')].map((td) => td.getAttribute('data-status') ?? (td.textContent ?? '').trim()),
      ),
    );
    // 9 features + the prediction + the dataset row; two windows (v1 and v2 of this hour), too few rows for a verdict.
    expect(heat).toHaveLength(11);
    expect(heat[0]).toEqual(['user_clicks:clicks_1h', 'insufficient_data', 'insufficient_data']);
    expect(heat.at(-1)).toEqual(['dataset', 'insufficient_data', 'insufficient_data']);
    const quality = await rows('quality');
    expect(quality.map((r) => r[0])).toContain('user_purchases:spend_7d');
    expect(quality.find((r) => r[0] === 'user_clicks:clicks_1h')![1]).toBe('0.0%');
    const bars = await page.$$eval(
      'main .chart[data-chart="Histogram user_clicks:clicks_1h"] svg rect',
      (rs) => rs.length,
    );
    expect(bars).toBeGreaterThanOrEqual(4); // two bars per bin
    await page.selectOption('main select >> nth=1', 'user_purchases:spend_7d');
    await page.waitForSelector('main .chart[data-chart="Histogram user_purchases:spend_7d"]');
    const perf = (await charts()).find((c) => c.title === 'Performance auc');
    expect(perf, 'the performance chart').toBeDefined();
    expect(perf!.inked && perf!.points > 0).toBe(true); // estimated AUC per window (realized waits for labels)
    await screenshot('drift');
    await openPage('overview');
    // columns: severity, rule, subject, value, window, opened, delivered
    const alerts = (await rows('alerts')).filter((r) => r[1] === 'churn-traffic');
    expect(alerts.map((r) => [r[0], r[2], r[3]]).sort()).toEqual([
      ['info', 'churn/v1', String(run.predictionsByVersion[1])],
      ['info', 'churn/v2', String(run.predictionsByVersion[2])],
    ]);
  });

  it('DAG: every node of the sample repo and the model, laid out as SVG; a click shows lineage and plan status', async () => {
    await openPage('dag');
    const expected = [
      ...[...featureRepo.sources.keys()].map((s) => `source:${s}`),
      ...featureRepo.viewOrder.map((v) => `view:${v}`),
      ...[...featureRepo.services.keys()].map((s) => `service:${s}`),
      'model:churn',
    ].sort();
    const drawnNodes = await page.$$eval('svg.dag g.node', (gs) => gs.map((g) => g.getAttribute('data-node')!));
    expect(drawnNodes.sort()).toEqual(expected);
    const api = (await run.get('/api/dag')).body as { edges: Array<{ from: string; to: string }> };
    const drawnEdges = await page.$$eval('svg.dag path.edge', (ps) => ps.map((p) => p.getAttribute('data-edge')!));
    expect(drawnEdges.sort()).toEqual(api.edges.map((e) => `${e.from}->${e.to}`).sort());
    expect(api.edges).toContainEqual({ from: 'service:churn_v1', to: 'model:churn' });
    expect(await page.textContent('g.node[data-node="model:churn"]')).toContain('production v1');

    await page.click('g.node[data-node="view:user_clicks"]');
    await page.waitForSelector('aside[data-node="view:user_clicks"] ul.lineage li');
    const aside = await page.textContent('aside.dag-details');
    expect(aside).toContain('Plan status');
    expect(aside).toContain('source:clicks');
    await screenshot('dag');
  });

  it('Plan: stale and incomplete days with the backfills that would fix them; Start runs one with the admin key', async () => {
    const plan = (await run.get('/api/plan')).body as {
      backfills: Array<{ views: string[] }>;
      work: Array<{ view: string; kind: string }>;
    };
    expect(plan.work).toContainEqual(expect.objectContaining({ view: 'user_clicks', kind: 'incomplete' })); // the late click
    await openPage('plan');
    const proposed = await rows('plan-backfills');
    expect(proposed.map((r) => r[0])).toEqual(plan.backfills.map((b) => b.views.join(', ')));
    expect((await rows('plan-work')).length).toBe(plan.work.length);
    await page.click('button[data-action="start-backfill"]');
    await page.waitForSelector('[data-result="backfills"]:has-text("Enter the admin key")');
    await page.fill('input[name="admin-key"]', ADMIN_KEY);
    await page.click('button[data-action="start-backfill"]');
    await page.waitForSelector('[data-result="backfills"] code', { timeout: 30_000 });
    expect(await page.textContent('[data-result="backfills"]')).toMatch(/^Backfill (started|joined): backfill-/);
    await screenshot('plan');
  });

  it('Jobs: the backfill with its status and progress, live until it completes', async () => {
    await openPage('jobs');
    await page.waitForSelector('table[data-table="backfills"] tbody tr:has-text("Completed")', { timeout: 90_000 });
    const [job] = await rows('backfills');
    expect(job![2]).toContain('user_clicks');
    const [done, total] = job![5]!.split(' / ').map(Number);
    expect(total).toBeGreaterThan(0);
    expect(done).toBe(total);
    await screenshot('jobs');
  });

  it('Jobs: training jobs with status, progress and the gate, and two runs compared with their loss curves', async () => {
    // Churn labels for the run's users, after their features: then two trainings of a model of its own.
    const t0 = Date.now();
    const labels = USERS.map((u, i) => ({ user_id: u, ts: new Date(t0 + i * 10).toISOString(), churned: i % 2 === 0 }));
    expect(
      (await run.post('/api/_local/eventhubs/churn_labels?partitionKeyField=user_id', labels, ADMIN_KEY)).status,
    ).toBe(202);
    const manifest = new Manifest(await ManifestTable.open(storageFor(run.azurite.connectionString)));
    await eventually(
      async () =>
        (await manifest.list({ view: 'src.churn_labels' })).reduce((n, r) => n + r.rowCount, 0) >= labels.length
          ? true
          : undefined,
      WAIT_MS,
      'the churn labels offline',
    );
    const base = {
      model: 'churn_trained',
      featureService: 'churn_v1',
      labels: { source: 'churn_labels', field: 'churned' },
      window: { from: new Date(t0 - 86_400_000).toISOString(), to: new Date(t0 + 3_600_000).toISOString() },
      gate: { policy: 'register' },
      holdoutFraction: 0.34,
    };
    const ids: string[] = [];
    for (const extra of [{ trainer: 'logistic' }, { trainer: 'gbdt', params: { trees: 3, maxDepth: 2 } }]) {
      const r = await run.post('/api/jobs/train', { ...base, ...extra }, ADMIN_KEY);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      ids.push((r.body as { jobId: string }).jobId);
    }
    for (const id of ids) {
      await eventually(
        async () => {
          const j = (await run.get(`/api/jobs/${id}`)).body as { status: string; error: string | null };
          if (j.status === 'FAILED') throw new Error(`train job ${id} failed: ${j.error}`);
          return j.status === 'COMPLETED' ? true : undefined;
        },
        120_000,
        `train job ${id} to complete`,
      );
    }
    await openPage('overview'); // the Jobs page was open already: enter it afresh
    await openPage('jobs');
    const training = await rows('training-jobs');
    expect(training.map((r) => r[2])).toEqual(['COMPLETED', 'COMPLETED']);
    expect(training.every((r) => r[1] === 'churn_trained' && r[8] === 'staged')).toBe(true);
    await page.waitForSelector('table[data-table="runs-compare"]');
    const compared = await rows('runs-compare');
    expect(
      compared
        .find((r) => r[0] === 'trainer')!
        .slice(1)
        .sort(),
    ).toEqual(['gbdt', 'logistic']);
    const curves = (await charts()).find((c) => c.title.startsWith('loss per iteration'))!;
    expect(curves.points).toBeGreaterThan(3);
    expect(curves.inked).toBe(true);
    await screenshot('jobs-training');
  });

  it('logged no console errors on any page', () => {
    expect(browser.errors).toEqual([]);
  });
});
