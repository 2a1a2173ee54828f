/**
 * The `strata` CLI as a user meets it, against the local host running Strata's own app on real
 * Azurite: usage and exit codes, the feature store from examples/ (apply, upload, plan,
 * backfill), training sets built and downloaded (Parquet and CSV) and the download API itself
 * (ranges, 416, If-Match), the producer over the local bus, and models through predict.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { ROOT, ADMIN_KEY, FUNCTION_KEY } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';
import { runCli } from '../helpers/cli';
import { withConnection, literal } from '../../shared/features/offline/duckdb';
import { logisticRegressionModel } from '../../shared/onnx';
import { generateRecords } from '../../cli/generator';

const { tmp, azurite, host } = useHost({ tempPrefix: 'strata-cli-' });
const examples = path.join(ROOT, 'examples');
const cli = (...args: string[]) =>
  runCli(args, {
    env: { STRATA_URL: host.baseUrl, STRATA_FUNCTION_KEY: FUNCTION_KEY, STRATA_ADMIN_KEY: ADMIN_KEY },
    cwd: tmp.dir,
  });
const fkey = { 'x-functions-key': FUNCTION_KEY };

/** Records in an example file (CSV: less the header). */
const dataLines = (file: string) =>
  fs.readFileSync(path.join(examples, file), 'utf8').trim().split('\n').length - (file.endsWith('.csv') ? 1 : 0);

async function rowsOf(file: string, reader = 'read_parquet'): Promise<unknown[]> {
  return withConnection(async (c) =>
    (await c.runAndReadAll(`SELECT * FROM ${reader}(${literal(file)}) ORDER BY row_id`)).getRowObjectsJson(),
  );
}

describe('usage and errors', () => {
  it('help and bad usage reach the process exit code: 0 and 2 (the cases are in test/unit/cli-core)', async () => {
    const help = await cli('backfill', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: strata backfill <views> [options]');
    const bad = await cli('backfill', '--from', 'now');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('strata backfill: missing <views>');
    const spine = await cli('training-set', '--service', 'churn_v1', '--spine', 'nope.csv');
    expect(spine.code).toBe(2);
    expect(spine.stderr).toMatch(/--spine nope.csv cannot be read/);
  });

  it("an API error exits 1 with one line: the request, the status and the API's message; --json gives it as JSON", async () => {
    const r = await cli('training-set', 'get', 'no-such-set');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'strata training-set get: GET /api/training-sets/no-such-set: 404 no training set with id "no-such-set"; POST /api/training-sets builds one and answers its id',
    ]);
    const j = await cli('training-set', 'get', 'no-such-set', '--json');
    expect(j.code).toBe(1);
    expect(j.json()).toMatchObject({ ok: false, status: 404, request: 'GET /api/training-sets/no-such-set' });
    const unreachable = await runCli(['status'], { env: { STRATA_URL: 'http://127.0.0.1:9' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9 .*is the app running\?/);
  });
});

describe('the feature store from examples/', () => {
  it('apply: a dry run changes nothing, then every definition is created once', async () => {
    const dry = await cli('apply', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, created: 9, updated: 0 });
    expect((await cli('apply', '--json')).json()).toMatchObject({ dryRun: false, created: 9 });
    expect((await cli('apply', '--json')).json()).toMatchObject({ created: 0, unchanged: 9 });
  });

  it('upload: every example file is accepted whole, in every format; the same file again ingests nothing', async () => {
    for (const file of ['clicks.csv', 'purchases.csv', 'clicks.jsonl', 'purchases.jsonl']) {
      const r = await cli('upload', file.split('.')[0]!, path.join(examples, file), '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({
        status: 'ingested',
        received: dataLines(file),
        accepted: dataLines(file),
        rejected: 0,
      });
    }
    const parquet = await cli('upload', 'clicks', path.join(examples, 'clicks.parquet'), '--json');
    expect(parquet.json()).toMatchObject({ format: 'parquet', rejected: 0 });
    expect(parquet.json<{ accepted: number }>().accepted).toBeGreaterThan(1000);
    const again = await cli('upload', 'clicks', path.join(examples, 'clicks.csv'));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already ingested, nothing new');
  });

  it('uploads of two sources in time order leave nothing late (a clock per source); backfill --watch runs to the end', async () => {
    const plan = (await cli('plan', '--json')).json<{
      views: Array<{ view: string; days: Record<string, number> }>;
      backfills: Array<{ views: string[] }>;
      work: Array<{ reason: string }>;
    }>();
    expect(plan.views.find((v) => v.view === 'user_purchases')!.days.complete).toBeGreaterThan(0);
    expect(plan.work.filter((w) => /late/.test(w.reason))).toEqual([]);
    expect(plan.backfills.filter((x) => x.views.includes('user_purchases'))).toEqual([]);
    const r = await cli(
      'backfill',
      'user_clicks,user_purchases',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-06',
      '--watch',
      '--poll-ms',
      '200',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    // 4 days for each of the two views named; the derived view follows in stage 2.
    expect(r.json()).toMatchObject({ runtimeStatus: 'Completed', progress: { intervals: { total: 8, done: 8 } } });
    expect((r.json() as { progress: { rows: Record<string, number> } }).progress.rows.user_engagement).toBeGreaterThan(
      0,
    );
  });
});

describe('training sets', () => {
  let id: string;

  it('build from the example spine downloads the Parquet file the app stored', async () => {
    const out = path.join(tmp.dir, 'train.parquet');
    // Nov 3-5: the days the uploads cover; --as-of now: the history was loaded after the fact.
    const r = await cli(
      'training-set',
      '--service',
      'churn_v1',
      '--spine',
      path.join(examples, 'spine.csv'),
      '--from',
      '2026-11-03',
      '--to',
      '2026-11-05T00:00:01Z',
      '--as-of',
      'now',
      '--out',
      out,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const set = r.json<{ id: string; rowCount: number; blobPath: string; file: { bytes: number } }>();
    id = set.id;
    const spine = fs
      .readFileSync(path.join(examples, 'spine.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const inRange = spine.filter(([, ts]) => ts! >= '2026-11-03' && ts! <= '2026-11-05T00:00:00.000Z');
    expect(set.rowCount).toBe(inRange.length);
    const stored = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('training-sets')
      .getBlockBlobClient(set.blobPath)
      .downloadToBuffer();
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(fs.readFileSync(out))).toBe(sha(stored));
    expect(set.file.bytes).toBe(stored.length);
    const rows = (await rowsOf(out)) as Array<{ entity_id: string; label: number; clicks_24h: number | null }>;
    expect(rows.map((x) => [x.entity_id, x.label])).toEqual(inRange.map(([e, , l]) => [e, Number(l)]));
    expect(rows.filter((x) => x.clicks_24h !== null).length).toBeGreaterThan(rows.length / 2);
  });

  it('get <id> --out file.csv downloads the same rows as CSV', async () => {
    const out = path.join(tmp.dir, 'train.csv');
    const r = await cli('training-set', 'get', id, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`training set ${id}`);
    const parquetFile = path.join(tmp.dir, 'train.parquet');
    const parquet = await rowsOf(parquetFile);
    // Read the CSV with the Parquet file's column types, so both sides compare value by value.
    const csv = await withConnection(async (c) => {
      const types = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(parquetFile)})`))
        .getRows()
        .map(([n, t]) => `'${String(n)}': '${String(t)}'`);
      return (
        await c.runAndReadAll(
          `SELECT * FROM read_csv(${literal(out)}, header = true, columns = {${types.join(', ')}}) ORDER BY row_id`,
        )
      ).getRowObjectsJson();
    });
    expect(csv).toHaveLength(parquet.length);
    expect(csv).toEqual(parquet);
  });

  it('GET /api/training-sets/{id}/data serves byte ranges that add up to the file, with Content-Range, ETag and If-Match', async () => {
    const url = `${host.baseUrl}/api/training-sets/${id}/data?format=csv`;
    const whole = await fetch(url, { headers: fkey });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const body = Buffer.from(await whole.arrayBuffer());
    expect(body.equals(fs.readFileSync(path.join(tmp.dir, 'train.csv')))).toBe(true);
    const etag = whole.headers.get('etag')!;

    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; at += 1000) {
      const r = await fetch(url, { headers: { ...fkey, range: `bytes=${at}-${at + 999}`, 'if-match': etag } });
      expect(r.status).toBe(206);
      const end = Math.min(at + 999, body.length - 1);
      expect(r.headers.get('content-range')).toBe(`bytes ${at}-${end}/${body.length}`);
      parts.push(Buffer.from(await r.arrayBuffer()));
    }
    expect(Buffer.concat(parts).equals(body)).toBe(true);

    const suffix = await fetch(url, { headers: { ...fkey, range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(body.subarray(body.length - 10))).toBe(true);

    const past = await fetch(url, { headers: { ...fkey, range: `bytes=${body.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${body.length}`);
    expect(((await past.json()) as { error: string }).error).toMatch(/starts at or past the end/);

    const changed = await fetch(url, { headers: { ...fkey, range: 'bytes=0-9', 'if-match': '"0x0"' } });
    expect(changed.status).toBe(412);
    await changed.arrayBuffer();

    for (const [range, problem] of [
      ['bytes=0-1,5-6', 'ask for one range per request'],
      ['items=0-1', 'use bytes=<first>-<last>'],
      ['bytes=9-2', 'the last byte comes before the first'],
    ]) {
      const r = await fetch(url, { headers: { ...fkey, range: range! } });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { details: Array<{ where: string; problem: string }> }).details[0]).toMatchObject({
        where: 'Range',
        problem: expect.stringContaining(problem!),
      });
    }
  });

  it('GET /api/training-sets/{id} is the record; unknown ids, bad ids and formats are 404 / 400', async () => {
    const rec = await fetch(`${host.baseUrl}/api/training-sets/${id}`, { headers: fkey });
    expect(rec.status).toBe(200);
    expect(await rec.json()).toMatchObject({
      id,
      blobPath: `${id}.parquet`,
      columns: expect.arrayContaining([{ name: 'clicks_24h', type: expect.any(String) }]),
    });
    expect((await fetch(`${host.baseUrl}/api/training-sets/nope/data`, { headers: fkey })).status).toBe(404);
    const badId = await fetch(`${host.baseUrl}/api/training-sets/..%2Fx/data`, { headers: fkey });
    expect([400, 404]).toContain(badId.status);
    const badFormat = await fetch(`${host.baseUrl}/api/training-sets/${id}/data?format=xlsx`, { headers: fkey });
    expect(badFormat.status).toBe(400);
    expect(((await badFormat.json()) as { error: string }).error).toContain('format');
    expect((await fetch(`${host.baseUrl}/api/training-sets/${id}/data`)).status).toBe(401);
  });
});

describe('produce over the local bus, then models and predict', () => {
  // A 6 h span ending a minute ago, or, when a UTC midnight falls in that, ending a minute before the
  // midnight: labels are delivered at each midnight of the span (labelTimes), and the train case below
  // needs every user's label at one time, the span's end.
  const SPAN_MS = 6 * 3_600_000;
  const end = Date.now() - 60_000;
  const midnight = Math.floor(end / 86_400_000) * 86_400_000;
  const to = end - SPAN_MS > midnight ? end : midnight - 60_000;
  const from = to - SPAN_MS;
  const options = { seed: 3, users: 40, events: 1_500, from, to };

  it('produce sends exactly what the generator makes, to each hub, and --wait returns once the views caught up', async () => {
    const r = await cli(
      'produce',
      '--events',
      '1500',
      '--users',
      '40',
      '--seed',
      '3',
      '--from',
      String(from),
      '--to',
      String(to),
      '--rate',
      '3000/s',
      '--late',
      '0',
      '--wait',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    // The sample repo's label source churn_labels gets the generator's labels too.
    const expected = { clicks: 0, purchases: 0, labels: 0 };
    for (const rec of generateRecords({ ...options, labels: true })) expected[rec.source]++;
    const s = r.json<{
      sent: number;
      failed: number;
      labelSource: string | null;
      hubs: Record<string, { sent: number }>;
      waited: { views: string[] };
    }>();
    expect(s).toMatchObject({ sent: 1500 + expected.labels, failed: 0, labelSource: 'churn_labels' });
    expect(expected.labels).toBeGreaterThan(0);
    expect(s.hubs.churn_labels!.sent).toBe(expected.labels);
    expect(s.hubs.clicks!.sent).toBe(expected.clicks);
    expect(s.hubs.purchases!.sent).toBe(expected.purchases);
    expect(s.waited.views.sort()).toEqual(['user_clicks', 'user_purchases']);
  });

  it('models register / alias / traffic / promote / rollback, and predict computes with the online features', async () => {
    // churn_v1's 9 features; the model reads clicks_24h only: p = sigmoid(0.1 * clicks_24h - 1).
    const weights = [0, 0.1, 0, 0, 0, 0, 0, 0, 0];
    fs.writeFileSync(path.join(tmp.dir, 'v1.onnx'), logisticRegressionModel({ weights, bias: -1 }));
    fs.writeFileSync(path.join(tmp.dir, 'v2.onnx'), logisticRegressionModel({ weights, bias: 1 }));
    const sig = path.join(examples, 'signature.json');
    const v1 = await cli(
      'models',
      'register',
      'churn',
      'v1.onnx',
      '--signature',
      sig,
      '--alias',
      'production',
      '--description',
      'first',
      '--json',
    );
    expect(v1.code, v1.stderr).toBe(0);
    expect(v1.json()).toMatchObject({ created: true, version: { version: 1 } });
    expect((await cli('models', 'register', 'churn', 'v1.onnx', '--signature', sig, '--json')).json()).toMatchObject({
      created: false,
      version: { version: 1 },
    });
    expect((await cli('models', 'register', 'churn', 'v2.onnx', '--signature', sig, '--json')).json()).toMatchObject({
      created: true,
      version: { version: 2 },
    });

    const user = 'u000001';
    const f = (await cli('features', user, '--service', 'churn_v1', '--json')).json<{
      entities: Array<{ features: Record<string, number | null> }>;
    }>();
    const clicks24h = f.entities[0]!.features['user_clicks:clicks_24h'] ?? 0;
    const p = (await cli('predict', 'churn', user, '--json')).json<{ prediction: number; modelVersion: number }>();
    expect(p.modelVersion).toBe(1);
    expect(p.prediction).toBeCloseTo(1 / (1 + Math.exp(-(0.1 * clicks24h - 1))), 5);

    expect((await cli('models', 'alias', 'churn', 'canary', '2', '--json')).json()).toMatchObject({
      model: { aliases: { production: 1, canary: 2 } },
    });
    expect((await cli('models', 'traffic', 'churn', '--canary', '25', '--json')).json()).toMatchObject({
      model: { traffic: { production: 75, canary: 25 } },
    });
    const pinned = (await cli('predict', 'churn', user, 'u000002', '--version', 'canary', '--json')).json<{
      predictions: Array<{ modelVersion: number }>;
    }>();
    expect(pinned.predictions.map((x) => x.modelVersion)).toEqual([2, 2]);
    expect((await cli('models', 'promote', 'churn', '--json')).json()).toMatchObject({
      model: { aliases: { production: 2 }, traffic: { production: 100, canary: 0 } },
    });
    expect((await cli('models', 'rollback', 'churn', '--json')).json()).toMatchObject({
      model: { aliases: { production: 1 } },
    });
    const shown = (await cli('models', 'show', 'churn', '--json')).json<{
      versions: Array<{ version: number; description?: string }>;
    }>();
    expect(shown.versions.map((v) => v.version)).toEqual([1, 2]);
    const list = await cli('models');
    expect(list.stdout).toMatch(/churn\s+v2\s+production=v1/);
  });

  it('status reports the app healthy, nothing pending, the views caught up and the model serving', async () => {
    const r = await cli('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = r.json<{
      health: { status: string };
      definitions: { pending: unknown[] };
      views: Array<{ caughtUp: boolean }>;
      models: Array<{ model: string; aliases: Record<string, number> }>;
    }>();
    expect(s.health.status).toBe('ok');
    expect(s.definitions.pending).toEqual([]);
    expect(s.views.every((v) => v.caughtUp)).toBe(true);
    expect(s.models).toEqual([expect.objectContaining({ model: 'churn', aliases: { production: 1 } })]);
  });
  it('train --watch follows the job to its end and fails naming the step and the reason; runs lists the run', async () => {
    // produce delivered every label at one time (the span has no midnight, see above): no newest share to hold out.
    const r = await cli(
      'train',
      'churn',
      '--from',
      String(from),
      '--to',
      String(Date.now() + 3_600_000),
      '--gate',
      'register',
      '--watch',
      '--poll-ms',
      '200',
      '--json',
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /train job train-churn-[0-9a-f]+ failed: step split failed: 400: the time split leaves no rows to train on/,
    );
    const runs = await cli('runs', '--model', 'churn', '--json');
    expect(runs.code, runs.stderr).toBe(0);
    const [run] = runs.json<
      Array<{
        status: string;
        error: { step: string };
        trainingSet: { rows: number };
        steps: Record<string, { executions: number }>;
      }>
    >();
    expect(run).toMatchObject({ status: 'FAILED', error: { step: 'split' }, trainingSet: { rows: 40 } });
    expect(Object.keys(run!.steps)).toEqual(['training-set', 'split']);
    expect((await cli('runs', 'compare', 'only-one')).code).toBe(2);
    expect((await cli('train', 'churn', '--params', '{nope')).code).toBe(2);
    const bad = await cli('train', 'churn', '--params', '{"l2":-1}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('params.l2');
  });
});
