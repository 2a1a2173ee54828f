/**
 * The feature store as a user meets it, over HTTP against the local host running Strata's own
 * app (dist/functions/index.js) on real Azurite and Redis: events through Event Hubs, a file
 * upload, dead letters, online features, and a point-in-time training set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, RedisHandle } from '../../local/processes/redis';
import { startHostProcess, HostProcess, ROOT, ADMIN_KEY, FUNCTION_KEY, eventually } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { recentTimes } from '../helpers/recent-times';
import { withConnection, literal } from '../../shared/features/offline/duckdb';
import { featureRepo } from '../../shared/definitions';
import { WAIT_MS } from '../helpers/wait';
import { CHURN_V1 } from '../helpers/churn-users';

const tmp = tempDir();
let azurite: AzuriteHandle;
let redis: RedisHandle;
let host: HostProcess;
const fkey = { 'x-functions-key': FUNCTION_KEY };

// Recent times: views have TTLs (user_clicks: 2 days), and the window-flush timer must not move their windows mid-test.
const { at } = recentTimes();

async function send(hub: string, events: unknown[]) {
  const res = await fetch(`${host.baseUrl}/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, {
    method: 'POST',
    headers: { 'x-functions-key': ADMIN_KEY },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(202);
}

async function features(entity: string, query: string) {
  const res = await fetch(`${host.baseUrl}/api/features/${entity}?${query}`, { headers: fkey });
  return {
    status: res.status,
    body: (await res.json()) as {
      features: Record<string, unknown>;
      views: Record<string, { eventTime: string | null; fresh: boolean }>;
    },
  };
}

beforeAll(async () => {
  [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url },
  });
});

afterAll(async () => {
  await host?.stop();
  await Promise.all([azurite?.stop(), redis?.stop()]);
  tmp.cleanup();
});

describe('health', () => {
  it('reports Blob, Table and Redis reachable', async () => {
    const res = await fetch(`${host.baseUrl}/api/health`);
    const body = (await res.json()) as {
      status: string;
      dependencies: Record<string, { ok: boolean; detail?: string }>;
    };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.dependencies.blob!.ok).toBe(true);
    expect(body.dependencies.table!.ok).toBe(true);
    expect(body.dependencies.onlineStore).toMatchObject({ ok: true, detail: 'redis' });
  });
});

describe('streaming ingest', () => {
  it('events through Event Hubs reach the online store; bad ones land in dead letters with reasons', async () => {
    await send('clicks', [
      { user_id: 'u1', page: '/home', ts: at(0) },
      { user_id: 'u1', page: '/shop', ts: at(10) },
      { user_id: 'u1', page: '/shop', ts: at(20) },
      { user_id: 'u2', page: '/home', ts: at(5) },
      { user_id: 'u3', page: '', ts: at(5) },
      { user_id: 'u3', page: '/x', ts: 'yesterday' },
    ]);
    await send('purchases', [{ user_id: 'u1', order_id: 'o1', amount: 120, currency: 'EUR', ts: at(15) }]);

    const u1 = await eventually(
      async () => {
        const r = await features('u1', 'view=user_clicks');
        return r.body.features['user_clicks:clicks_1h'] === 3 ? r.body : undefined;
      },
      WAIT_MS,
      'u1 clicks online',
    );
    expect(u1.features['user_clicks:distinct_pages_24h']).toBe(2);
    expect(u1.features['user_clicks:last_page']).toBe('/shop');
    expect(u1.views.user_clicks!.eventTime).toBe(at(20));

    const svc = await eventually(
      async () => {
        const r = await features('u1', 'service=churn_v1');
        return r.body.features['user_purchases:spend_7d'] === 120 &&
          r.body.features['user_engagement:spend_per_click'] === 40
          ? r.body
          : undefined;
      },
      WAIT_MS,
      'u1 purchases online',
    );
    expect(svc.features['user_purchases:purchases_7d']).toBe(1);
    expect(Object.keys(svc.features)).toEqual(CHURN_V1);
    expect(svc.features['user_engagement:is_active']).toBe(true);

    const dead = await eventually(
      async () => {
        const r = await fetch(`${host.baseUrl}/api/dead-letter/clicks`, { headers: fkey });
        const b = (await r.json()) as {
          deadLetters: Array<{ reason: string; position: string; record: { user_id: string } }>;
        };
        return b.deadLetters.length >= 2 ? b.deadLetters : undefined;
      },
      WAIT_MS,
      'dead letters',
    );
    const reasons = dead.map((d) => d.reason).join('\n');
    expect(reasons).toMatch(/page/);
    expect(reasons).toMatch(/ts/);
    expect(dead.every((d) => /partition \d+, sequence \d+/.test(d.position))).toBe(true);
  });

  it('an entity with nothing stored answers nulls, not an error', async () => {
    const r = await features('nobody', 'view=user_clicks');
    expect(r.status).toBe(200);
    expect(r.body.features['user_clicks:clicks_1h']).toBeNull();
    expect(r.body.views.user_clicks).toMatchObject({ eventTime: null, fresh: false });
  });

  it('bad lookups get 400 naming the problem', async () => {
    const r = await fetch(`${host.baseUrl}/api/features/u1?view=nope`, { headers: fkey });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: expect.stringContaining('unknown feature view "nope"') });
    const both = await fetch(`${host.baseUrl}/api/features/lookup`, {
      method: 'POST',
      headers: fkey,
      body: JSON.stringify({ entityIds: [] }),
    });
    expect(both.status).toBe(400);
  });
});

describe('file ingest', () => {
  const csv =
    ['user_id,page,ts', `u5,/a,${at(30)}`, `u5,/b,${at(31)}`, `u6,/a,${at(32)}`, 'u7,/a', `u8,,${at(33)}`].join('\n') +
    '\n';

  it('an uploaded CSV is ingested, bad rows dead-lettered with their line', async () => {
    const res = await fetch(`${host.baseUrl}/api/sources/clicks/files?name=clicks.csv`, {
      method: 'POST',
      headers: { ...fkey, 'content-type': 'text/csv' },
      body: csv,
    });
    const body = (await res.json()) as {
      status: string;
      accepted: number;
      rejected: number;
      views: Record<string, { rows: number }>;
      sha256: string;
    };
    expect(res.status).toBe(201);
    expect(body).toMatchObject({ status: 'ingested', accepted: 3, rejected: 2 });
    expect(body.views.user_clicks!.rows).toBeGreaterThan(0);
    const u5 = await features('u5', 'view=user_clicks');
    expect(u5.body.features['user_clicks:clicks_1h']).toBe(2);
    const dead = (await (await fetch(`${host.baseUrl}/api/dead-letter/clicks`, { headers: fkey })).json()) as {
      deadLetters: Array<{ position: string; reason: string }>;
    };
    expect(dead.deadLetters.map((d) => d.position)).toEqual(
      expect.arrayContaining(['clicks.csv line 5', 'clicks.csv line 6']),
    );
  });

  it('the same file again commits nothing new', async () => {
    const res = await fetch(`${host.baseUrl}/api/sources/clicks/files?name=again.csv`, {
      method: 'POST',
      headers: fkey,
      body: csv,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'already-ingested', accepted: 3 });
  });

  it('a file dropped into the uploads container is ingested', async () => {
    const c = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('uploads');
    await c.createIfNotExists();
    const text = [JSON.stringify({ user_id: 'u9', order_id: 'o9', amount: 40, currency: 'USD', ts: at(40) })].join(
      '\n',
    );
    await c.getBlockBlobClient('purchases/batch1.jsonl').upload(text, text.length);
    const r = await eventually(
      async () => {
        const f = await features('u9', 'view=user_purchases');
        return f.body.features['user_purchases:spend_7d'] === 40 ? f : undefined;
      },
      WAIT_MS,
      'blob upload ingested',
    );
    expect(r.body.features['user_purchases:purchases_7d']).toBe(1);
  });

  it('refuses unknown sources, unknown formats and empty bodies with clear errors', async () => {
    const unknown = await fetch(`${host.baseUrl}/api/sources/nope/files?name=a.csv`, {
      method: 'POST',
      headers: fkey,
      body: 'a\n',
    });
    expect(unknown.status).toBe(404);
    const fmt = await fetch(`${host.baseUrl}/api/sources/clicks/files?name=a.xlsx`, {
      method: 'POST',
      headers: fkey,
      body: 'x',
    });
    expect(fmt.status).toBe(400);
    expect(await fmt.json()).toMatchObject({ error: expect.stringContaining('cannot tell the format') });
    const empty = await fetch(`${host.baseUrl}/api/sources/clicks/files?name=a.csv`, {
      method: 'POST',
      headers: fkey,
      body: '',
    });
    expect(empty.status).toBe(400);
  });
});

describe('training sets', () => {
  it('builds a point-in-time training set from a feature service', async () => {
    // Values count once they had arrived (created_ts <= the spine time): ask about "now".
    const now = new Date().toISOString();
    const res = await fetch(`${host.baseUrl}/api/training-sets`, {
      method: 'POST',
      headers: fkey,
      body: JSON.stringify({
        spine: {
          rows: [
            { entity_id: 'u1', ts: now, label: 1 },
            { entity_id: 'u2', ts: now, label: 0 },
            { entity_id: 'nobody', ts: now, label: 0 },
            { entity_id: 'u1', ts: at(-60), label: 0 },
          ],
        },
        featureService: 'churn_v1',
      }),
    });
    const body = (await res.json()) as {
      rowCount: number;
      columnCount: number;
      blobPath: string;
      container: string;
      segmentsUsed: unknown[];
    };
    expect(res.status).toBe(201);
    expect(body.rowCount).toBe(4);
    expect(body.columnCount).toBe(4 + 9); // row_id, entity_id, ts, label + the service's 9 features
    expect(body.segmentsUsed.length).toBeGreaterThan(0);
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(body.container)
      .getBlobClient(body.blobPath);
    const file = path.join(tmp.dir, 'training-set.parquet');
    await blob.downloadToFile(file);
    const rows = await withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT entity_id, ts, clicks_24h, spend_7d, is_active FROM read_parquet(${literal(file)}) ORDER BY row_id`,
        )
      ).getRowObjectsJson(),
    );
    // Spine order kept; values as known at each row's time; nothing known an hour before the events.
    expect(rows.map((r) => [r.entity_id, r.clicks_24h, r.spend_7d, r.is_active])).toEqual([
      ['u1', '3', 120, true],
      ['u2', '1', null, true],
      ['nobody', null, null, null],
      ['u1', null, null, null],
    ]);
  });

  it('names what is wrong in a bad request', async () => {
    const res = await fetch(`${host.baseUrl}/api/training-sets`, {
      method: 'POST',
      headers: fkey,
      body: JSON.stringify({ spine: { rows: [{ entity_id: 'u1', ts: 'soon' }] }, features: ['user_clicks:nope'] }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { details: Array<{ where: string; problem: string }> };
    expect(body.details.map((d) => d.where)).toContain('features[0]');
  });
});

describe('definitions registry', () => {
  const admin = { 'x-functions-key': ADMIN_KEY };
  it('apply records the app definitions once; a second apply changes nothing; listing shows them', async () => {
    const dry = await fetch(`${host.baseUrl}/api/definitions/apply?dryRun=true`, { method: 'POST', headers: admin });
    expect(dry.status).toBe(200);
    const all = featureRepo.definitions().length;
    expect(await dry.json()).toMatchObject({ created: all });
    const first = (await (
      await fetch(`${host.baseUrl}/api/definitions/apply`, { method: 'POST', headers: admin })
    ).json()) as { created: number };
    expect(first.created).toBe(all); // the dry run wrote nothing
    const again = (await (
      await fetch(`${host.baseUrl}/api/definitions/apply`, { method: 'POST', headers: admin })
    ).json()) as { created: number; unchanged: number };
    expect(again).toMatchObject({ created: 0, unchanged: all });
    const list = (await (await fetch(`${host.baseUrl}/api/definitions?kind=view`, { headers: fkey })).json()) as {
      definitions: Array<{ name: string; inApp: boolean }>;
      pending: unknown[];
    };
    expect(list.definitions.map((d) => d.name).sort()).toEqual(['user_clicks', 'user_engagement', 'user_purchases']);
    expect(list.pending).toEqual([]);
  });

  it('apply needs the admin key', async () => {
    expect((await fetch(`${host.baseUrl}/api/definitions/apply`, { method: 'POST', headers: fkey })).status).toBe(401);
  });
});

describe('ingest metrics', () => {
  it('/api/metrics counts accepted and dead-lettered records per source and rows per view', async () => {
    const res = await fetch(`${host.baseUrl}/api/metrics`, { headers: fkey });
    expect(res.status).toBe(200);
    const text = await res.text();
    const value = (line: RegExp) => Number((text.match(line) ?? [])[1] ?? NaN);
    // 2 bad clicks from the stream, 2 bad rows from the CSV (the same CSV again counts nothing).
    expect(value(/strata_ingest_records_total\{source="clicks",outcome="rejected"\} (\d+)/)).toBe(4);
    expect(value(/strata_ingest_records_total\{source="clicks",outcome="accepted"\} (\d+)/)).toBe(7);
    expect(value(/strata_ingest_feature_rows_total\{view="user_clicks"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/strata_ingest_batches_total\{source="clicks",status="already-ingested"\} (\d+)/)).toBe(1);
  });
});
