/**
 * The data edge cases of uploaded files: empty CSV cells, byte-order marks, nested Parquet
 * values and header names that are Object.prototype's, read into records and validated against
 * a source the way ingest does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readRecords } from '../../shared/features/ingest/files';
import { withConnection, literal } from '../../shared/features/offline/duckdb';
import { validateRecords } from '../../shared/features/ingest/validate';
import { defineRepo, entity, featureView, source, sliding } from '../../shared/features/definitions/language';
import { tempDir } from '../helpers/temp';

const tmp = tempDir('files-edge-');
afterAll(() => tmp.cleanup());

const clicks = source({
  name: 'clicks',
  schema: z.object({
    user_id: z.string().min(1),
    page: z.string().min(1),
    ts: z.union([z.string(), z.number()]),
    session_ms: z.number().nonnegative().optional(),
    note: z.string().optional(),
  }),
  eventTime: 'ts',
  file: true,
});
const user = entity({ name: 'user', joinKey: 'user_id' });
const repo = defineRepo({
  entities: [user],
  sources: [clicks],
  views: [featureView({ name: 'v', entity: user, input: clicks, features: (f) => ({ n: f.count(sliding('1h')) }) })],
  services: [],
});

async function read(name: string, body: string | Buffer, format: 'csv' | 'jsonl' | 'parquet') {
  const file = path.join(tmp.dir, name);
  if (typeof body === 'string' || Buffer.isBuffer(body)) fs.writeFileSync(file, body);
  const records = [];
  for await (const c of readRecords(file, format, clicks.schema as z.ZodObject)) records.push(...c.records);
  return {
    records: records.map((r) => r.record),
    validated: validateRecords(repo, 'clicks', records, { receivedAt: Date.UTC(2026, 0, 2) }),
  };
}

describe('CSV cells', () => {
  it('an empty cell in an optional column is absent, so the row is accepted', async () => {
    const { records, validated } = await read(
      'opt.csv',
      'user_id,page,ts,session_ms,note\nu1,/a,2026-01-01T00:00:00Z,,\nu2,/b,2026-01-01T00:00:01Z,120,hi\n',
      'csv',
    );
    expect(records).toEqual([
      { user_id: 'u1', page: '/a', ts: '2026-01-01T00:00:00Z' },
      { user_id: 'u2', page: '/b', ts: '2026-01-01T00:00:01Z', session_ms: 120, note: 'hi' },
    ]);
    expect(validated.rejected).toEqual([]);
  });

  it('an empty cell in a required column is reported: missing for numbers, the rule for text', async () => {
    const { validated } = await read('req.csv', 'user_id,page,ts\nu1,,2026-01-01T00:00:00Z\n', 'csv');
    expect(validated.rejected.map((r) => r.reason)).toEqual([expect.stringContaining('field "page"')]);
  });

  it('a header named __proto__ or constructor is an ordinary (unknown, dropped) column', async () => {
    const { records, validated } = await read(
      'proto.csv',
      'user_id,__proto__,constructor,page,ts\nu1,x,y,/a,2026-01-01T00:00:00Z\n',
      'csv',
    );
    expect(Object.keys(records[0] as object)).toEqual(['user_id', '__proto__', 'constructor', 'page', 'ts']);
    expect(Object.getPrototypeOf(records[0])).toBe(Object.prototype);
    expect(validated.accepted).toHaveLength(1);
  });
});

describe('byte-order marks', () => {
  it('a UTF-8 BOM at the start of a CSV or JSONL file is not part of the first header or line', async () => {
    const csv = await read('bom.csv', '\uFEFFuser_id,page,ts\nu1,/a,2026-01-01T00:00:00Z\n', 'csv');
    expect(csv.records).toEqual([{ user_id: 'u1', page: '/a', ts: '2026-01-01T00:00:00Z' }]);
    const jsonl = await read('bom.jsonl', `\uFEFF${JSON.stringify({ user_id: 'u1', page: '/a', ts: 1 })}\n`, 'jsonl');
    expect(jsonl.records).toEqual([{ user_id: 'u1', page: '/a', ts: 1 }]);
    // Only at the start: one inside a value stays.
    const inside = await read(
      'inside.jsonl',
      `${JSON.stringify({ user_id: 'u\uFEFF1', page: '/a', ts: 1 })}\n`,
      'jsonl',
    );
    expect(inside.records).toEqual([{ user_id: 'u\uFEFF1', page: '/a', ts: 1 }]);
  });
});

describe('nested Parquet values', () => {
  it('a struct, list or map in a scalar field is refused with a reason, not stringified', async () => {
    const file = path.join(tmp.dir, 'nested.parquet');
    await withConnection((c) =>
      c.run(`COPY (SELECT * FROM (VALUES
      ('u1', {'path': '/a'}, 'n', 1),
      ('u2', NULL, 'n', 2)) v(user_id, page, note, ts)) TO ${literal(file)} (FORMAT parquet)`),
    );
    const list = path.join(tmp.dir, 'list.parquet');
    await withConnection((c) =>
      c.run(
        `COPY (SELECT 'u3' AS user_id, '/a' AS page, ['x', 'y'] AS note, MAP {'k': 1} AS session_ms, 3 AS ts) TO ${literal(list)} (FORMAT parquet)`,
      ),
    );
    const nested = await read('nested.parquet', fs.readFileSync(file), 'parquet');
    expect(nested.records[0]).toEqual({ user_id: 'u1', page: { path: '/a' }, note: 'n', ts: 1 });
    expect(nested.validated.rejected.map((r) => r.reason)).toEqual([
      'field "page": expected string, got an object',
      'field "page": expected string, got null',
    ]);
    const l = await read('list.parquet', fs.readFileSync(list), 'parquet');
    expect(l.records[0]).toEqual({
      user_id: 'u3',
      page: '/a',
      note: ['x', 'y'],
      session_ms: [{ key: 'k', value: 1 }],
      ts: 3,
    });
    expect(l.validated.rejected[0]!.reason).toBe(
      'field "session_ms": expected number, got an array; field "note": expected string, got an array',
    );
  });
});
