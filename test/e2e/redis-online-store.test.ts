/**
 * The Redis online store under trouble, over HTTP against the local host running Strata's app
 * with a real redis-server:
 *  - frozen (SIGSTOP: the connection stays open, nothing answers): predict, GET /api/features
 *    and health answer 503 naming Redis within the read timeout instead of hanging; events sent
 *    meanwhile are ingested once Redis answers again, none lost;
 *  - emptied (FLUSHALL, a replaced cache): POST /api/materialize rebuilds it from the offline
 *    store, newest row per view and entity, and predict answers as before.
 */
import path from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { startHostProcess, ROOT, eventually, type HostProcess } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import {
  admin,
  at,
  call,
  CLICKS,
  fkey,
  ingested,
  predictU1,
  seedChurn,
  u1Served,
  userClicks,
} from '../helpers/online-scenario';
import { WAIT_MS } from '../helpers/wait';

const storage = useAzurite('redis-online-');
let redis: RedisHandle;
let host: HostProcess;
// A request that hangs is cut off here: far above the 1 s read timeout, far below a hang.
const HANG_MS = 20_000;

beforeAll(async () => {
  redis = await startRedis();
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
    // The default read timeout (1 s), and 1 s for writes too, so ingest meets the timeout during the freeze.
    env: { REDIS_URL: redis.url, STRATA_REDIS_READ_TIMEOUT_MS: '1000', STRATA_REDIS_WRITE_TIMEOUT_MS: '1000' },
  });
  await seedChurn(host);
});

afterAll(async () => {
  if (redis) process.kill(redis.pid, 'SIGCONT');
  await host?.stop();
  await redis?.stop();
});

describe('a frozen Redis', () => {
  it('predict, features and health answer 503 naming Redis; events sent meanwhile are ingested after it thaws', async () => {
    await u1Served(host);
    process.kill(redis.pid, 'SIGSTOP');
    try {
      const sent = await call(
        host,
        'POST',
        '/api/_local/eventhubs/clicks?partitionKeyField=user_id',
        [
          { user_id: 'u3', page: '/home', ts: at(1) },
          { user_id: 'u3', page: '/a', ts: at(2) },
          { user_id: 'u3', page: '/b', ts: at(3) },
        ],
        admin,
      );
      expect(sent.status).toBe(202);

      const predicted = await predictU1(host, HANG_MS);
      expect(predicted.status).toBe(503);
      // Clients get the address redacted (shared/errors); the log keeps it.
      expect(predicted.body.error).toMatch(
        /^Redis at <address>: could not read features: no answer within 1000 ms \(STRATA_REDIS_READ_TIMEOUT_MS\)/,
      );
      expect(host.output()).toContain(
        `Redis at redis://127.0.0.1:${redis.port}: could not read features: no answer within 1000 ms`,
      );
      const features = await call(host, 'GET', '/api/features/u1?view=user_clicks', undefined, fkey, HANG_MS);
      expect(features.status).toBe(503);
      expect(features.body.error).toMatch(/^Redis at .*: could not read features: no answer within 1000 ms/);
      const lookup = await call(
        host,
        'POST',
        '/api/features/lookup',
        { entityIds: ['u1', 'u2'], views: ['user_clicks'] },
        fkey,
        HANG_MS,
      );
      expect(lookup.status).toBe(503);
      const health = await call(host, 'GET', '/api/health', undefined, {}, HANG_MS);
      expect(health.status).toBe(503);
      expect(health.body.dependencies.onlineStore).toMatchObject({ ok: false, detail: 'redis' });
      expect(health.body.dependencies.blob.ok).toBe(true);
      // Frozen until the ingest batch has met the write timeout and is being retried.
      await eventually(
        () =>
          /function ingest-clicks partition \d+: attempt \d+ failed \(.*could not write features: no answer within 1000 ms \(STRATA_REDIS_WRITE_TIMEOUT_MS\)\); retrying in \d+ ms/.test(
            host.output(),
          )
            ? true
            : undefined,
        WAIT_MS,
        'the ingest of the clicks to time out on Redis and retry',
      );
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    const u3 = await eventually(
      async () => {
        const r = await userClicks(host, 'u3');
        return r.body.features?.['user_clicks:clicks_1h'] === 3 ? r.body : undefined;
      },
      WAIT_MS,
      'the clicks sent while Redis was frozen to be served',
    );
    expect(u3.features).toMatchObject({ 'user_clicks:distinct_pages_24h': 3, 'user_clicks:last_page': '/b' });
    expect(u3.views.user_clicks.eventTime).toBe(at(3));
    // A write that timed out is applied once Redis thaws, so u3 can be served before the batch's
    // retry has finished: wait for the batch itself (the next test empties Redis).
    await eventually(
      () => (ingested(host, 'clicks') === CLICKS.length + 3 ? true : undefined),
      WAIT_MS,
      'the batch sent during the freeze to be ingested',
    );
    await u1Served(host, 'u1 to be served as before the freeze');
    const dead = await call(host, 'GET', '/api/dead-letter/clicks');
    expect(dead.body.deadLetters).toEqual([]);
  });
});

describe('materialize', () => {
  it('rebuilds an emptied Redis from the offline store; again it changes nothing', async () => {
    const client = new Redis(redis.url);
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
    await eventually(
      async () => ((await userClicks(host, 'u1')).body.features['user_clicks:clicks_1h'] === null ? true : undefined),
      WAIT_MS,
      'u1 to read as empty',
    );
    expect(
      (
        await eventually(
          async () => {
            const r = await predictU1(host);
            return r.status === 503 ? undefined : r; // a read that met the 1 s timeout on a busy machine: ask again
          },
          WAIT_MS,
          'predict to answer',
        )
      ).status,
    ).toBe(422);

    expect((await call(host, 'POST', '/api/materialize', {}, fkey)).status).toBe(401);
    const done = await call(host, 'POST', '/api/materialize', {}, admin);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const byView = Object.fromEntries(done.body.views.map((v: { view: string }) => [v.view, v]));
    // u1, u2, u3 clicked; only u1 ordered; the derived view has a row for each entity of either input.
    expect(byView.user_clicks).toMatchObject({ entities: 3, applied: 3, skipped: 0, expired: 0 });
    expect(byView.user_purchases).toMatchObject({ entities: 1, applied: 1, skipped: 0 });
    expect(byView.user_engagement).toMatchObject({ entities: 3, applied: 3, skipped: 0 });
    await u1Served(host, 'u1 to be served after materialize');
    await eventually(
      async () => ((await userClicks(host, 'u3')).body.features['user_clicks:clicks_1h'] === 3 ? true : undefined),
      WAIT_MS,
      'u3 to be served after materialize',
    );

    const again = await call(host, 'POST', '/api/materialize', { views: ['user_clicks'] }, admin);
    expect(again.body.views).toEqual([
      expect.objectContaining({ view: 'user_clicks', entities: 3, applied: 0, skipped: 3 }),
    ]);
    const later = await call(
      host,
      'POST',
      '/api/materialize',
      { since: new Date(Date.now() + 3_600_000).toISOString() },
      admin,
    );
    expect(later.body.rows).toEqual({ applied: 0, skipped: 0 });
  });

  it('refuses unknown views and bad times, naming them', async () => {
    const unknown = await call(host, 'POST', '/api/materialize', { views: ['user_clickz'] }, admin);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/user_clickz.*user_clicks/);
    const since = await call(host, 'POST', '/api/materialize', { since: 'yesterday' }, admin);
    expect(since.status).toBe(400);
    expect(since.body.details).toEqual([expect.objectContaining({ where: 'body.since' })]);
    const extra = await call(host, 'POST', '/api/materialize', { view: 'user_clicks' }, admin);
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body.details)).toMatch(/view/);
  });
});
