/**
 * materialize: the online store rebuilt from the offline store on real Azurite and DuckDB, with
 * hand-picked rows: the newest row per entity by (event_ts, created_ts), nothing past the TTL,
 * only the app's current definition version, `since` on arrival time, and never over a newer
 * streamed value. Then the embedded store's restore-on-start: reads wait for it; a rebuild that
 * fails answers 503 and the next read tries again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOfflineEnv, hubBatch, row, type OfflineEnv } from './offline-fixtures';
import { churnRepo } from '../../shared/definitions/churn';
import { materialize } from '../../shared/features/online/materialize';
import { EmbeddedOnlineStore } from '../../shared/features/online';
import { RestoredOnlineStore } from '../../shared/features/online/restored';
import type { OfflineStore } from '../../shared/features/offline';
import type { FeatureValue } from '../../shared/features/definitions/values';

let env: OfflineEnv;
let offline: OfflineStore;
const view = churnRepo.view('user_clicks'); // ttl 2 days
const H = 3_600_000;
const NOW = Math.floor(Date.now() / 60_000) * 60_000;
const clicks = (n: number, page: string): Record<string, FeatureValue> => ({
  clicks_1h: n,
  clicks_24h: n,
  distinct_pages_24h: 1,
  last_page: page,
  clicks_per_day: n,
});

beforeAll(async () => {
  env = await startOfflineEnv();
  offline = await env.store();
  const write = (first: number, rows: ReturnType<typeof row>[], version = view.version) =>
    offline.writeRows({ view: view.name, version, columns: view.columns, lineage: hubBatch(first, first) }, rows);
  await write(1, [
    row('u1', NOW - 3 * H, NOW - 3 * H, clicks(1, '/a')),
    row('u1', NOW - H, NOW - H, clicks(2, '/b')),
    row('u2', NOW - 3 * 24 * H, NOW - 3 * 24 * H, clicks(9, '/old')), // past the 2-day TTL
  ]);
  await write(2, [
    row('u1', NOW - H, NOW - 30 * 60_000, clicks(5, '/c')), // a correction of u1's newest event: it wins
    row('u3', NOW - 2 * H, NOW - 10 * 60_000, clicks(7, '/late')), // arrived late
  ]);
  await write(3, [row('u4', NOW - H, NOW - H, clicks(4, '/v0'))], 'an-old-definition'); // not the version the app serves
});
afterAll(async () => {
  await env?.stop();
});

const read = async (store: EmbeddedOnlineStore | RestoredOnlineStore, ids: string[]) =>
  (await store.read(ids.map((entityId) => ({ view: view.name, entityId })))).map((r) =>
    r ? { n: r.values.clicks_1h, page: r.values.last_page, e: r.eventTs, c: r.createdTs } : null,
  );

describe('materialize', () => {
  it('writes the newest row per entity within the TTL, of the current version only', async () => {
    const online = new EmbeddedOnlineStore();
    const report = await materialize({ repo: churnRepo, offline, online, now: () => NOW }, { views: ['user_clicks'] });
    expect(report.views).toEqual([
      { view: 'user_clicks', version: view.version, entities: 2, applied: 2, skipped: 0, expired: 0 },
    ]);
    expect(report.rows).toEqual({ applied: 2, skipped: 0 });
    expect(await read(online, ['u1', 'u2', 'u3', 'u4'])).toEqual([
      { n: 5, page: '/c', e: NOW - H, c: NOW - 30 * 60_000 },
      null,
      { n: 7, page: '/late', e: NOW - 2 * H, c: NOW - 10 * 60_000 },
      null,
    ]);
  });

  it('never overwrites a newer streamed value; a second run applies nothing', async () => {
    const online = new EmbeddedOnlineStore();
    await online.write(view.name, [row('u1', NOW - 10 * 60_000, NOW - 10 * 60_000, clicks(6, '/stream'))], view.ttlMs);
    const first = await materialize({ repo: churnRepo, offline, online, now: () => NOW }, { views: ['user_clicks'] });
    expect(first.views[0]).toMatchObject({ entities: 2, applied: 1, skipped: 1 });
    expect((await read(online, ['u1']))[0]).toMatchObject({ n: 6, page: '/stream' });
    const again = await materialize({ repo: churnRepo, offline, online, now: () => NOW }, { views: ['user_clicks'] });
    expect(again.views[0]).toMatchObject({ entities: 2, applied: 0, skipped: 2 });
  });

  it('since: only rows that arrived from then on (catching up after an outage)', async () => {
    const online = new EmbeddedOnlineStore();
    const r = await materialize(
      { repo: churnRepo, offline, online, now: () => NOW },
      { views: ['user_clicks'], since: NOW - 20 * 60_000 },
    );
    expect(r.views[0]).toMatchObject({ entities: 1, applied: 1 });
    expect(await read(online, ['u1', 'u3'])).toEqual([null, expect.objectContaining({ n: 7 })]);
  });

  it('every view of the repo by default; a view with no rows is reported empty', async () => {
    const r = await materialize({ repo: churnRepo, offline, online: new EmbeddedOnlineStore(), now: () => NOW });
    expect(r.views.map((v) => v.view).sort()).toEqual([...churnRepo.views.keys()].sort());
    expect(r.views.find((v) => v.view === 'user_purchases')).toMatchObject({ entities: 0, applied: 0 });
  });

  it('names an unknown view with the closest one', async () => {
    await expect(
      materialize({ repo: churnRepo, offline, online: new EmbeddedOnlineStore() }, { views: ['user_clickz'] }),
    ).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/user_clickz.*user_clicks/),
    });
  });
});

describe('the embedded store restored on start', () => {
  it('answers its first read only once the rebuild is done', async () => {
    const store = new RestoredOnlineStore(new EmbeddedOnlineStore(), (into) =>
      materialize({ repo: churnRepo, offline, online: into }),
    );
    // No restore() call: the first read starts the rebuild and waits for it.
    expect((await read(store, ['u1']))[0]).toMatchObject({ n: 5 });
    expect(await store.restore()).toMatchObject({ rows: { applied: 2 } }); // the same rebuild, not a second one
  });

  it('a failed rebuild answers 503 with the cause; the next read tries again', async () => {
    let attempts = 0;
    const store = new RestoredOnlineStore(new EmbeddedOnlineStore(), async (into) => {
      if (++attempts === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:10000');
      return materialize({ repo: churnRepo, offline, online: into });
    });
    await expect(read(store, ['u1'])).rejects.toMatchObject({
      status: 503,
      message:
        'the embedded online store could not be rebuilt from the offline store: connect ECONNREFUSED 127.0.0.1:10000',
    });
    expect((await read(store, ['u1']))[0]).toMatchObject({ n: 5 });
    expect(attempts).toBe(2);
  });
});
