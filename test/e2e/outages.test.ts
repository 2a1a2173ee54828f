/**
 * Outages over the running host, with its own redis-server and Azurite that the test stops and
 * starts again: nothing accepted is lost, the host never dies, and it says which dependency is
 * down (503). A poison record (4,100 levels of nested JSON) on the bus fails alone.
 *   - Redis down: batches still reach the offline store; they are retried (the partition waits,
 *     nothing is checkpointed past them, a host stopped meanwhile redelivers them) and their
 *     online values are written once Redis is back.
 *   - Storage down: requests that need it get 503 naming Blob or Table storage, the host keeps
 *     running, and everything works again once storage is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import {
  startHostProcess,
  type HostProcess,
  ROOT,
  ADMIN_KEY,
  FUNCTION_KEY,
  SYSTEM_KEY,
  eventually,
} from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { OfflineStore } from '../../shared/features/offline';
import { Storage } from '../../shared/azure/storage';
import { sourceSegmentView } from '../../shared/features/ingest/service';
import { WAIT_MS } from '../helpers/wait';

const tmp = tempDir('strata-outages-');
let azurite: AzuriteHandle;
let redis: RedisHandle;
let host: HostProcess;
const fkey = { 'x-functions-key': FUNCTION_KEY };
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

const startHost = () =>
  startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: redis.url },
  });

async function publish(events: unknown[]): Promise<Response> {
  return fetch(`${host.baseUrl}/api/_local/eventhubs/clicks?partitionKeyField=user_id`, {
    method: 'POST',
    headers: { 'x-functions-key': ADMIN_KEY },
    body: JSON.stringify(events),
  });
}

async function clicks24h(user: string): Promise<unknown> {
  const res = await fetch(`${host.baseUrl}/api/features/${user}?view=user_clicks`, { headers: fkey });
  return res.status === 200
    ? ((await res.json()) as { features: Record<string, unknown> }).features['user_clicks:clicks_24h']
    : undefined;
}

/** The source segment rows of the clicks source, per user, read by the test's own offline store. */
async function offlineClicks(): Promise<Record<string, number>> {
  const store = await OfflineStore.open({
    storage: new Storage(azurite.connectionString),
    cacheDir: path.join(tmp.dir, `cache-${Math.random().toString(36).slice(2)}`),
  });
  const out: Record<string, number> = {};
  for (const r of await store.readRows(sourceSegmentView('clicks'), {})) out[r.entityId] = (out[r.entityId] ?? 0) + 1;
  return out;
}

beforeAll(async () => {
  [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  host = await startHost();
});
afterAll(async () => {
  await host?.stop();
  await Promise.all([azurite?.stop(), redis?.stop()]);
  tmp.cleanup();
});

describe('a poison record on the bus', () => {
  it('4,100 levels of nested JSON are dead-lettered with the reason; the 20 valid neighbours are ingested; the listing answers', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 4100; i++) deep = { a: deep };
    const valid = Array.from({ length: 20 }, (_, i) => ({ user_id: `n${i % 4}`, page: '/home', ts: at(i) }));
    const res = await publish([
      ...valid.slice(0, 10),
      { user_id: 'n0', page: '/deep', ts: at(10), detail: deep },
      ...valid.slice(10),
    ]);
    expect(res.status).toBe(202);
    // Each user's partition is ingested on its own (derived views take turns under their lease): wait for all.
    await eventually(
      async () =>
        (await Promise.all(['n0', 'n1', 'n2', 'n3'].map(clicks24h))).every((n) => n === 5) ? true : undefined,
      WAIT_MS,
      'the valid neighbours online',
    );
    const letters = await fetch(`${host.baseUrl}/api/dead-letter/clicks`, { headers: fkey });
    expect(letters.status).toBe(200);
    const body = (await letters.json()) as { deadLetters: Array<{ reason: string; position: string }> };
    expect(body.deadLetters.map((l) => l.reason)).toEqual([
      'record is nested more than 64 levels deep (objects and arrays within each other); at most 64 are accepted',
    ]);
  });
});

describe('the future-records repair route', () => {
  it('needs the admin key and answers a dry run: nothing dated ahead was stored, nothing to do', async () => {
    const url = `${host.baseUrl}/api/sources/clicks/retract-future`;
    expect((await fetch(url, { method: 'POST', headers: fkey })).status).toBe(401);
    const res = await fetch(url, { method: 'POST', headers: { 'x-functions-key': ADMIN_KEY } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      source: 'clicks',
      dryRun: true,
      maxFutureSkew: '1h',
      records: 0,
      backfill: null,
    });
    expect(
      (
        await fetch(`${host.baseUrl}/api/sources/nope/retract-future`, {
          method: 'POST',
          headers: { 'x-functions-key': ADMIN_KEY },
        })
      ).status,
    ).toBe(404);
  });
});

describe('Redis down', () => {
  it('batches reach the offline store all the same; online values follow when Redis is back, also across a host restart', async () => {
    await redis.stop();
    const users = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];
    const events = Array.from({ length: 200 }, (_, i) => ({
      user_id: users[i % 8],
      page: `/p${i % 3}`,
      ts: at(100 + i),
    }));
    expect((await publish(events)).status).toBe(202);

    // The offline commit does not wait for Redis.
    const offline = await eventually(
      async () => {
        const o = await offlineClicks();
        return users.every((u) => o[u] === 25) ? o : undefined;
      },
      WAIT_MS,
      'all 200 records in the offline store while Redis is down',
    );
    expect(users.map((u) => offline[u])).toEqual(users.map(() => 25));
    const health = await fetch(`${host.baseUrl}/api/health`);
    expect(health.status).toBe(503);
    expect(
      ((await health.json()) as { dependencies: { onlineStore: { ok: boolean } } }).dependencies.onlineStore.ok,
    ).toBe(false);

    // A host stopped now does not checkpoint the batches it keeps retrying: they come again.
    const t = Date.now();
    await host.stop();
    expect(Date.now() - t).toBeLessThan(15_000);
    redis = await startRedis(redis.port);
    host = await startHost();
    await eventually(
      async () => {
        const v = await Promise.all(users.map(clicks24h));
        return v.every((x) => x === 25) ? v : undefined;
      },
      WAIT_MS,
      'every user’s 25 clicks online after Redis came back',
    );
    expect(await offlineClicks()).toMatchObject(Object.fromEntries(users.map((u) => [u, 25]))); // counted once
  });
});

describe('storage down', () => {
  it('the host keeps running and answers 503 naming storage; once storage is back, uploads and events work again', async () => {
    await azurite.stop();
    const csv = `user_id,page,ts\ns0,/home,${at(400)}\ns0,/shop,${at(401)}\n`;
    const upload = () =>
      fetch(`${host.baseUrl}/api/sources/clicks/files?name=s.csv`, { method: 'POST', headers: fkey, body: csv });

    const u = await upload();
    expect(u.status).toBe(503);
    // The body names the service; its address (an internal) is in the function log only.
    expect(((await u.json()) as { error: string }).error).toMatch(
      /^(Blob|Table) storage at <address> is unreachable \(.*\); retry when it is back$/,
    );
    expect(host.output()).toMatch(/(Blob|Table) storage at http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1 is unreachable/);
    const letters = await fetch(`${host.baseUrl}/api/dead-letter/clicks`, { headers: fkey });
    expect(letters.status).toBe(503);
    const sent = await publish([{ user_id: 's1', page: '/home', ts: at(402) }]);
    expect(sent.status).toBe(503);
    expect(((await sent.json()) as { error: string }).error).toMatch(
      /storage .* is unreachable .*no event was accepted/,
    );
    expect((await fetch(`${host.baseUrl}/api/health`)).status).toBe(503);
    const durable = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/some-job`, {
      headers: { 'x-functions-key': SYSTEM_KEY },
    });
    expect(durable.status).toBe(503);
    expect(JSON.stringify(await durable.json())).toMatch(/Table storage at .* is unreachable/);
    await new Promise((r) => setTimeout(r, 3000)); // timers and triggers run into the outage meanwhile
    expect(host.child.exitCode).toBeNull();
    expect(host.output()).not.toMatch(/unhandled promise rejection/);

    azurite = await startAzurite({ location: azurite.location, ports: azurite.ports });
    expect((await upload()).status).toBe(201);
    expect((await publish([{ user_id: 's1', page: '/home', ts: at(402) }])).status).toBe(202);
    await eventually(
      async () => ((await clicks24h('s1')) === 1 && (await clicks24h('s0')) === 2 ? true : undefined),
      WAIT_MS,
      'the upload and the event online',
    );
  });
});
