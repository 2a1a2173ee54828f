/**
 * The point-in-time join against a brute-force reference written straight from the
 * definition, on seeded random histories full of late rows, corrections, ties and TTL edges.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../shared/features/offline';
import { literal } from '../../shared/features/offline/duckdb';
import { asofKey, pointInTimeJoin, type KnownAt } from '../../shared/features/pit/join';
import { loadSpine, type SpineRow } from '../../shared/features/pit/spine';

interface Feat {
  entity: string;
  e: number;
  c: number;
  v: number;
}

/** mulberry32: a small seeded generator, so a failure is reproducible. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The definition, literally: the greatest (e, c) with e <= ts, e > ts - ttl, c <= cutoff. */
function reference(
  spine: SpineRow[],
  feats: Feat[],
  ttl: number | undefined,
  knownAt: KnownAt,
  asOf?: number,
): Array<number | null> {
  return spine.map((s) => {
    const cutoff = knownAt === 'row' ? s.ts : knownAt === 'asOf' ? asOf! : Math.min(s.ts, asOf!);
    let best: Feat | undefined;
    for (const f of feats) {
      if (f.entity !== s.entityId || f.e > s.ts || f.c > cutoff || (ttl !== undefined && f.e <= s.ts - ttl)) continue;
      if (!best || f.e > best.e || (f.e === best.e && f.c > best.c)) best = f;
    }
    return best ? best.v : null;
  });
}

let dir: string;
let file: string;
let feats: Feat[];
let spine: SpineRow[];
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-pit-ref-'));
  const r = rng(42);
  const int = (n: number) => Math.floor(r() * n);
  // Times on a coarse grid (minutes 0..600) so ties and exact TTL edges happen often.
  feats = [];
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const entity = `e${int(40)}`;
    const e = int(600);
    // Mostly on time or a little late, 30% up to 2 h late, a few created before their event time.
    const late = r() < 0.05 ? -int(30) : r() < 0.3 ? int(120) : r() < 0.5 ? 0 : int(5);
    const c = e + late;
    const key = `${entity}|${e}|${c}`;
    if (seen.has(key)) continue; // (e, c) identical for one entity would be an unordered tie
    seen.add(key);
    feats.push({ entity, e, c, v: i });
  }
  spine = Array.from({ length: 1500 }, () => ({ entityId: `e${int(45)}`, ts: int(700) }));
  file = path.join(dir, 'feats.parquet');
  const values = feats.map((f) => `(${literal(f.entity)}, ${f.e}, ${f.c}, ${f.v})`).join(', ');
  await withConnection((c) =>
    c.run(
      `COPY (SELECT col0 AS entity_id, col1::BIGINT AS event_ts, col2::BIGINT AS created_ts, col3::BIGINT AS v FROM (VALUES ${values})) TO ${literal(file)} (FORMAT parquet)`,
    ),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Exact bounds of the generated rows, as the manifest would give them: selects the packed ASOF key. */
const bounds = () => ({
  minEventTs: Math.min(...feats.map((f) => f.e)),
  maxEventTs: Math.max(...feats.map((f) => f.e)),
  minLagMs: Math.min(...feats.map((f) => f.c - f.e)),
  maxLagMs: Math.max(...feats.map((f) => f.c - f.e)),
});

async function joined(
  ttl: number | undefined,
  knownAt: KnownAt,
  asOf?: number,
  packed = false,
): Promise<Array<number | null>> {
  return withConnection(async (c) => {
    const s = await loadSpine(c, 'spine', { rows: spine });
    const out = path.join(dir, `out-${knownAt}-${ttl}-${asOf}-${packed}.parquet`);
    await pointInTimeJoin(
      c,
      { table: 'spine', hasLabel: false, minTs: s.minTs, maxTs: s.maxTs },
      [
        {
          view: 'v',
          files: [file],
          features: [{ name: 'v', type: 'BIGINT', as: 'v' }],
          ...(ttl !== undefined ? { ttlMs: ttl } : {}),
          ...(packed ? { keyBounds: bounds() } : {}),
        },
      ],
      { knownAt, ...(asOf !== undefined ? { asOf } : {}) },
      out,
    );
    const r = await c.runAndReadAll(`SELECT v FROM read_parquet(${literal(out)}) ORDER BY row_id`);
    return r.getRows().map(([v]) => (v === null ? null : Number(v)));
  });
}

describe('point-in-time join matches the definition on random histories', () => {
  for (const packed of [false, true]) {
    const key = packed ? 'packed key' : 'struct key';
    for (const ttl of [undefined, 30, 1]) {
      it(`knownAt 'row', ttl ${ttl ?? 'none'}, ${key}`, async () => {
        const got = await joined(ttl, 'row', undefined, packed);
        expect(got).toEqual(reference(spine, feats, ttl, 'row'));
        expect(got.filter((v) => v !== null).length).toBeGreaterThan(ttl === 1 ? 10 : 500);
      });
    }
    for (const asOf of [200, 450]) {
      it(`knownAt 'asOf' and 'both' at ${asOf}, ttl 60, ${key}`, async () => {
        expect(await joined(60, 'asOf', asOf, packed)).toEqual(reference(spine, feats, 60, 'asOf', asOf));
        expect(await joined(60, 'both', asOf, packed)).toEqual(reference(spine, feats, 60, 'both', asOf));
      });
    }
  }

  it('reads event and arrival time back from the key it carries, at the edges of the bounds', async () => {
    const t0 = Date.UTC(2024, 0, 1);
    const day = 86_400_000;
    const b = { minEventTs: t0, maxEventTs: t0 + 30 * day, minLagMs: -3_600_000, maxLagMs: 3 * day };
    const rows = [
      [b.minEventTs, b.minEventTs + b.minLagMs],
      [b.minEventTs, b.minEventTs + b.maxLagMs],
      [b.maxEventTs, b.maxEventTs + b.minLagMs],
      [b.maxEventTs, b.maxEventTs + b.maxLagMs],
      [t0 + 12_345_678, t0 + 12_345_678],
    ];
    for (const keyBounds of [b, undefined]) {
      const key = asofKey(keyBounds ? { keyBounds } : {});
      expect(key.packed).toBe(keyBounds !== undefined);
      const back = await withConnection(async (c) => {
        const r = await c.runAndReadAll(
          `SELECT ${key.eventOf('k')}, ${key.createdOf('k')} FROM (SELECT ${key.feature} AS k FROM (VALUES ${rows.map(([e, c]) => `(${e}::BIGINT, ${c}::BIGINT)`).join(', ')}) t(event_ts, created_ts))`,
        );
        return r.getRows().map((x) => x.map(Number));
      });
      expect(back).toEqual(rows);
    }
  });

  it('packs the key only when the spans fit in a BIGINT', () => {
    expect(asofKey({ keyBounds: bounds() }).packed).toBe(true);
    const year = 365 * 86_400_000;
    expect(
      asofKey({ keyBounds: { minEventTs: 0, maxEventTs: year, minLagMs: 0, maxLagMs: 30 * 86_400_000 } }).packed,
    ).toBe(false);
    expect(asofKey({}).packed).toBe(false);
  });
});
