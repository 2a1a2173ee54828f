/**
 * The point-in-time join's semantics on hand-made segment files, with hand-computed
 * expectations. Real DuckDB, local files only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../shared/features/offline';
import { literal } from '../../shared/features/offline/duckdb';
import { asofKey, pointInTimeJoin, type KnownAt, type PitView } from '../../shared/features/pit/join';
import { loadSpine, type SpineRow } from '../../shared/features/pit/spine';

/** 2024-01-01 at hh:mm (UTC), epoch ms. */
const at = (h: number, m = 0, s = 0, ms = 0) => Date.UTC(2024, 0, 1, h, m, s, ms);
const HOUR = 3_600_000;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-pit-unit-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Feat = [entity: string, eventTs: number, createdTs: number, value: number | string | null];

/** A segment file with columns entity_id, event_ts, created_ts, <column>. */
async function segment(name: string, column: string, type: string, rows: Feat[]): Promise<string> {
  const file = path.join(dir, `${name}.parquet`);
  const values = rows.map(
    ([e, ev, cr, v]) =>
      `(${literal(e)}, ${ev}, ${cr}, ${v === null ? 'NULL' : typeof v === 'string' ? literal(v) : v})`,
  );
  await withConnection((c) =>
    c.run(
      `COPY (SELECT col0::VARCHAR AS entity_id, col1::BIGINT AS event_ts, col2::BIGINT AS created_ts, col3::${type} AS "${column}" FROM (VALUES ${values.join(', ')})) TO ${literal(file)} (FORMAT parquet)`,
    ),
  );
  return file;
}

/**
 * History of u1's `x`:
 *   r1 event 10:00 created 10:00  x=1
 *   r2 event 11:00 created 11:00  x=2
 *   r4 event 11:00 created 13:00  x=22  (a correction of r2: same event time, arrived later)
 *   r3 event 12:00 created 15:00  x=3   (late: happened at 12:00, arrived at 15:00)
 *   r5 event 14:00 created 14:00  x=5
 * u3 has only a row after every spine time; u2 has no history at all.
 */
let clicks: string[];
let profile: string[];
beforeAll(async () => {
  clicks = [
    await segment('x-a', 'x', 'BIGINT', [
      ['u1', at(10), at(10), 1],
      ['u1', at(12), at(15), 3],
      ['u3', at(23), at(23), 99],
    ]),
    await segment('x-b', 'x', 'BIGINT', [
      ['u1', at(11), at(11), 2],
      ['u1', at(14), at(14), 5],
      ['u1', at(11), at(13), 22],
    ]),
  ];
  profile = [
    await segment('y', 'tier', 'VARCHAR', [
      ['u1', at(9), at(9), 'gold'],
      ['u1', at(12), at(12), null], // the latest value can be null: it stays null, no fallback to 'gold'
      ['u2', at(9), at(9), 'silver'],
    ]),
  ];
});

async function join(spine: SpineRow[], views: PitView[], knownAt: KnownAt = 'row', asOf?: number) {
  return withConnection(async (c) => {
    const s = await loadSpine(c, 'spine', { rows: spine });
    const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}.parquet`);
    const meta = await pointInTimeJoin(
      c,
      { table: 'spine', hasLabel: s.labelType !== undefined, minTs: s.minTs, maxTs: s.maxTs },
      views,
      { knownAt, ...(asOf !== undefined ? { asOf } : {}) },
      out,
    );
    const r = await c.runAndReadAll(`SELECT * FROM read_parquet(${literal(out)})`);
    return {
      meta,
      rows: r
        .getRowObjectsJS()
        .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]))),
    };
  });
}

const xView = (ttlMs?: number): PitView => ({
  view: 'clicks',
  files: clicks,
  features: [{ name: 'x', type: 'BIGINT', as: 'x' }],
  ...(ttlMs !== undefined ? { ttlMs } : {}),
});
const u1 = (...ts: number[]): SpineRow[] => ts.map((t) => ({ entityId: 'u1', ts: t }));
const xs = async (spine: SpineRow[], view: PitView, knownAt: KnownAt = 'row', asOf?: number) =>
  (await join(spine, [view], knownAt, asOf)).rows.map((r) => r.x);

describe('point-in-time join: only what was known at each spine time', () => {
  it('takes the latest event at or before ts, counting only rows that had arrived by ts', async () => {
    expect(await xs(u1(at(9), at(10), at(10, 59), at(12, 30), at(13, 30), at(14, 30), at(15, 30)), xView())).toEqual([
      null, // nothing happened yet
      1, // event and arrival exactly at ts count
      1,
      2, // r3 (12:00) not arrived until 15:00, the correction r4 not until 13:00
      22, // the correction has arrived; r3 still has not
      5,
      5, // r3 arrived, but r5 is the later event
    ]);
  });

  it('a late row becomes visible exactly when it arrives, never before', async () => {
    const late = [{ ...xView(), files: clicks }];
    expect(await xs(u1(at(12), at(14, 59, 59, 999)), late[0]!)).toEqual([2, 5]);
    const onlyLate: PitView = {
      ...xView(),
      files: [await segment('late-only', 'x', 'BIGINT', [['u1', at(12), at(15), 3]])],
    };
    expect(await xs(u1(at(14, 59, 59, 999), at(15)), onlyLate)).toEqual([null, 3]);
  });

  it('seconds after an event: the row counts once it has arrived, not before, and a late arrival wins only when newer', async () => {
    // Arrivals seconds after their events, as on-time data has, and one row hours late.
    const view: PitView = {
      ...xView(),
      files: [
        await segment('seconds', 'x', 'BIGINT', [
          ['u1', at(10), at(10, 0, 30), 1],
          ['u1', at(10, 5), at(10, 5, 20), 2],
          ['u1', at(10, 30), at(13), 3], // late: newer than 2, arrived 2.5 h later
        ]),
      ],
    };
    expect(await xs(u1(at(10, 5, 10), at(10, 5, 20), at(12, 59, 59, 999), at(13)), view)).toEqual([
      1, // 2 happened 10 s before but arrives 10 s later
      2, // 2 happened 20 s before and has just arrived
      2, // 3 happened earlier but has not arrived
      3, // 3 arrived: the newer event wins
    ]);
  });

  it('breaks ties on event time by the later created time', async () => {
    expect(await xs(u1(at(13), at(13, 30)), xView())).toEqual([22, 22]);
    expect(await xs(u1(at(12, 59, 59, 999)), xView())).toEqual([2]);
  });

  it('where the newest event had not arrived, takes the newest row that had, ties included, with either ASOF key', async () => {
    // The join's step 1 finds the newest event (ties: the later arrival) among all rows; when
    // that row arrived after ts, step 2 must give the newest row that had arrived by the same
    // order, which can be its own tie partner (same event time, earlier arrival).
    const rows: Feat[] = [
      ['u1', at(10), at(10), 1],
      ['u1', at(10), at(10, 10), 2], // correction of 1, 10 min later
      ['u1', at(11), at(11), 3],
      ['u1', at(11), at(14), 4], // correction of 3, 3 h late
      ['u1', at(12), at(16), 5], // late
    ];
    const files = [await segment('late-ties', 'x', 'BIGINT', rows)];
    const keyBounds = {
      minEventTs: Math.min(...rows.map((r) => r[1])),
      maxEventTs: Math.max(...rows.map((r) => r[1])),
      minLagMs: Math.min(...rows.map((r) => r[2] - r[1])),
      maxLagMs: Math.max(...rows.map((r) => r[2] - r[1])),
    };
    const spine = u1(at(10, 5), at(10, 10), at(11, 30), at(12, 30), at(14), at(16));
    const expected = [
      1, // step 1 finds 2 (same event, later arrival), in flight: its tie partner 1 had arrived
      2,
      3, // step 1 finds 4, late: 3 (same event time), not the older 2
      3, // step 1 finds 5, late; 4 late too: 3
      4, // 4 has just arrived; 5 still late
      5,
    ];
    for (const view of [
      { ...xView(), files },
      { ...xView(), files, keyBounds },
    ])
      expect({ packed: asofKey(view).packed, x: await xs(spine, view) }).toEqual({
        packed: view.keyBounds !== undefined,
        x: expected,
      });
  });

  it('treats the TTL boundary as expired: event_ts must be greater than ts - ttl', async () => {
    // At 13:00 the newest known rows happened at 11:00, exactly 2 h before.
    expect(await xs(u1(at(13)), xView(2 * HOUR))).toEqual([null]);
    expect(await xs(u1(at(13)), xView(2 * HOUR + 1))).toEqual([22]);
    expect(await xs(u1(at(12, 59, 59, 999)), xView(2 * HOUR))).toEqual([2]);
    // At 13:30 the late r3 (12:00) is found first and set aside; the answer, r4 (11:00), must itself be within the TTL.
    expect(await xs(u1(at(13, 30)), xView(2.5 * HOUR))).toEqual([null]);
    expect(await xs(u1(at(13, 30)), xView(2.5 * HOUR + 1))).toEqual([22]);
  });

  it('gives nulls to entities with no history and to times before their first event', async () => {
    const r = await join(
      [
        { entityId: 'u2', ts: at(12) },
        { entityId: 'u3', ts: at(12) },
        { entityId: 'nobody', ts: at(12) },
      ],
      [xView()],
    );
    expect(r.rows.map((x) => x.x)).toEqual([null, null, null]);
  });

  it('keeps spine order, duplicates and labels, one output row per spine row', async () => {
    const spine: SpineRow[] = [
      { entityId: 'u1', ts: at(15, 30), label: 1 },
      { entityId: 'u2', ts: at(9), label: 0 },
      { entityId: 'u1', ts: at(10), label: 0 },
      { entityId: 'u1', ts: at(15, 30), label: 1 },
    ];
    const { rows, meta } = await join(spine, [xView()]);
    expect(rows).toEqual([
      { row_id: 0, entity_id: 'u1', ts: at(15, 30), label: 1, x: 5 },
      { row_id: 1, entity_id: 'u2', ts: at(9), label: 0, x: null },
      { row_id: 2, entity_id: 'u1', ts: at(10), label: 0, x: 1 },
      { row_id: 3, entity_id: 'u1', ts: at(15, 30), label: 1, x: 5 },
    ]);
    expect(meta).toEqual({
      rowCount: 4,
      columns: [
        { name: 'row_id', type: 'BIGINT' },
        { name: 'entity_id', type: 'VARCHAR' },
        { name: 'ts', type: 'BIGINT' },
        { name: 'label', type: 'DOUBLE' },
        { name: 'x', type: 'BIGINT' },
      ],
    });
  });

  it('joins several views, each with its own TTL, and keeps a latest null as null', async () => {
    const tier: PitView = {
      view: 'profile',
      files: profile,
      features: [{ name: 'tier', type: 'VARCHAR', as: 'tier' }],
      ttlMs: 24 * HOUR,
    };
    const { rows } = await join([...u1(at(11), at(13)), { entityId: 'u2', ts: at(12) }], [xView(HOUR), tier]);
    expect(rows.map((r) => [r.x, r.tier])).toEqual([
      [2, 'gold'],
      [null, null], // x: newest known at 13:00 happened 11:00, older than 1 h; tier: set to null at 12:00
      [null, 'silver'],
    ]);
  });

  it('a view with no segments gives typed null columns', async () => {
    const { rows, meta } = await join(u1(at(12)), [
      { view: 'empty', files: [], features: [{ name: 'z', type: 'DOUBLE', as: 'z' }] },
    ]);
    expect(rows.map((r) => r.z)).toEqual([null]);
    expect(meta.columns.at(-1)).toEqual({ name: 'z', type: 'DOUBLE' });
  });
});

describe('point-in-time join: as of a past moment', () => {
  it("knownAt 'asOf' uses everything that had arrived by asOf, whatever the spine time", async () => {
    // At 13:30 the store held r1, r2, r4; r3 (arrived 15:00) and r5 (14:00) were unknown.
    expect(await xs(u1(at(10), at(12, 30), at(15, 30)), xView(), 'asOf', at(13, 30))).toEqual([1, 22, 22]);
  });

  it("knownAt 'both' rebuilds a default training set exactly as it was built at asOf", async () => {
    const spine = u1(at(10), at(12, 30), at(13, 30), at(15, 30));
    // Built at 13:30 with the default semantics, only rows stored by then existed:
    const storedBy1330: PitView = {
      ...xView(),
      files: [
        await segment('stored-by-1330', 'x', 'BIGINT', [
          ['u1', at(10), at(10), 1],
          ['u1', at(11), at(11), 2],
          ['u1', at(11), at(13), 22],
        ]),
      ],
    };
    const thenBuilt = await xs(spine, storedBy1330, 'row');
    expect(thenBuilt).toEqual([1, 2, 22, 22]);
    expect(await xs(spine, xView(), 'both', at(13, 30))).toEqual(thenBuilt);
    // The default today differs: r5 has arrived since.
    expect(await xs(spine, xView(), 'row')).toEqual([1, 2, 22, 5]);
  });

  it('a fixed asOf before any arrival gives nulls', async () => {
    expect(await xs(u1(at(12)), xView(), 'asOf', at(9))).toEqual([null]);
  });
});
