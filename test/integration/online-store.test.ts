/**
 * The OnlineStore contract, run against a real redis-server, the embedded store and the embedded
 * store behind its restore-on-start wrapper alike; then what is specific to each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { EmbeddedOnlineStore, RedisOnlineStore, createOnlineStore } from '../../shared/features/online';
import { RestoredOnlineStore } from '../../shared/features/online/restored';
import type { OnlineStore } from '../../shared/features/online/types';
import type { FeatureRow, FeatureValue } from '../../shared/features/definitions/values';
import { BUSY_REDIS } from '../helpers/wait';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const row = (
  entityId: string,
  eventTs: number,
  createdTs: number,
  values: Record<string, FeatureValue>,
): FeatureRow => ({ entityId, eventTs, createdTs, values });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let viewSeq = 0;
/** A view name no other test uses, so tests share one server without seeing each other. */
const freshView = () => `view_${++viewSeq}`;

const stores: Array<[string, () => OnlineStore]> = [
  ['redis', () => new RedisOnlineStore(redis.url, BUSY_REDIS)],
  ['embedded', () => new EmbeddedOnlineStore()],
  ['restored embedded', () => new RestoredOnlineStore(new EmbeddedOnlineStore(), async () => undefined)],
];

describe.each(stores)('%s online store', (_kind, make) => {
  let store: OnlineStore;
  beforeAll(() => {
    store = make();
  });
  afterAll(async () => {
    await store.close();
  });

  it('serves the newest row of each entity', async () => {
    const v = freshView();
    expect(await store.write(v, [row('u1', 1000, 1000, { n: 1 }), row('u2', 1000, 1000, { n: 7 })])).toEqual({
      applied: 2,
      skipped: 0,
    });
    expect(await store.write(v, [row('u1', 2000, 2000, { n: 2 })])).toEqual({ applied: 1, skipped: 0 });
    expect(
      await store.read([
        { view: v, entityId: 'u1' },
        { view: v, entityId: 'u2' },
      ]),
    ).toEqual([
      { values: { n: 2 }, eventTs: 2000, createdTs: 2000 },
      { values: { n: 7 }, eventTs: 1000, createdTs: 1000 },
    ]);
  });

  it('never lets an out-of-order (older) event overwrite a newer value', async () => {
    const v = freshView();
    await store.write(v, [row('u1', 2000, 2000, { n: 2 })]);
    expect(await store.write(v, [row('u1', 1000, 3000, { n: 1 })])).toEqual({ applied: 0, skipped: 1 });
    expect((await store.read([{ view: v, entityId: 'u1' }]))[0]).toEqual({
      values: { n: 2 },
      eventTs: 2000,
      createdTs: 2000,
    });
  });

  it('takes a correction at the same event time with a newer createdTs, and only then', async () => {
    const v = freshView();
    await store.write(v, [row('u1', 2000, 2000, { n: 2 })]);
    expect(await store.write(v, [row('u1', 2000, 1999, { n: 99 })])).toEqual({ applied: 0, skipped: 1 });
    expect(await store.write(v, [row('u1', 2000, 2000, { n: 98 })])).toEqual({ applied: 0, skipped: 1 }); // equal: a replay
    expect(await store.write(v, [row('u1', 2000, 2500, { n: 3 })])).toEqual({ applied: 1, skipped: 0 });
    expect((await store.read([{ view: v, entityId: 'u1' }]))[0]).toEqual({
      values: { n: 3 },
      eventTs: 2000,
      createdTs: 2500,
    });
  });

  it('is idempotent: replaying a batch applies nothing and changes nothing', async () => {
    const v = freshView();
    const batch = Array.from({ length: 50 }, (_, i) => row(`u${i % 20}`, 1000 + i, 5000, { n: i }));
    const first = await store.write(v, batch);
    expect(first.applied + first.skipped).toBe(50);
    const before = await store.read(Array.from({ length: 20 }, (_, i) => ({ view: v, entityId: `u${i}` })));
    expect(await store.write(v, batch)).toEqual({ applied: 0, skipped: 50 });
    expect(await store.read(Array.from({ length: 20 }, (_, i) => ({ view: v, entityId: `u${i}` })))).toEqual(before);
  });

  it('resolves several rows of one entity in one batch to the newest, whatever their order', async () => {
    const v = freshView();
    const result = await store.write(v, [
      row('u1', 10, 10, { n: 10 }),
      row('u1', 30, 30, { n: 30 }),
      row('u1', 20, 20, { n: 20 }),
    ]);
    expect(result).toEqual({ applied: 1, skipped: 2 }); // only the newest is written: the others could not win
    expect((await store.read([{ view: v, entityId: 'u1' }]))[0]!.values).toEqual({ n: 30 });
  });

  it('writes batches larger than one pipeline', async () => {
    const v = freshView();
    const rows = Array.from({ length: 1234 }, (_, i) => row(`u${i}`, 1000, 1000, { i }));
    expect(await store.write(v, rows)).toEqual({ applied: 1234, skipped: 0 });
    const back = await store.read(rows.map((r) => ({ view: v, entityId: r.entityId })));
    expect(back.map((r) => r!.values.i)).toEqual(rows.map((r) => r.values.i));
  });

  it('expires a value its TTL after its event time, and does not write one already expired', async () => {
    const v = freshView();
    const now = Date.now();
    const ttl = 60_000;
    expect(await store.write(v, [row('old', now - ttl - 1, now, { n: 1 })], ttl)).toEqual({ applied: 0, skipped: 1 });
    expect(
      await store.write(v, [row('soon', now - ttl + 400, now, { n: 2 }), row('later', now, now, { n: 3 })], ttl),
    ).toEqual({ applied: 2, skipped: 0 });
    const keys = ['old', 'soon', 'later'].map((entityId) => ({ view: v, entityId }));
    expect((await store.read(keys)).map((r) => r?.values.n ?? null)).toEqual([null, 2, 3]);
    await sleep(600);
    expect((await store.read(keys)).map((r) => r?.values.n ?? null)).toEqual([null, null, 3]);
  });

  it('moves the expiry with each newer row', async () => {
    const v = freshView();
    const now = Date.now();
    await store.write(v, [row('u1', now - 59_700, now, { n: 1 })], 60_000); // would expire in 300 ms
    await store.write(v, [row('u1', now, now, { n: 2 })], 60_000); // expires in a minute
    await sleep(500);
    expect((await store.read([{ view: v, entityId: 'u1' }]))[0]?.values).toEqual({ n: 2 });
  });

  it('reads keys of several views in one call, in order, with null where nothing is stored', async () => {
    const a = freshView();
    const b = freshView();
    await store.write(a, [row('u1', 1, 1, { x: 1 })]);
    await store.write(b, [row('u1', 2, 2, { y: 'two' }), row('u2', 3, 3, { y: 'three' })]);
    expect(
      await store.read([
        { view: b, entityId: 'u2' },
        { view: a, entityId: 'u1' },
        { view: a, entityId: 'u2' },
        { view: b, entityId: 'u1' },
      ]),
    ).toEqual([
      { values: { y: 'three' }, eventTs: 3, createdTs: 3 },
      { values: { x: 1 }, eventTs: 1, createdTs: 1 },
      null,
      { values: { y: 'two' }, eventTs: 2, createdTs: 2 },
    ]);
    expect(await store.read([])).toEqual([]);
  });

  it('gives back every value with its type', async () => {
    const v = freshView();
    const values: Record<string, FeatureValue> = {
      float: 1.5,
      int: 42,
      negative_small: -0.000123,
      big: Number.MAX_SAFE_INTEGER,
      text: 'hello: world',
      digits_as_text: '42',
      empty: '',
      unicode: 'ünï € 🚀',
      yes: true,
      no: false,
      nothing: null,
    };
    await store.write(v, [row('user:with:colons', 1, 1, values)]);
    const [back] = await store.read([{ view: v, entityId: 'user:with:colons' }]);
    expect(back!.values).toStrictEqual(values);
  });

  it('replaces the whole set of values (a feature removed from a view does not linger)', async () => {
    const v = freshView();
    await store.write(v, [row('u1', 1, 1, { a: 1, b: 2 })]);
    await store.write(v, [row('u1', 2, 2, { a: 3 })]);
    expect((await store.read([{ view: v, entityId: 'u1' }]))[0]!.values).toEqual({ a: 3 });
  });

  it('forgets values dated after a time, and only those (a clock that ran ahead is repaired)', async () => {
    const v = freshView();
    await store.write(v, [row('u1', 5000, 10, { n: 1 }), row('u2', 3000, 10, { n: 2 }), row('u3', 4000, 10, { n: 3 })]);
    expect(await store.forgetAfter(v, ['u1', 'u2', 'u3', 'u4', 'u1'], 4000)).toBe(1);
    expect(await store.read(['u1', 'u2', 'u3'].map((entityId) => ({ view: v, entityId })))).toEqual([
      null,
      { values: { n: 2 }, eventTs: 3000, createdTs: 10 },
      { values: { n: 3 }, eventTs: 4000, createdTs: 10 },
    ]);
    // an older row can be written again once the future one is gone
    expect(await store.write(v, [row('u1', 2000, 20, { n: 9 })])).toEqual({ applied: 1, skipped: 0 });
  });

  it('reports reachability', async () => {
    const p = await store.ping();
    expect(p.ok).toBe(true);
    expect(p.version).toMatch(/^(embedded|\d+\.\d+)/);
  });
});

describe('embedded specifics', () => {
  it('serves a value while now < eventTs + ttl, exactly (injected clock)', async () => {
    let now = 10_000;
    const store = new EmbeddedOnlineStore({ now: () => now });
    await store.write('v', [row('u1', 5_000, 5_000, { n: 1 })], 1_000); // expires at 6 000: already past
    await store.write('v', [row('u2', 9_500, 9_500, { n: 2 })], 1_000); // expires at 10 500
    expect(
      (
        await store.read([
          { view: 'v', entityId: 'u1' },
          { view: 'v', entityId: 'u2' },
        ])
      ).map((r) => r?.values.n ?? null),
    ).toEqual([null, 2]);
    now = 10_499;
    expect((await store.read([{ view: 'v', entityId: 'u2' }]))[0]?.values.n).toBe(2);
    now = 10_500;
    expect(await store.read([{ view: 'v', entityId: 'u2' }])).toEqual([null]);
    expect(store.size).toBe(0);
  });
});

describe('redis specifics', () => {
  it('keeps one hash per (view, entity) under the strata:v1 prefix', async () => {
    const store = new RedisOnlineStore(redis.url, BUSY_REDIS);
    const raw = new Redis(redis.url);
    try {
      await store.write('layout_view', [row('u9', 1714557600000, 1714557600123, { n: 3, page: 'home' })]);
      expect(await raw.hgetall('strata:v1:layout_view:u9')).toEqual({
        '@e': '1714557600000',
        '@c': '1714557600123',
        n: 'n3',
        page: 'shome',
      });
      await store.write('layout_view', [row('u9', 1714557600000, 1714557600123, { n: 3 })], 10 * 365 * 86_400_000);
      expect(await raw.pexpiretime('strata:v1:layout_view:u9')).toBe(-1); // the replay was skipped, no expiry set
      await store.write('layout_view', [row('u9', 1714557600001, 1714557600124, { n: 4 })], 10 * 365 * 86_400_000);
      expect(await raw.pexpiretime('strata:v1:layout_view:u9')).toBe(1714557600001 + 10 * 365 * 86_400_000 - 1);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('loads the script again when Redis has forgotten it (NOSCRIPT)', async () => {
    const store = new RedisOnlineStore(redis.url, BUSY_REDIS);
    const raw = new Redis(redis.url);
    try {
      const v = freshView();
      await store.write(v, [row('u1', 1, 1, { n: 1 })]);
      await raw.script('FLUSH');
      expect(await store.write(v, [row('u1', 2, 2, { n: 2 }), row('u2', 2, 2, { n: 5 })])).toEqual({
        applied: 2,
        skipped: 0,
      });
      expect((await store.read([{ view: v, entityId: 'u1' }]))[0]!.values).toEqual({ n: 2 });
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('fails with a DependencyError naming Redis when it cannot be reached', async () => {
    const store = new RedisOnlineStore('redis://127.0.0.1:1');
    await expect(store.read([{ view: 'v', entityId: 'u' }])).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:1: could not read features/),
    });
    expect(await store.ping()).toEqual({ ok: false, version: '' });
    await store.close();
  });

  it('a frozen Redis (SIGSTOP) fails reads and writes within their timeouts, naming the setting; thawed, both work again', async () => {
    const frozen = await startRedis();
    const store = createOnlineStore({ redisUrl: frozen.url, redisReadTimeoutMs: 500, redisWriteTimeoutMs: 1000 });
    try {
      await store.write('v', [row('u1', 1, 1, { n: 1 })]);
      process.kill(frozen.pid, 'SIGSTOP');
      await expect(store.read([{ view: 'v', entityId: 'u1' }])).rejects.toMatchObject({
        status: 503,
        message: `Redis at ${frozen.url}: could not read features: no answer within 500 ms (STRATA_REDIS_READ_TIMEOUT_MS)`,
      });
      await expect(
        store.read([
          { view: 'v', entityId: 'u1' },
          { view: 'v', entityId: 'u2' },
        ]),
      ).rejects.toMatchObject({ status: 503 });
      await expect(store.write('v', [row('u1', 2, 2, { n: 2 })])).rejects.toMatchObject({
        status: 503,
        message: `Redis at ${frozen.url}: could not write features: no answer within 1000 ms (STRATA_REDIS_WRITE_TIMEOUT_MS)`,
      });
      expect(await store.ping()).toEqual({ ok: false, version: '' });
      // A store that first connects while Redis is frozen is bounded too.
      const fresh = createOnlineStore({ redisUrl: frozen.url, redisReadTimeoutMs: 500 });
      await expect(fresh.read([{ view: 'v', entityId: 'u1' }])).rejects.toMatchObject({ status: 503 });
      await fresh.close();
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
    // The write that timed out was sent; Redis applies it once thawed (newest wins, so a retry is harmless).
    expect(await store.write('v', [row('u1', 2, 2, { n: 2 })])).toEqual({ applied: 0, skipped: 1 });
    expect((await store.read([{ view: 'v', entityId: 'u1' }]))[0]).toEqual({
      values: { n: 2 },
      eventTs: 2,
      createdTs: 2,
    });
    await store.close();
    await frozen.stop();
  });

  it('createOnlineStore picks Redis when a URL is configured, else the embedded store', async () => {
    const a = createOnlineStore({ redisUrl: redis.url, redisReadTimeoutMs: BUSY_REDIS.readTimeoutMs });
    const b = createOnlineStore({ redisUrl: undefined });
    expect([a.kind, b.kind]).toEqual(['redis', 'embedded']);
    await Promise.all([a.close(), b.close()]);
  });
});
