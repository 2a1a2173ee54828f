/**
 * Ingest on several host processes, as Azure runs the app on several instances: three hosts on
 * one Azurite and one Redis share 8 partitions of each of two hubs (clicks, purchases) feeding
 * the derived view user_engagement; 100,000 events are published through all of them; one host
 * is killed with SIGKILL mid-run (its partitions are taken over from their last checkpoints
 * after the ownership expiry, the events it committed past them skipped) and another one
 * started mid-stream (it takes its share from live owners while their batches are in flight). A single host on
 * storage of its own ingests the same events first. Then, for every view (the derived one
 * included), the offline rows (the newest per entity and event time) and the online values
 * equal the single host's, and the offline store holds every event exactly once (its source
 * records: none lost, none doubled).
 *
 * The events are dated in the 50 minutes before the file starts: within every view's lateness
 * of the clock the window-flush timer sets (now - 1 h), so the timer, which runs whenever its
 * schedule says, emits no row in either run.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleValue, startCluster, type Cluster, type HostClient } from '../helpers/host-cluster';
import { testPlatform } from '../helpers/feature-platform';
import { eventually, until, WAIT_MS } from '../helpers/wait';
import { sourceSegmentView } from '../../shared/features/ingest/service';
import type { Platform } from '../../shared/platform';
import type { FeatureValue } from '../../shared/features/definitions/values';

const PARTITIONS = 8;
const USERS = Array.from({ length: 200 }, (_, i) => `u${String(i + 1).padStart(3, '0')}`);
const CLICKS_PER_USER = 400;
const PURCHASES_PER_USER = 100;
const VIEWS = ['user_clicks', 'user_purchases', 'user_engagement'];
/** Events per publish request: a quarter of the run, so the kill lands mid-stream, in batches large enough that the derived view's refreshes (one at a time per view across hosts) stay few. */
const CHUNK = 25_000;
/** Bound on ingesting the whole run: one host took over 4 min for 100k events at load 15; only a failing run waits it out. */
const INGEST_WAIT_MS = 7 * 60_000;

const T0 = Date.now() - 50 * 60_000;
type Event = { hub: 'clicks' | 'purchases'; body: Record<string, unknown>; at: number };
const events: Event[] = [];
USERS.forEach((u, i) => {
  for (let k = 0; k < CLICKS_PER_USER; k++) {
    const at = T0 + k * 7_000 + i * 10;
    events.push({
      hub: 'clicks',
      at,
      body: { user_id: u, page: `/p${(k * 7 + i) % 11}`, ts: new Date(at).toISOString() },
    });
  }
  for (let k = 0; k < PURCHASES_PER_USER; k++) {
    const at = T0 + k * 28_000 + i * 10 + 5;
    events.push({
      hub: 'purchases',
      at,
      body: {
        user_id: u,
        order_id: `${u}-${k}`,
        amount: 5 + ((k * 13 + i) % 120),
        currency: 'EUR',
        ts: new Date(at).toISOString(),
      },
    });
  }
});
events.sort((x, y) => x.at - y.at);
const SENT = { clicks: USERS.length * CLICKS_PER_USER, purchases: USERS.length * PURCHASES_PER_USER };

/** The run in publish requests: event-time order, each chunk split by hub. */
const chunks: Array<Array<{ hub: Event['hub']; bodies: unknown[] }>> = [];
for (let i = 0; i < events.length; i += CHUNK) {
  const slice = events.slice(i, i + CHUNK);
  chunks.push(
    (['clicks', 'purchases'] as const).map((hub) => ({
      hub,
      bodies: slice.filter((e) => e.hub === hub).map((e) => e.body),
    })),
  );
}

async function publishChunk(via: HostClient, chunk: (typeof chunks)[number]): Promise<void> {
  for (const { hub, bodies } of chunk) await via.publish(hub, bodies);
}

interface Run {
  cluster: Cluster;
  reader: Platform;
}
const runs: Run[] = [];

async function startRun(prefix: string): Promise<Run> {
  const cluster = await startCluster({ partitions: PARTITIONS, prefix });
  const reader = testPlatform({
    storageConnection: cluster.azurite.connectionString,
    redisUrl: cluster.redis.url,
    dataDir: path.join(cluster.dir, 'reader'),
  });
  const run = { cluster, reader };
  runs.push(run);
  return run;
}

/** Per source, how many times each event (entity @ event time) is stored offline. */
async function storedEvents(p: Platform): Promise<Record<string, { events: number; doubled: string[] }>> {
  const out: Record<string, { events: number; doubled: string[] }> = {};
  for (const source of ['clicks', 'purchases']) {
    const seen = new Map<string, number>();
    for (const r of await (await p.offline()).readRows(sourceSegmentView(source))) {
      const key = `${r.entityId}@${r.eventTs}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    out[source] = {
      events: seen.size,
      doubled: [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`),
    };
  }
  return out;
}

/** Wait until every sent event is stored offline (failing at once on a doubled one); a timeout shows the counts and the hosts' last output. */
async function allStored(run: Run, what: string): Promise<void> {
  const p = run.reader;
  await until(
    `${what}: all ${SENT.clicks} clicks and ${SENT.purchases} purchases stored offline`,
    async () => {
      const s = await storedEvents(p);
      for (const [source, { doubled }] of Object.entries(s))
        if (doubled.length) throw new Error(`${source} events stored twice: ${doubled.slice(0, 5).join(', ')}`);
      return s.clicks!.events === SENT.clicks && s.purchases!.events === SENT.purchases ? true : undefined;
    },
    INGEST_WAIT_MS,
  ).catch(async (e: Error) => {
    const counts = JSON.stringify(await storedEvents(p).catch(() => 'unreadable'));
    const outputs = run.cluster.hosts.map((h) => `--- host ${h.name} ---\n${h.host.output().slice(-3000)}`).join('\n');
    throw new Error(`${e.message}; stored: ${counts}\n${outputs}`);
  });
  const s = await storedEvents(p);
  expect(s.clicks!.doubled).toEqual([]);
  expect(s.purchases!.doubled).toEqual([]);
}

/** A view as stored offline: the newest values per (entity, event time). */
async function offlineView(p: Platform, view: string): Promise<Map<string, Record<string, FeatureValue>>> {
  const newest = new Map<string, { createdTs: number; values: Record<string, FeatureValue> }>();
  for (const r of await (await p.offline()).readRows(view)) {
    const key = `${r.entityId}@${r.eventTs}`;
    const was = newest.get(key);
    if (!was || r.createdTs >= was.createdTs) newest.set(key, { createdTs: r.createdTs, values: r.values });
  }
  return new Map([...newest].map(([k, v]) => [k, v.values]));
}

async function onlineView(p: Platform, view: string): Promise<Array<unknown>> {
  const rows = await p.online.read(USERS.map((entityId) => ({ view, entityId })));
  return rows.map((r) => (r ? { eventTs: r.eventTs, ...r.values } : null));
}

/** The keys whose values differ between two offline views (for a readable failure). */
function differences(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()]))
    if (JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)))
      out.push(`${k}: ${JSON.stringify(a.get(k))} vs ${JSON.stringify(b.get(k))}`);
  return out;
}

/** The views of a run once they have settled: the derived view is recomputed after its inputs commit. */
async function settledViews(p: Platform, expected: Record<string, Map<string, unknown>> | undefined, what: string) {
  const read = async () =>
    Object.fromEntries(await Promise.all(VIEWS.map(async (v) => [v, await offlineView(p, v)] as const)));
  if (!expected) {
    // The single host: settled when two reads a few seconds apart agree.
    let last = await read();
    return eventually(
      async () => {
        await new Promise((r) => setTimeout(r, 3000));
        const now = await read();
        const same = VIEWS.every((v) => differences(now[v]!, last[v]!).length === 0);
        last = now;
        return same ? now : undefined;
      },
      WAIT_MS,
      `${what}: the views to settle`,
    );
  }
  let diff: string[] = [];
  try {
    return await eventually(
      async () => {
        const now = await read();
        diff = VIEWS.flatMap((v) => differences(now[v]!, expected[v]!).map((d) => `${v} ${d}`));
        return diff.length === 0 ? now : undefined;
      },
      WAIT_MS,
      `${what}: every view equal to the single host's`,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; ${diff.length} rows differ, e.g.\n${diff.slice(0, 10).join('\n')}`);
  }
}

let single: { offline: Record<string, Map<string, unknown>>; online: Record<string, unknown[]> };

beforeAll(async () => {
  const run = await startRun('strata-ingest-single-');
  const host = await run.cluster.add('single');
  for (const chunk of chunks) await publishChunk(host, chunk);
  await allStored(run, 'one host');
  const offline = await settledViews(run.reader, undefined, 'one host');
  const online = Object.fromEntries(await Promise.all(VIEWS.map(async (v) => [v, await onlineView(run.reader, v)])));
  single = { offline, online };
  await run.cluster.stop();
}, 900_000);

afterAll(async () => {
  for (const r of runs) {
    await r.reader.online.close();
    await r.cluster.stop().catch(() => undefined);
  }
});

describe('ingest on three host processes with one killed mid-run', () => {
  it('stores every event once and every view as one host does', async () => {
    const run = await startRun('strata-ingest-three-');
    const { cluster, reader } = run;
    const [a, b, c] = [await cluster.add('a'), await cluster.add('b'), await cluster.add('c')];
    for (const hub of ['clicks', 'purchases'])
      await eventually(
        async () => {
          const shares = [...(await cluster.owners(hub, `ingest-${hub}`)).values()].map((p) => p.length).sort();
          return JSON.stringify(shares) === '[2,3,3]' ? true : undefined;
        },
        WAIT_MS,
        `the ${hub} hub's 8 partitions balanced 3/3/2 over the three hosts`,
      );

    const via = [a, b, c];
    const half = Math.floor(chunks.length / 2);
    for (let i = 0; i < half; i++) await publishChunk(via[i % 3]!, chunks[i]!);
    // Kill c once it has ingested part of its share (its counters die with it: read them first).
    await eventually(
      async () => {
        const r = await c.get('/api/metrics');
        return sampleValue(r.text, 'strata_ingest_records_total', { outcome: 'accepted' }) > 0 ? true : undefined;
      },
      WAIT_MS,
      'host c ingesting',
    );
    await c.host.kill();
    // Another host joins mid-stream, with batches in flight: it takes partitions from live owners
    // while they finish a batch, reading them from their last checkpoints (the partition's lease
    // makes the two owners take turns, and the later one skips what the first committed).
    await publishChunk(a, chunks[half]!);
    const d = await cluster.add('d');
    for (let i = half + 1; i < chunks.length; i++) await publishChunk([a, b, d][i % 3]!, chunks[i]!);
    await allStored(run, 'three hosts');
    await eventually(
      async () => ((await cluster.owners('clicks', 'ingest-clicks')).size === 3 ? true : undefined),
      WAIT_MS,
      'the host started after the kill owning clicks partitions',
    );
    const offline = await settledViews(reader, single.offline, 'three hosts');
    for (const v of VIEWS) expect(offline[v]!.size, v).toBe(single.offline[v]!.size);
    for (const v of VIEWS) expect(await onlineView(reader, v), v).toEqual(single.online[v]);
    // Every partition owned, by the two survivors and the host started after the kill.
    for (const hub of ['clicks', 'purchases']) {
      const owners = await cluster.owners(hub, `ingest-${hub}`);
      expect([...owners.values()].flat().sort(), hub).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    }
    expect([...(await cluster.owners('clicks', 'ingest-clicks')).keys()]).toHaveLength(3);
    expect(d.host.child.exitCode).toBeNull();
  }, 900_000);
});
