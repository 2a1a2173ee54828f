/**
 * Ingest on real Azurite, Redis and DuckDB: exactly-once effect under redelivery, a crash
 * between the view commits and the batch-done marker, warm-up after a cold start, and the
 * streaming and file paths giving the same features for the same events.
 */
import { describe, expect, it } from 'vitest';
import { freshPlatforms, clickEvents } from '../helpers/feature-platform';
import { IngestService, sourceSegmentView } from '../../shared/features/ingest/service';
import { ingestFile } from '../../shared/features/ingest/file-ingest';
import { maintainOfflineStore } from '../../shared/features/offline/maintenance';
import type { Platform } from '../../shared/platform';
import type { OfflineStore } from '../../shared/features/offline/store';
import { featureRepo } from '../../shared/definitions';
import { defineRepo, entity, featureView, source, tumbling } from '../../shared/features/definitions/language';
import type { FeatureRepo } from '../../shared/features/definitions/repo';
import { z } from 'zod';

const START = Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000;
/** A fresh platform: its own Azurite (storage account) and Redis database, as a separate deployment would have. */
const { platform } = freshPlatforms();

const batch = (partition: string, first: number, last: number) => ({
  kind: 'eventhub' as const,
  source: 'clicks',
  partition,
  firstSeq: first,
  lastSeq: last,
});
const records = (events: unknown[], first = 0) =>
  events.map((record, i) => ({ record, position: `partition 0, sequence ${first + i}` }));

async function viewRows(offline: OfflineStore, view: string) {
  const rows = await offline.readRows(view, {});
  return rows
    .map((r) => ({ e: r.entityId, t: r.eventTs, v: r.values }))
    .sort((a, b) => a.e.localeCompare(b.e) || a.t - b.t);
}

describe('exactly-once effect', () => {
  it('a redelivered batch commits nothing new and counts nothing twice', async () => {
    const p = await platform();
    const ingest = await p.ingest();
    const events = clickEvents(START, ['a1', 'a2'], 5);
    const first = await ingest.ingest({ source: 'clicks', records: records(events), batch: batch('0', 0, 9) });
    expect(first).toMatchObject({ status: 'ingested', accepted: 10, rejected: 0 });
    const offline = await p.offline();
    const before = await viewRows(offline, 'user_clicks');
    const segmentsBefore = (await offline.listSegments('user_clicks')).length;

    const again = await ingest.ingest({ source: 'clicks', records: records(events), batch: batch('0', 0, 9) });
    expect(again.status).toBe('already-ingested');
    expect(await viewRows(offline, 'user_clicks')).toEqual(before);
    expect((await offline.listSegments('user_clicks')).length).toBe(segmentsBefore);
    const [rec] = await p.online.read([{ view: 'user_clicks', entityId: 'a1' }]);
    expect(rec!.values.clicks_24h).toBe(5);
  });

  // The retry finds the segments its batch committed by a lookup per day over a few days, by one
  // listing over a longer range (a correction days old in the batch): both paths are exercised.
  it.each([
    { span: 'recent events, a lookup per day', earlierMs: 0 },
    { span: 'one event ten days older, one listing', earlierMs: 10 * 86_400_000 },
  ])(
    'a crash after the view commits but before the batch-done marker: the redelivery completes it, nothing doubles ($span)',
    async ({ earlierMs }) => {
      const p = await platform();
      const offline = await p.offline();
      // The real store, failing the one write that marks the batch done (the source segment).
      let failNext = true;
      const crashing = new Proxy(offline, {
        get(target, prop, recv) {
          if (prop === 'writeRows') {
            return async (
              spec: Parameters<OfflineStore['writeRows']>[0],
              rows: Parameters<OfflineStore['writeRows']>[1],
            ) => {
              if (failNext && spec.view === sourceSegmentView('clicks')) {
                failNext = false;
                throw new Error('simulated crash before the batch-done marker');
              }
              return target.writeRows(spec, rows);
            };
          }
          return Reflect.get(target, prop, recv);
        },
      });
      const deps = {
        repo: featureRepo,
        offline: crashing,
        online: p.online,
        deadLetters: p.deadLetters,
        ledger: await p.ledger(),
        onlineBacklog: await p.onlineBacklog(),
        leases: p.leases,
      };
      const recent = clickEvents(START, ['b1'], 4);
      const events = earlierMs ? [{ ...recent[0]!, ts: new Date(START - earlierMs).toISOString() }, ...recent] : recent;
      const last = events.length - 1;
      // The batch-done marker is the source's segment, one per day of the batch's events.
      const eventDays = new Set(events.map((e) => String(e.ts).slice(0, 10))).size;
      await expect(
        new IngestService(deps).ingest({ source: 'clicks', records: records(events), batch: batch('1', 0, last) }),
      ).rejects.toThrow(/simulated crash/);
      const afterCrash = await viewRows(offline, 'user_clicks');
      expect(afterCrash.length).toBeGreaterThan(0);
      expect(await offline.listSegments(sourceSegmentView('clicks'))).toHaveLength(0);
      // The derived value committed offline by the crashed attempt, gone from the online store: only the
      // retry's lookup of the segments its batch committed (nothing differs to recompute) can bring it back.
      const engagement = await viewRows(offline, 'user_engagement');
      expect(engagement.length).toBeGreaterThan(0);
      expect(await p.online.forgetAfter('user_engagement', ['b1'], 0)).toBe(1);

      // A new process gets the batch again.
      const redelivered = await new IngestService(deps).ingest({
        source: 'clicks',
        records: records(events),
        batch: batch('1', 0, last),
      });
      expect(redelivered.status).toBe('ingested');
      expect(await viewRows(offline, 'user_clicks')).toEqual(afterCrash);
      expect(await offline.listSegments(sourceSegmentView('clicks'))).toHaveLength(eventDays);
      expect(await viewRows(offline, 'user_engagement')).toEqual(engagement);
      const [online] = await p.online.read([{ view: 'user_engagement', entityId: 'b1' }]);
      expect(online?.values).toEqual(engagement.at(-1)!.v);
      expect(
        (
          await new IngestService(deps).ingest({
            source: 'clicks',
            records: records(events),
            batch: batch('1', 0, last),
          })
        ).status,
      ).toBe('already-ingested');
    },
  );

  it('a retry in the same process reuses the computed rows (windows never count a batch twice)', async () => {
    const p = await platform();
    const offline = await p.offline();
    let fail = true;
    const flaky = new Proxy(p.online, {
      get(target, prop, recv) {
        if (prop === 'write') {
          return async (...args: Parameters<typeof target.write>) => {
            if (fail) {
              fail = false;
              throw new Error('redis hiccup');
            }
            return target.write(...args);
          };
        }
        return Reflect.get(target, prop, recv);
      },
    });
    const ingest = new IngestService({
      repo: featureRepo,
      offline,
      online: flaky,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
      onlineBacklog: await p.onlineBacklog(),
      leases: p.leases,
    });
    const events = clickEvents(START, ['c1'], 3);
    await expect(
      ingest.ingest({ source: 'clicks', records: records(events), batch: batch('2', 0, 2) }),
    ).rejects.toThrow(/redis hiccup/);
    await ingest.ingest({ source: 'clicks', records: records(events), batch: batch('2', 0, 2) });
    const [rec] = await p.online.read([{ view: 'user_clicks', entityId: 'c1' }]);
    expect(rec!.values.clicks_24h).toBe(3);
  });
});

describe('dead letters', () => {
  it('every kind of bad record is kept with its reason and position; good ones go through', async () => {
    const p = await platform();
    const ingest = await p.ingest();
    const t = new Date(START).toISOString();
    const bad = [
      { user_id: 'd1', page: '/ok', ts: t },
      { user_id: 'd1', page: '/x', ts: 'not a time' },
      { user_id: '', page: '/x', ts: t },
      { user_id: 'd1', ts: t },
      { user_id: 'd1', page: 42, ts: t },
      'just a string',
      { user_id: 'd1', page: '/x', ts: t, session_ms: -5 },
    ];
    const r = await ingest.ingest({
      source: 'clicks',
      records: records(bad),
      batch: batch('3', 0, 6),
      unreadable: [{ raw: '{oops', reason: 'not valid JSON', position: 'line 9' }],
    });
    expect(r).toMatchObject({ accepted: 1, rejected: 7 });
    const letters = await p.deadLetters.list('clicks');
    expect(letters).toHaveLength(7);
    const byPos = Object.fromEntries(letters.map((l) => [l.position, l.reason]));
    expect(byPos['partition 0, sequence 1']).toMatch(/ts/);
    expect(byPos['partition 0, sequence 2']).toMatch(/user_id/);
    expect(byPos['partition 0, sequence 3']).toMatch(/page/);
    expect(byPos['partition 0, sequence 4']).toMatch(/page/);
    expect(byPos['partition 0, sequence 5']).toMatch(/not a JSON object/);
    expect(byPos['partition 0, sequence 6']).toMatch(/session_ms/);
    expect(byPos['line 9']).toBe('not valid JSON');
    // A redelivery rewrites the same dead-letter blob: no duplicates.
    await ingest.ingest({ source: 'clicks', records: records(bad), batch: batch('3', 0, 6) });
    expect(await p.deadLetters.list('clicks')).toHaveLength(6);
  });
});

describe('files: all or nothing', () => {
  // A lean repo (an hourly count), so 60,001 rows cost little beyond reading and committing them.
  const user = entity({ name: 'user', joinKey: 'user_id' });
  const taps = source({
    name: 'taps',
    schema: z.object({ user_id: z.string().min(1), page: z.string().min(1), ts: z.string() }),
    eventTime: 'ts',
    file: true,
  });
  const hourly = featureView({
    name: 'taps_hourly',
    entity: user,
    input: taps,
    ttl: '2d',
    features: (f) => ({ taps: f.count(tumbling('1h')) }),
  });
  const repo = defineRepo({ entities: [user], sources: [taps], views: [hourly] });

  it('a file that cannot be read to the end commits nothing; the fixed file then counts every row once', async () => {
    const p = await platform(repo);
    const ingest = await p.ingest();
    // 60,001 taps (two chunks of 50,000) of 100 users, one a second (36 per user and hour) from
    // a whole hour 20 h ago; one of them is invalid.
    const first = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 20 * 3_600_000;
    const lines = Array.from(
      { length: 60_001 },
      (_, i) => `f${i % 100},/p${i % 7},${new Date(first + i * 1000).toISOString()}`,
    );
    lines[1234] = `f34,,${new Date(first + 1234_000).toISOString()}`; // an empty page: this record alone is dead-lettered
    const fixed = ['user_id,page,ts', ...lines].join('\n');
    const broken = `${fixed.slice(0, fixed.lastIndexOf('\n'))}\nf0,"/unclosed,${new Date(first).toISOString()}`;
    const online = async () =>
      (await p.online.read(['f0', 'f34'].map((entityId) => ({ view: 'taps_hourly', entityId })))).map(
        (r) => r && [r.eventTs, r.values.taps],
      );

    await expect(
      ingestFile(ingest, repo, { source: 'taps', fileName: 'taps.csv', bytes: Buffer.from(broken) }),
    ).rejects.toThrow(
      /CSV file cannot be read: line 60002: a quoted field is not closed; nothing from taps\.csv was ingested/,
    );
    const offline = await p.offline();
    expect(await offline.readRows(sourceSegmentView('taps'), {})).toEqual([]);
    expect(await offline.readRows('taps_hourly', {})).toEqual([]);
    expect(await online()).toEqual([null, null]);
    expect(await p.deadLetters.list('taps')).toEqual([]);

    const r = await ingestFile(ingest, repo, { source: 'taps', fileName: 'taps.csv', bytes: Buffer.from(fixed) });
    expect(r).toMatchObject({ status: 'ingested', received: 60_001, accepted: 60_000, rejected: 1 });
    expect((await offline.readRows(sourceSegmentView('taps'), {})).length).toBe(60_000);
    // The clock (the last tap, 16h40m in) has passed 16 hour ends: one row each per user.
    const rows = await offline.readRows('taps_hourly', {});
    expect(rows).toHaveLength(100 * 16);
    expect(rows.filter((x) => x.entityId === 'f34').map((x) => x.values.taps)).toEqual([35, ...Array(15).fill(36)]);
    expect(await online()).toEqual([
      [first + 16 * 3_600_000, 36],
      [first + 16 * 3_600_000, 36],
    ]);
    expect((await p.deadLetters.list('taps')).map((l) => l.position)).toEqual(['taps.csv line 1236']);
  });
});

describe('warm-up and consistency', () => {
  it('a cold process warms its windows from the offline store: values continue as with full history', async () => {
    const p = await platform();
    const events = clickEvents(START, ['w1'], 6);
    await (
      await p.ingest()
    ).ingest({ source: 'clicks', records: records(events.slice(0, 4)), batch: batch('4', 0, 3) });
    // A new process: its pipeline knows nothing until it warms up.
    const cold = new IngestService({
      repo: featureRepo,
      offline: await p.offline(),
      online: p.online,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
      onlineBacklog: await p.onlineBacklog(),
      leases: p.leases,
    });
    await cold.ingest({ source: 'clicks', records: records(events.slice(4), 4), batch: batch('4', 4, 5) });
    const [rec] = await p.online.read([{ view: 'user_clicks', entityId: 'w1' }]);
    expect(rec!.values.clicks_24h).toBe(6);
    expect(rec!.values.clicks_1h).toBe(6);
  });

  it('the streaming path and the file path give the same feature rows for the same events', async () => {
    const events = [
      ...clickEvents(START, ['s1', 's2', 's3'], 8),
      { user_id: 's1', page: '/late', ts: new Date(START + 30 * 60_000).toISOString() },
    ];
    const streamed = await platform();
    const ing = await streamed.ingest();
    // Several Event Hubs batches, as partitions would deliver them.
    for (let i = 0; i < events.length; i += 7) {
      await ing.ingest({
        source: 'clicks',
        records: records(events.slice(i, i + 7), i),
        batch: batch('5', i, Math.min(i + 6, events.length - 1)),
      });
    }
    const filed = await platform();
    const receivedAt = Date.now();
    const csv = ['user_id,page,ts', ...events.map((e) => `${e.user_id},${e.page},${e.ts}`)].join('\n');
    await ingestFile(await filed.ingest(), featureRepo, {
      source: 'clicks',
      fileName: 'clicks.csv',
      bytes: Buffer.from(csv),
      receivedAt,
    });

    for (const view of ['user_clicks', 'user_engagement']) {
      const a = await viewRows(await streamed.offline(), view);
      const b = await viewRows(await filed.offline(), view);
      // Newest value per (entity, event time): corrections may add rows, the answer must agree.
      const newest = (rows: typeof a) => Object.fromEntries(rows.map((r) => [`${r.e}@${r.t}`, r.v]));
      expect(newest(a)).toEqual(newest(b));
    }
    const keys = ['s1', 's2', 's3'].map((entityId) => ({ view: 'user_clicks', entityId }));
    const online = async (p: Platform) => (await p.online.read(keys)).map((r) => r?.values);
    expect(await online(streamed)).toEqual(await online(filed));
  });

  it('a flush empties the windows of idle entities online and offline; a second flush with the same clock changes nothing', async () => {
    const p = await platform();
    const ingest = await p.ingest();
    await ingest.ingest({ source: 'clicks', records: records(clickEvents(START, ['f1'], 3)), batch: batch('6', 0, 2) });
    const read = async () => (await p.online.read([{ view: 'user_clicks', entityId: 'f1' }]))[0]!.values;
    expect(await read()).toMatchObject({ clicks_1h: 3, clicks_24h: 3 });
    const until = Date.now() - ingest.maxLatenessMs;
    const flushed = await ingest.flush(until);
    expect(flushed.user_clicks!.rows).toBeGreaterThan(0);
    // The events are three hours old: they have left the 1h window, not the 24h one.
    expect(await read()).toMatchObject({ clicks_1h: 0, clicks_24h: 3 });
    expect(await ingest.flush(until)).toEqual({});
  });
});

describe('offline maintenance', () => {
  it('compacts a finished day of many batch segments into one per view; reads are the same before and after', async () => {
    const p = await platform();
    const ingest = await p.ingest();
    const yesterday = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 12 * 3_600_000;
    const events = clickEvents(yesterday, ['m1', 'm2'], 6);
    for (let i = 0; i < events.length; i += 3)
      await ingest.ingest({
        source: 'clicks',
        records: records(events.slice(i, i + 3), i),
        batch: batch('7', i, i + 2),
      });
    const offline = await p.offline();
    const before = await viewRows(offline, 'user_clicks');
    expect((await offline.listSegments('user_clicks')).length).toBe(4);
    const report = await maintainOfflineStore(offline, featureRepo, { graceMs: 0 });
    expect(report.compacted.map((c) => c.view)).toEqual(
      expect.arrayContaining(['user_clicks', 'user_engagement', 'src.clicks']),
    );
    expect((await offline.listSegments('user_clicks')).length).toBe(1);
    expect((await offline.listSegments(sourceSegmentView('clicks'))).length).toBe(1);
    expect(await viewRows(offline, 'user_clicks')).toEqual(before);
    // The next run has nothing to compact, and deletes the replaced blobs once their grace has passed.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await maintainOfflineStore(offline, featureRepo, { graceMs: 0 });
    expect(second.compacted).toEqual([]);
    expect(report.gc.supersededDeleted.length + second.gc.supersededDeleted.length).toBe(
      report.compacted.reduce((n, c) => n + c.inputs.length, 0),
    );
    expect(await viewRows(offline, 'user_clicks')).toEqual(before);
  });
});
