import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CsvParser } from '../../shared/features/ingest/csv';
import { readRecords, formatFromName, RecordChunk } from '../../shared/features/ingest/files';
import { withConnection, literal } from '../../shared/features/offline/duckdb';
import { tempDir } from '../helpers/temp';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const schema = z.object({ user_id: z.string(), amount: z.number(), vip: z.boolean().optional(), ts: z.string() });

async function all(file: string, format: 'csv' | 'jsonl' | 'parquet', chunkSize = 10_000) {
  const chunks: RecordChunk[] = [];
  for await (const c of readRecords(file, format, schema, chunkSize)) chunks.push(c);
  return { chunks, records: chunks.flatMap((c) => c.records), unreadable: chunks.flatMap((c) => c.unreadable) };
}

function write(name: string, text: string): string {
  const p = path.join(tmp.dir, name);
  fs.writeFileSync(p, text);
  return p;
}

describe('CSV parsing', () => {
  it('handles quotes, doubled quotes, commas and newlines inside quotes, CRLF, across chunk boundaries', () => {
    const text = 'a,b\r\n"x, y","he said ""hi"""\r\n"multi\nline",2\n';
    const p = new CsvParser();
    const rows = [...text].flatMap((ch) => p.push(ch)).concat(p.end());
    expect(rows.map((r) => r.values)).toEqual([
      ['a', 'b'],
      ['x, y', 'he said "hi"'],
      ['multi\nline', '2'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3]);
  });

  it('reports an unclosed quote with its line', () => {
    const p = new CsvParser();
    p.push('a\n"oops\n');
    expect(() => p.end()).toThrow(/line 2: a quoted field is not closed/);
  });
});

describe('reading files into records', () => {
  it('CSV cells take the schema types; ragged rows are unreadable with their line', async () => {
    const f = write(
      'p.csv',
      'user_id,amount,vip,ts\nu1,12.5,true,2026-01-01T00:00:00Z\nu2,,false,2026-01-02T00:00:00Z\nu3,1\nu4,abc,yes,2026-01-03T00:00:00Z\n',
    );
    const { records, unreadable } = await all(f, 'csv');
    expect(records.map((r) => r.record)).toEqual([
      { user_id: 'u1', amount: 12.5, vip: true, ts: '2026-01-01T00:00:00Z' },
      { user_id: 'u2', vip: false, ts: '2026-01-02T00:00:00Z' }, // an empty cell is an absent field
      { user_id: 'u4', amount: 'abc', vip: true, ts: '2026-01-03T00:00:00Z' },
    ]);
    expect(records.map((r) => r.position)).toEqual(['line 2', 'line 3', 'line 5']);
    expect(unreadable).toEqual([{ raw: 'u3,1', reason: 'has 2 fields, the header has 4', position: 'line 4' }]);
  });

  it('JSONL: each line a record; a broken line is unreadable, the rest still read', async () => {
    const f = write('p.jsonl', '{"user_id":"u1","amount":1,"ts":"t"}\n{broken\n\n{"user_id":"u2","amount":2,"ts":"t"}');
    const { records, unreadable } = await all(f, 'jsonl');
    expect(records.map((r) => [r.position, (r.record as { user_id: string }).user_id])).toEqual([
      ['line 1', 'u1'],
      ['line 4', 'u2'],
    ]);
    expect(unreadable[0]).toMatchObject({ position: 'line 2', raw: '{broken' });
    expect(unreadable[0]!.reason).toMatch(/not valid JSON/);
  });

  it('Parquet: typed columns become plain values, times ISO-8601 UTC', async () => {
    const f = path.join(tmp.dir, 'p.parquet');
    await withConnection(async (c) => {
      await c.run(
        `COPY (SELECT 'u' || i AS user_id, i * 1.5 AS amount, i::BIGINT AS n, TIMESTAMP '2026-01-01 10:00:00' + INTERVAL (i) MINUTE AS ts FROM range(3) t(i)) TO ${literal(f)} (FORMAT parquet)`,
      );
    });
    const { records } = await all(f, 'parquet');
    expect(records.map((r) => r.record)).toEqual([
      { user_id: 'u0', amount: 0, n: 0, ts: '2026-01-01T10:00:00.000Z' },
      { user_id: 'u1', amount: 1.5, n: 1, ts: '2026-01-01T10:01:00.000Z' },
      { user_id: 'u2', amount: 3, n: 2, ts: '2026-01-01T10:02:00.000Z' },
    ]);
    expect(records[2]!.position).toBe('row 3');
  });

  it('yields chunks of bounded size', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ user_id: `u${i}`, amount: i, ts: 't' })).join(
      '\n',
    );
    const { chunks, records } = await all(write('big.jsonl', lines), 'jsonl', 10);
    expect(chunks.map((c) => c.records.length)).toEqual([10, 10, 5]);
    expect(records).toHaveLength(25);
  });

  it('knows formats by file name or content type', () => {
    expect(formatFromName('a.CSV')).toBe('csv');
    expect(formatFromName('x', 'application/x-ndjson')).toBe('jsonl');
    expect(formatFromName('x.parquet')).toBe('parquet');
    expect(formatFromName('x.xlsx')).toBeUndefined();
  });
});
