/**
 * Access and bad input at the edge, as an attacker or a careless client meets Strata's app on
 * the local host (dist/functions/index.js, real Azurite, the embedded online store): the Durable
 * HTTP API takes the durabletask_extension system key like on Azure, names are checked before
 * any storage call, bad input is a 4xx naming the field, training sets and model versions are
 * immutable under concurrency, the data edge cases of files and events, and a poison
 * orchestration input fails its instance while the host keeps serving.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { ADMIN_KEY, FUNCTION_KEY, SYSTEM_KEY, eventually } from '../helpers/host-process';
import { useHost } from '../helpers/local-host';
import { logisticRegressionModel } from '../../shared/onnx';
import { withConnection, literal } from '../../shared/features/offline/duckdb';
import fs from 'node:fs';
import { WAIT_MS } from '../helpers/wait';

const { tmp, azurite, host } = useHost({ tempPrefix: 'edge-access-' });
const fkey = { 'x-functions-key': FUNCTION_KEY };
const akey = { 'x-functions-key': ADMIN_KEY };
const skey = { 'x-functions-key': SYSTEM_KEY };
const DURABLE = '/runtime/webhooks/durabletask';
const DAY = 86_400_000;

// Recent times: views have TTLs and the stream's clock must not run backwards between tests.
const T0 = Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

interface Reply {
  status: number;
  text: string;
  body: any;
}

/** Every request is bounded: a hang fails the test instead of stalling it. */
async function call(
  method: string,
  url: string,
  o: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const body =
    o.body === undefined
      ? undefined
      : typeof o.body === 'string' || o.body instanceof Uint8Array
        ? o.body
        : JSON.stringify(o.body);
  const res = await fetch(`${host.baseUrl}${url}`, {
    method,
    headers: o.headers ?? {},
    body: body as string | Uint8Array | undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text, body: parsed };
}

const blobs = () => BlobServiceClient.fromConnectionString(azurite.connectionString);
const containerExists = (name: string) => blobs().getContainerClient(name).exists();

beforeAll(async () => {
  // Clicks in the offline store, so training sets and backfills have something to read.
  const lines = ['u1', 'u2', 'u3'].flatMap((u, i) =>
    [0, 10, 20].map((m) => JSON.stringify({ user_id: u, page: `/p${m}`, ts: at(m + i) })),
  );
  const up = await call('POST', '/api/sources/clicks/files?name=seed.jsonl', { headers: fkey, body: lines.join('\n') });
  expect(up.status).toBe(201);
});

describe('the Durable HTTP API takes the durabletask_extension system key (or the admin key), as on Azure', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', `${DURABLE}/instances/`],
    ['GET', `${DURABLE}/instances/nobody`],
    ['POST', `${DURABLE}/orchestrators/backfill/keycheck`, { views: [] }],
    ['POST', `${DURABLE}/instances/nobody/raiseEvent/go`, {}],
    ['POST', `${DURABLE}/instances/nobody/terminate?reason=x`],
    ['POST', `${DURABLE}/instances/nobody/suspend?reason=x`],
    ['POST', `${DURABLE}/instances/nobody/resume?reason=x`],
    ['DELETE', `${DURABLE}/instances/nobody`],
    ['DELETE', `${DURABLE}/instances/?createdTimeFrom=2020-01-01T00:00:00Z`],
  ];

  it('npm start prints the system key with the others', () => {
    expect(host.output()).toContain(`durabletask_extension): ${SYSTEM_KEY}`);
  });

  it('every route answers 401 without a key, with a wrong key and with the function key', async () => {
    for (const [method, url, body] of routes) {
      for (const headers of [{}, { 'x-functions-key': 'wrong' }, fkey]) {
        const r = await call(method, url, { headers: { ...headers, 'content-type': 'application/json' }, body });
        expect(r.status, `${method} ${url} with ${JSON.stringify(headers)}`).toBe(401);
      }
      expect(
        (await call(method, `${url}${url.includes('?') ? '&' : '?'}code=${FUNCTION_KEY}`, { body })).status,
        `${method} ${url}?code=function key`,
      ).toBe(401);
    }
  });

  it('the system key and the admin key open them, as the header or ?code=', async () => {
    for (const [method, url, body] of routes.filter(([m, u]) => m !== 'POST' || !u.includes('orchestrators'))) {
      for (const headers of [skey, akey]) {
        const r = await call(method, url, { headers: { ...headers, 'content-type': 'application/json' }, body });
        expect([200, 202, 404, 410], `${method} ${url}`).toContain(r.status);
      }
      const viaCode = await call(method, `${url}${url.includes('?') ? '&' : '?'}code=${SYSTEM_KEY}`, {
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect([200, 202, 404, 410], `${method} ${url}?code=system key`).toContain(viaCode.status);
    }
  });

  it('the links of POST /api/backfills carry code= and work as they are, with no header', async () => {
    const day = Math.floor(Date.parse(at(0)) / DAY) * DAY;
    const r = await call('POST', '/api/backfills', {
      headers: fkey,
      body: { views: ['user_clicks'], from: day, to: day + DAY },
    });
    expect(r.status).toBe(202);
    const links = r.body as { statusQueryGetUri: string; terminatePostUri: string };
    expect(new URL(links.statusQueryGetUri).searchParams.get('code')).toBe(SYSTEM_KEY);
    const done = await eventually(
      async () => {
        const s = await fetch(links.statusQueryGetUri, { signal: AbortSignal.timeout(10_000) });
        expect([200, 202]).toContain(s.status);
        const b = (await s.json()) as { runtimeStatus: string };
        return ['Completed', 'Failed'].includes(b.runtimeStatus) ? b : undefined;
      },
      WAIT_MS,
      'the backfill to finish',
    );
    expect(done.runtimeStatus).toBe('Completed');
    // The app's own client calls (getStatus inside GET /api/backfills/{id}) use the keyed URLs too.
    expect(
      (await call('GET', `/api/backfills/${(r.body as { id: string }).id}`, { headers: fkey })).body,
    ).toMatchObject({ runtimeStatus: 'Completed' });
  });
});

describe('names are checked at the edge, before any storage call', () => {
  it('a hub name that climbs out of the bus container is refused and writes nothing', async () => {
    const r = await call('POST', '/api/_local/eventhubs/..%2F..%2Fuploads%2Fclicks%2Ftrav', {
      headers: akey,
      body: [{ user_id: 'x', page: '/', ts: at(1) }],
    });
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual([expect.objectContaining({ where: 'hub' })]);
    const names: string[] = [];
    for await (const b of blobs().getContainerClient('uploads').listBlobsFlat()) names.push(b.name);
    expect(names).toEqual([]);
  });

  it('a NUL in a hub name is refused at once', async () => {
    const t0 = Date.now();
    const r = await call('POST', '/api/_local/eventhubs/%00', { headers: akey, body: [{}] });
    expect(r.status).toBe(400);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('an instance id with / is refused at once, on the Durable API and on /api/backfills/{id}', async () => {
    const t0 = Date.now();
    const raw = await call('GET', `${DURABLE}/instances/%2F`, { headers: skey });
    expect(raw.status).toBe(400);
    expect(JSON.stringify(raw.body)).toMatch(/instance id/);
    const app = await call('GET', '/api/backfills/%2F', { headers: fkey });
    expect(app.status).toBe(400);
    expect(app.body.details).toEqual([expect.objectContaining({ where: 'id' })]);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a lineage id that is not valid percent-encoding is a 400 naming the id, not a URIError', async () => {
    for (const kind of ['segment', 'training-set', 'view', 'source']) {
      const r = await call('GET', `/api/lineage/${kind}/%ff`, { headers: fkey });
      expect(r.status, kind).toBe(400);
      expect(r.body.details, kind).toEqual([expect.objectContaining({ where: 'id' })]);
    }
  });

  it('definition, view and source names outside the rule are 400s naming the field', async () => {
    expect((await call('GET', '/api/definitions/view/a%2Fb/history', { headers: fkey })).body.details).toEqual([
      expect.objectContaining({ where: 'name' }),
    ]);
    expect((await call('GET', '/api/dead-letter/%00', { headers: fkey })).status).toBe(400);
    expect((await call('GET', '/api/views/constructor/status', { headers: fkey })).status).toBe(404);
    expect(
      (await call('GET', `/api/features/${'u'.repeat(600)}?view=user_clicks`, { headers: fkey })).body.details,
    ).toEqual([expect.objectContaining({ where: 'entity' })]);
  });

  it('the alias `constructor` is an ordinary name; pinning an alias that is not set is a 404 naming it', async () => {
    const onnxBase64 = Buffer.from(logisticRegressionModel({ weights: [0.5], bias: 0 })).toString('base64');
    const signature = {
      featureService: { name: 'one', features: [{ view: 'user_clicks', feature: 'clicks_1h' }] },
      input: { name: 'features' },
      outputs: [{ name: 'probability', meaning: 'a test score' }],
      policy: { default: { onMissing: { default: 0 } } },
    };
    expect(
      (
        await call('POST', '/api/models/proto/versions', {
          headers: akey,
          body: { onnxBase64, signature, alias: 'production' },
        })
      ).status,
    ).toBe(201);
    const pinned = await call('POST', '/api/predict/proto', {
      headers: { ...fkey, 'x-strata-model-version': 'constructor' },
      body: { entityId: 'u1' },
    });
    expect(pinned.status).toBe(404);
    expect(pinned.body.error).toMatch(/alias "?constructor"?/);
    expect(pinned.text).not.toMatch(/function|native code/);
    const set = await call('POST', '/api/models/proto/aliases', {
      headers: akey,
      body: { alias: 'constructor', version: 1 },
    });
    expect(set.status).toBe(200);
    expect(set.body.model.aliases).toEqual({ production: 1, constructor: 1 });
    const viaAlias = await call('POST', '/api/predict/proto', {
      headers: { ...fkey, 'x-strata-model-version': 'constructor' },
      body: { entityId: 'u1' },
    });
    expect(viaAlias).toMatchObject({ status: 200, body: { modelVersion: 1, routedBy: 'pinned' } });
    expect((await call('POST', '/api/models/constructor/promote', { headers: akey })).status).toBe(404);
  });
});

describe('prototype names are ordinary names everywhere', () => {
  it('a lineage parameter named `constructor` is unset on records that never set it (not "already set")', async () => {
    const r = await call('POST', '/api/lineage-versions/infer', {
      headers: akey,
      body: { rules: [{ where: { kind: 'segment', view: 'src.clicks' }, param: 'constructor' }], dryRun: true },
    });
    expect(r.status).toBe(200);
    expect(r.body.matched).toBeGreaterThan(0);
    expect(Object.keys(r.body.reasons).join('; ')).toMatch(/no record within \d+ lineage steps up sets constructor/);
    expect(Object.keys(r.body.reasons).join('; ')).not.toMatch(/already set/);
  });
});

describe('bad input is a 4xx naming the field', () => {
  it('a backfill from 1e308 is a 400 naming from', async () => {
    const r = await call('POST', '/api/backfills', {
      headers: fkey,
      body: { views: ['user_clicks'], from: 1e308, to: 2e308 },
    });
    expect(r.status).toBe(400);
    expect(r.body.details.map((d: { where: string }) => d.where)).toEqual(expect.arrayContaining(['from']));
  });

  it('?code= works on every keyed route, /models/{m}/stats and /models/{m}/history included', async () => {
    expect((await call('GET', `/api/models/proto/stats?code=${FUNCTION_KEY}`)).status).toBe(200);
    expect((await call('GET', `/api/models/proto/history?code=${ADMIN_KEY}&limit=5`)).status).toBe(200);
    expect((await call('GET', `/api/models/proto/stats?code=${FUNCTION_KEY}&windowSeconds=60`)).status).toBe(200);
  });

  it('a spine blob path stays inside the allowed containers, and reading one never creates a container', async () => {
    const ts = (blobPath: string) =>
      call('POST', '/api/training-sets', {
        headers: fkey,
        body: { spine: { blobPath }, features: ['user_clicks:clicks_1h'] },
      });
    for (const p of [
      'models/churn/../../x.csv',
      'created-by-function-key/x.parquet',
      'spines/../models/x.csv',
      'spines//x.csv',
      'spines/a\\b.csv',
    ]) {
      const r = await ts(p);
      expect(r.status, p).toBe(400);
      expect(r.body.details, p).toEqual([expect.objectContaining({ where: 'spine.blobPath' })]);
    }
    const missing = await ts('spines/none.parquet');
    expect(missing.status).toBe(404);
    expect(await containerExists('created-by-function-key')).toBe(false);
    expect(await containerExists('spines')).toBe(false);
  });

  it('error bodies name the problem without internals (temp paths, SQL)', async () => {
    const r = await call('POST', '/api/sources/clicks/files?name=broken.parquet', {
      headers: fkey,
      body: Buffer.from('PAR1 this is not parquet PAR1'),
    });
    expect(r.status).toBe(400);
    expect(r.text).not.toMatch(/\/tmp\/|strata-upload|SELECT|read_parquet/i);
    expect(r.body.error).toMatch(/Parquet/);
  });
});

describe('training sets are immutable', () => {
  const spine = (ts: string) => ({
    rows: [
      { entity_id: 'u1', ts },
      { entity_id: 'u2', ts },
    ],
  });

  it('the same id with the same request answers the existing set (200); a different request under it is a 409', async () => {
    const body = { id: 'immutable-1', spine: spine(at(60)), features: ['user_clicks:clicks_1h'] };
    const first = await call('POST', '/api/training-sets', { headers: fkey, body });
    expect(first.status).toBe(201);
    const again = await call('POST', '/api/training-sets', { headers: fkey, body });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const other = await call('POST', '/api/training-sets', { headers: fkey, body: { ...body, spine: spine(at(90)) } });
    expect(other.status).toBe(409);
    expect(other.body.details).toEqual([expect.objectContaining({ where: 'id' })]);
    // The stored set is still the first one.
    const record = await blobs()
      .getContainerClient('training-sets')
      .getBlockBlobClient('immutable-1.json')
      .downloadToBuffer();
    expect(JSON.parse(record.toString('utf8'))).toEqual(first.body);
  });

  it('the same request at once, many times, builds one set', async () => {
    const body = { id: 'immutable-2', spine: spine(at(70)), features: ['user_clicks:clicks_1h'] };
    const rs = await Promise.all(
      Array.from({ length: 5 }, () => call('POST', '/api/training-sets', { headers: fkey, body })),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(rs.map((r) => JSON.stringify(r.body))).size).toBe(1);
  });
});

describe('content-addressed model registration holds under concurrency', () => {
  it('the same ONNX file registered 8 times at once gives one version', async () => {
    const onnxBase64 = Buffer.from(logisticRegressionModel({ weights: [0.25], bias: 0.5 })).toString('base64');
    const signature = {
      featureService: { name: 'one', features: [{ view: 'user_clicks', feature: 'clicks_1h' }] },
      input: { name: 'features' },
      outputs: [{ name: 'probability', meaning: 'a test score' }],
    };
    const rs = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('POST', '/api/models/same8/versions', { headers: akey, body: { onnxBase64, signature } }),
      ),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(rs.map((r) => r.body.version.version))).toEqual(new Set([1]));
    const versions = await call('GET', '/api/models/same8/versions', { headers: akey });
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1]);
  });
});

describe('data edge cases', () => {
  const deadLetters = async () =>
    (await call('GET', '/api/dead-letter/clicks?limit=1000', { headers: fkey })).body.deadLetters as Array<{
      record: unknown;
      reason: string;
    }>;
  const upload = (name: string, body: string | Buffer) =>
    call('POST', `/api/sources/clicks/files?name=${name}`, { headers: fkey, body });

  it('an empty CSV cell in an optional column is absent, not a null that fails', async () => {
    const r = await upload('optional.csv', `user_id,page,ts,session_ms\ncsv1,/a,${at(30)},\ncsv1,/b,${at(31)},1200\n`);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ accepted: 2, rejected: 0 });
  });

  it('a UTF-8 byte-order mark at the start of a CSV or JSONL file is ignored', async () => {
    const csv = await upload('bom.csv', `\uFEFFuser_id,page,ts\nbom1,/a,${at(32)}\n`);
    expect(csv.body).toMatchObject({ accepted: 1, rejected: 0 });
    const jsonl = await upload('bom.jsonl', `\uFEFF${JSON.stringify({ user_id: 'bom2', page: '/a', ts: at(33) })}\n`);
    expect(jsonl.body).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('a Parquet struct or list column is refused for a scalar field with a reason, not stringified', async () => {
    const file = path.join(tmp.dir, 'nested.parquet');
    await withConnection((c) =>
      c.run(
        `COPY (SELECT * FROM (VALUES ('pq1', {'path': '/a'}, ${literal(at(34))}), ('pq2', NULL, ${literal(at(35))})) v(user_id, page, ts)) TO ${literal(file)} (FORMAT parquet)`,
      ),
    );
    const list = path.join(tmp.dir, 'list.parquet');
    await withConnection((c) =>
      c.run(
        `COPY (SELECT 'pq3' AS user_id, ['/a', '/b'] AS page, ${literal(at(36))} AS ts) TO ${literal(list)} (FORMAT parquet)`,
      ),
    );
    const r = await upload('nested.parquet', fs.readFileSync(file));
    expect(r.body).toMatchObject({ accepted: 0, rejected: 2 });
    const l = await upload('list.parquet', fs.readFileSync(list));
    expect(l.body).toMatchObject({ accepted: 0, rejected: 1 });
    const letters = await deadLetters();
    const reasonOf = (user: string) => letters.find((d) => (d.record as { user_id?: string }).user_id === user)?.reason;
    expect(reasonOf('pq1')).toMatch(/field "page": expected string, got an object/);
    expect(reasonOf('pq3')).toMatch(/field "page": expected string, got an array/);
  });

  it('an amount so large that sums overflow is dead-lettered, never stored as null and served as 0', async () => {
    const events = [1, 2].map((n) => ({
      user_id: 'rich',
      order_id: `o${n}`,
      amount: 1e308,
      currency: 'EUR',
      ts: at(40 + n),
    }));
    expect(
      (await call('POST', '/api/_local/eventhubs/purchases?partitionKeyField=user_id', { headers: akey, body: events }))
        .status,
    ).toBe(202);
    const letters = await eventually(
      async () => {
        const all = (await call('GET', '/api/dead-letter/purchases', { headers: fkey })).body.deadLetters as Array<{
          record: { user_id?: string };
          reason: string;
        }>;
        const mine = all.filter((d) => d.record.user_id === 'rich');
        return mine.length === 2 ? mine : undefined;
      },
      WAIT_MS,
      'both purchases in the dead letters',
    );
    for (const d of letters) expect(d.reason).toMatch(/field "amount": .*1e\+308/);
    const online = await call('GET', '/api/features/rich?view=user_purchases', { headers: fkey });
    expect(online.body.features['user_purchases:spend_7d'] ?? null).toBeNull();
  });

  it('ten identical uploads at once answer one `ingested` and nine `already-ingested`', async () => {
    const body = ['c1', 'c2'].map((u, i) => JSON.stringify({ user_id: u, page: '/same', ts: at(45 + i) })).join('\n');
    const rs = await Promise.all(Array.from({ length: 10 }, () => upload('same.jsonl', body)));
    expect(rs.map((r) => r.body.status).sort()).toEqual(
      ['already-ingested', ...Array(8).fill('already-ingested'), 'ingested'].sort(),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  });
});

describe('a poison orchestration input fails its instance; the host keeps serving', () => {
  it('backfill started on the Durable API with intervalMs 0 fails naming the field, and the host stays up', async () => {
    const day = Math.floor(Date.parse(at(0)) / DAY) * DAY;
    const start = await call('POST', `${DURABLE}/orchestrators/backfill/poison-1`, {
      headers: { ...skey, 'content-type': 'application/json' },
      body: { views: ['user_clicks'], from: day - DAY, to: day + DAY, intervalMs: 0, maxParallel: 1 },
    });
    expect(start.status).toBe(202);
    const done = await eventually(
      async () => {
        const s = await call('GET', `${DURABLE}/instances/poison-1`, { headers: skey });
        return s.status === 200 ? s.body : undefined;
      },
      WAIT_MS,
      'poison-1 to finish',
    );
    expect(done.runtimeStatus).toBe('Failed');
    expect(JSON.stringify(done.output)).toMatch(/intervalMs/);
    expect((await call('GET', '/api/health')).status).toBe(200);
  });
});
