/**
 * Training sets off the HTTP path, over HTTP against the local host running Strata's app (real
 * Azurite, the embedded online store, the Durable engine), with STRATA_TRAINING_SET_ASYNC_ROWS=3:
 * a small spine answers at once; a larger one (inline, or a blob counted from its file), or any
 * with ?async=true or Prefer: respond-async, answers 202 and its status link (carrying the system
 * key) reaches Completed with the set's record, whose Parquet file holds the rows by hand. The
 * immutability rules hold across both paths.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { ADMIN_KEY, FUNCTION_KEY, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';
import { runCli } from '../helpers/cli';
import fs from 'node:fs';
import { withConnection } from '../../shared/features/offline';
import { literal } from '../../shared/features/offline/duckdb';
import { recentTimes } from '../helpers/recent-times';

const { tmp, azurite, host } = useHost({ tempPrefix: 'ts-async-', env: { STRATA_TRAINING_SET_ASYNC_ROWS: '3' } });
const fkey = { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' };
const { at } = recentTimes();
let NOW = '';

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}
async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = fkey,
): Promise<Reply> {
  const res = await fetch(url.startsWith('http') ? url : `${host.baseUrl}${url}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}
const post = (body: unknown, query = '', headers: Record<string, string> = fkey) =>
  call('POST', `/api/training-sets${query}`, body, headers);

/** Poll a status link as it is (no key header: it carries code=) until the job is no longer running. */
async function finished(statusUri: string): Promise<{ runtimeStatus: string; output: any; customStatus: any }> {
  return eventually(
    async () => {
      const r = await call('GET', statusUri, undefined, {});
      expect([200, 202]).toContain(r.status);
      return ['Completed', 'Failed', 'Terminated'].includes(r.body.runtimeStatus) ? r.body : undefined;
    },
    60_000,
    `the training-set job at ${statusUri} to finish`,
  );
}

const blobs = () => BlobServiceClient.fromConnectionString(azurite.connectionString);
async function parquetRows(blobPath: string): Promise<Array<Record<string, unknown>>> {
  const file = path.join(tmp.dir, `${Math.random().toString(36).slice(2)}.parquet`);
  await blobs().getContainerClient('training-sets').getBlockBlobClient(blobPath).downloadToFile(file);
  return withConnection(async (c) =>
    (await c.runAndReadAll(`SELECT entity_id, label, clicks_24h FROM read_parquet(${literal(file)}) ORDER BY row_id`))
      .getRowObjectsJS()
      .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]))),
  );
}

const spine = (n: number, ts = NOW) => ({
  rows: ['u1', 'u2', 'u3', 'u1', 'u2'].slice(0, n).map((entity_id, i) => ({ entity_id, ts, label: i % 2 })),
});
// By hand: u1 clicked 3 times and u2 once in the last 24 h; u3 never.
const CLICKS: Record<string, number | null> = { u1: 3, u2: 1, u3: null };
const expected = (n: number) =>
  spine(n).rows.map((r) => ({ entity_id: r.entity_id, label: r.label, clicks_24h: CLICKS[r.entity_id] }));

beforeAll(async () => {
  const sent = await call(
    'POST',
    '/api/_local/eventhubs/clicks?partitionKeyField=user_id',
    [
      { user_id: 'u1', page: '/home', ts: at(0) },
      { user_id: 'u1', page: '/shop', ts: at(10) },
      { user_id: 'u1', page: '/shop', ts: at(20) },
      { user_id: 'u2', page: '/home', ts: at(5) },
    ],
    { 'x-functions-key': ADMIN_KEY, 'content-type': 'application/json' },
  );
  expect(sent.status).toBe(202);
  // Online values are written after the offline commit: once they show, the segments are there.
  await eventually(
    async () => {
      const r = await call('POST', '/api/features/lookup', { entityIds: ['u1', 'u2'], views: ['user_clicks'] });
      const got = (r.body?.results ?? r.body?.entities ?? []) as Array<{ features: Record<string, unknown> }>;
      return got.length === 2 &&
        got[0]!.features['user_clicks:clicks_24h'] === 3 &&
        got[1]!.features['user_clicks:clicks_24h'] === 1
        ? true
        : undefined;
    },
    30_000,
    'the clicks ingested',
  );
  NOW = new Date(Date.now() + 1000).toISOString();
}, 120_000);

describe('POST /api/training-sets by size', () => {
  it('a spine at or below STRATA_TRAINING_SET_ASYNC_ROWS answers at once (201)', async () => {
    const r = await post({ spine: spine(3), features: ['user_clicks:clicks_24h'] });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ rowCount: 3, container: 'training-sets' });
    expect(await parquetRows(r.body.blobPath)).toEqual(expected(3));
  });

  it('a larger spine answers 202 with status links; polling the link ends with the record, the data readable', async () => {
    const r = await post({ spine: spine(5), features: ['user_clicks:clicks_24h'] });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({
      status: 'started',
      spineRows: 5,
      jobId: expect.stringMatching(/^training-set-[0-9a-f]{32}$/),
    });
    expect(r.body.id).toBe(r.body.jobId);
    expect(r.headers.get('location')).toBe(r.body.statusQueryGetUri);
    expect(r.headers.get('retry-after')).toBe('10');
    expect(r.body.statusQueryGetUri).toContain(`code=${SYSTEM_KEY}`);
    const done = await finished(r.body.statusQueryGetUri);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toMatchObject({ rowCount: 5, jobId: r.body.jobId, blobPath: `${done.output.id}.parquet` });
    expect(done.customStatus).toMatchObject({ phase: 'done', created: true, id: done.output.id });
    // The record beside the data, and the data.
    const record = await blobs()
      .getContainerClient('training-sets')
      .getBlockBlobClient(`${done.output.id}.json`)
      .downloadToBuffer();
    expect(JSON.parse(record.toString('utf8'))).toEqual(done.output);
    expect(await parquetRows(done.output.blobPath)).toEqual(expected(5));
    // ... and both over HTTP, as any set.
    expect((await call('GET', `/api/training-sets/${done.output.id}`)).body).toEqual(done.output);
    const csv = await fetch(`${host.baseUrl}/api/training-sets/${done.output.id}/data?format=csv`, { headers: fkey });
    expect(csv.status).toBe(200);
    expect((await csv.text()).trim().split('\n')).toHaveLength(6);

    // The same request again: the same job id, and (synchronously, when asked) the same set.
    const again = await post({ spine: spine(5), features: ['user_clicks:clicks_24h'] });
    expect(again.status).toBe(202);
    expect(again.body.jobId).toBe(r.body.jobId);
    expect((await finished(again.body.statusQueryGetUri)).output).toEqual(done.output);
    const sync = await post({ spine: spine(5), features: ['user_clicks:clicks_24h'] }, '?async=false');
    expect(sync.status).toBe(200);
    expect(sync.body).toEqual(done.output);
  });

  it('the same request twice at once joins one job', async () => {
    const body = {
      spine: spine(4, new Date(Date.parse(NOW) + 1000).toISOString()),
      features: ['user_clicks:clicks_24h'],
    };
    const [a, b] = await Promise.all([post(body), post(body)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.jobId).toBe(b.body.jobId);
    const [da, db] = [await finished(a.body.statusQueryGetUri), await finished(b.body.statusQueryGetUri)];
    expect(da.output).toEqual(db.output);
    expect(da.output.rowCount).toBe(4);
  });

  it('a blob spine counts by its rows: five rows in spines/ run as a job', async () => {
    const csv = ['entity_id,ts,label', ...spine(5).rows.map((r) => `${r.entity_id},${r.ts},${r.label}`)].join('\n');
    const container = blobs().getContainerClient('spines');
    await container.createIfNotExists();
    await container.getBlockBlobClient('five.csv').upload(csv, Buffer.byteLength(csv));
    const r = await post({ spine: { blobPath: 'spines/five.csv' }, features: ['user_clicks:clicks_24h'] });
    expect(r.status, r.text).toBe(202);
    expect(r.body.spineRows).toBe(5);
    const done = await finished(r.body.statusQueryGetUri);
    expect(done.runtimeStatus).toBe('Completed');
    expect(await parquetRows(done.output.blobPath)).toEqual(expected(5));
    // A missing blob is a 404 at once, as on the synchronous path.
    expect((await post({ spine: { blobPath: 'spines/none.csv' }, features: ['user_clicks:clicks_24h'] })).status).toBe(
      404,
    );
  });
});

describe('the strata CLI', () => {
  it('follows the job of a large spine to its end and downloads the set', async () => {
    const file = path.join(tmp.dir, 'cli-spine.csv');
    fs.writeFileSync(
      file,
      [
        'entity_id,ts,label',
        ...spine(5, new Date(Date.parse(NOW) + 2000).toISOString()).rows.map(
          (r) => `${r.entity_id},${r.ts},${r.label}`,
        ),
      ].join('\n'),
    );
    const out = path.join(tmp.dir, 'cli-set.csv');
    const r = await runCli(
      ['training-set', '--features', 'user_clicks:clicks_24h', '--spine', file, '--out', out, '--json'],
      {
        env: { STRATA_URL: host.baseUrl, STRATA_FUNCTION_KEY: FUNCTION_KEY, STRATA_ADMIN_KEY: ADMIN_KEY },
        cwd: tmp.dir,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training set job training-set-[0-9a-f]{32} started \(5 spine rows\)/);
    expect(r.json()).toMatchObject({
      rowCount: 5,
      jobId: expect.stringMatching(/^training-set-/),
      file: { path: out, format: 'csv' },
    });
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
  });
});

describe('the client asks', () => {
  it('?async=true and Prefer: respond-async run a small set as a job; ?async=false builds a large one at once', async () => {
    const asked = await post(
      { spine: spine(1), features: ['user_clicks:clicks_24h'], id: 'asked-async' },
      '?async=true',
    );
    expect(asked.status).toBe(202);
    expect(asked.body).not.toHaveProperty('spineRows');
    expect((await finished(asked.body.statusQueryGetUri)).output).toMatchObject({ id: 'asked-async', rowCount: 1 });

    const preferred = await post({ spine: spine(2), features: ['user_clicks:clicks_24h'], id: 'preferred' }, '', {
      ...fkey,
      prefer: 'respond-async, wait=5',
    });
    expect(preferred.status).toBe(202);
    expect(preferred.headers.get('preference-applied')).toBe('respond-async');
    expect((await finished(preferred.body.statusQueryGetUri)).output).toMatchObject({ id: 'preferred', rowCount: 2 });

    const now = await post({ spine: spine(5), features: ['user_clicks:clicks_24h'], id: 'large-now' }, '?async=false');
    expect(now.status).toBe(201);
    expect(now.body).toMatchObject({ id: 'large-now', rowCount: 5 });
  });

  it('bad requests are refused before any job starts, naming the field', async () => {
    const bad = await post({ spine: spine(5), features: ['user_clicks:nope'] });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ where: 'features[0]' })]);
    const flag = await post({ spine: spine(1), features: ['user_clicks:clicks_24h'] }, '?async=maybe');
    expect(flag.status).toBe(400);
    expect(flag.body.details).toEqual([expect.objectContaining({ where: 'query.async' })]);
  });
});

describe('immutability across both paths', () => {
  it('a different request under a taken id: the job fails with 409 naming id, and the set stays', async () => {
    const first = await post({ spine: spine(2), features: ['user_clicks:clicks_24h'], id: 'taken' });
    expect(first.status).toBe(201);
    const other = await post({ spine: spine(5), features: ['user_clicks:clicks_24h'], id: 'taken' });
    expect(other.status).toBe(202);
    const done = await finished(other.body.statusQueryGetUri);
    expect(done.runtimeStatus).toBe('Failed');
    expect(done.customStatus).toMatchObject({ phase: 'refused', status: 409, details: [{ where: 'id' }] });
    expect(String(done.output)).toMatch(/409: training set id "taken" is taken/);
    const record = await blobs()
      .getContainerClient('training-sets')
      .getBlockBlobClient('taken.json')
      .downloadToBuffer();
    expect(JSON.parse(record.toString('utf8'))).toEqual(first.body);
    // The same request as the first, as a job: the stored set.
    const same = await post({ spine: spine(2), features: ['user_clicks:clicks_24h'], id: 'taken' }, '?async=true');
    const sameDone = await finished(same.body.statusQueryGetUri);
    expect(sameDone.output).toEqual(first.body);
    expect(sameDone.customStatus).toMatchObject({ created: false });
  });
});
