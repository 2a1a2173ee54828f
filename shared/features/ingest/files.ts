/**
 * Reading uploaded files (CSV, JSONL, Parquet) into raw records with their positions, in
 * chunks, without holding the whole file in memory. Values are left as the file has them,
 * except CSV text, which is converted by the source schema's field types (CSV has no types):
 * an empty cell is an absent field (so an optional column may be left empty), except in a
 * required text column, where it is the empty string the schema then judges. A UTF-8
 * byte-order mark at the start of a CSV or JSONL file is not part of the data. Parquet
 * struct, list and map values stay objects and arrays, so a scalar field refuses them.
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { z } from 'zod';
import { CsvParser } from './csv';
import {
  DuckDBArrayValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBValue,
} from '@duckdb/node-api';
import { duckdb, literal } from '../offline/duckdb';
import { ValidationError } from '../../errors';
import type { FileFormat } from '../definitions/language';

export interface RawRecord {
  record: unknown;
  /** Where it came from, e.g. "line 17" or "row 17". */
  position: string;
}

/** A record that cannot even be read as a record (bad JSON line, ragged CSV row). */
export interface UnreadableRecord {
  raw: string;
  reason: string;
  position: string;
}

export interface RecordChunk {
  records: RawRecord[];
  unreadable: UnreadableRecord[];
}

export function formatFromName(name: string, contentType?: string): FileFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv') || contentType?.includes('text/csv')) return 'csv';
  if (
    lower.endsWith('.jsonl') ||
    lower.endsWith('.ndjson') ||
    contentType?.includes('ndjson') ||
    contentType?.includes('jsonl')
  )
    return 'jsonl';
  if (lower.endsWith('.parquet') || contentType?.includes('parquet')) return 'parquet';
  return undefined;
}

type FieldKind = 'number' | 'boolean' | 'other';
interface CsvField {
  kind: FieldKind;
  /** The schema accepts the field being absent (optional, or with a default). */
  optional: boolean;
}

/** What a CSV cell should become for each field of the schema (numbers and booleans are typed). */
export function csvFields(schema: z.ZodObject): Map<string, CsvField> {
  const out = new Map<string, CsvField>();
  for (const [name, field] of Object.entries(schema.shape)) {
    out.set(name, { kind: kindOf(field as z.ZodType), optional: (field as z.ZodType).safeParse(undefined).success });
  }
  return out;
}

function kindOf(t: z.ZodType): FieldKind {
  let def = (t as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
  // Unwrap optional / nullable / default / pipe wrappers to the base type.
  for (let i = 0; i < 8; i++) {
    const inner = def.innerType ?? def.in;
    if (!inner) break;
    def = (inner as unknown as { _zod: { def: typeof def } })._zod.def;
  }
  if (def.type === 'number' || def.type === 'int' || def.type === 'bigint') return 'number';
  if (def.type === 'boolean') return 'boolean';
  return 'other';
}

/** A cell that stands for "no value": the field is left out of the record. */
const ABSENT = Symbol('absent');

function csvCell(value: string, field: CsvField | undefined): unknown {
  const kind = field?.kind;
  if (value === '') return field === undefined || (kind === 'other' && !field.optional) ? '' : ABSENT;
  if (kind === 'number') {
    const n = Number(value);
    return Number.isNaN(n) ? value : n; // leave it as text: validation reports it with the field name
  }
  if (kind === 'boolean') {
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    return value;
  }
  return value;
}

/** Read a file in chunks of at most `chunkSize` records. */
export async function* readRecords(
  path: string,
  format: FileFormat,
  schema: z.ZodObject,
  chunkSize = 10_000,
): AsyncGenerator<RecordChunk> {
  if (format === 'parquet') {
    yield* readParquet(path, chunkSize);
    return;
  }
  const stream = fs.createReadStream(path);
  const decoder = new StringDecoder('utf8');
  // The first text decoded loses a leading byte-order mark (Excel and Notepad write one).
  let atStart = true;
  const text = (s: string): string => {
    if (!atStart || s === '') return s;
    atStart = false;
    return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
  };
  let chunk: RecordChunk = { records: [], unreadable: [] };
  const flushIfFull = function* (): Generator<RecordChunk> {
    if (chunk.records.length + chunk.unreadable.length >= chunkSize) {
      yield chunk;
      chunk = { records: [], unreadable: [] };
    }
  };
  if (format === 'jsonl') {
    let rest = '';
    let lineNo = 0;
    const handleLine = (line: string) => {
      lineNo++;
      if (line.trim() === '') return;
      try {
        chunk.records.push({ record: JSON.parse(line), position: `line ${lineNo}` });
      } catch (e) {
        chunk.unreadable.push({
          raw: line.slice(0, 2000),
          reason: `not valid JSON: ${(e as Error).message}`,
          position: `line ${lineNo}`,
        });
      }
    };
    for await (const buf of stream) {
      const lines = (rest + text(decoder.write(buf as Buffer))).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        handleLine(l.endsWith('\r') ? l.slice(0, -1) : l);
        yield* flushIfFull();
      }
    }
    rest += text(decoder.end());
    if (rest) handleLine(rest);
  } else {
    const parser = new CsvParser();
    const fields = csvFields(schema);
    let header: string[] | undefined;
    const handleRows = (rows: ReturnType<CsvParser['push']>) => {
      for (const row of rows) {
        if (!header) {
          header = row.values.map((h) => h.trim());
          continue;
        }
        if (row.values.length !== header.length) {
          chunk.unreadable.push({
            raw: row.values.join(',').slice(0, 2000),
            reason: `has ${row.values.length} fields, the header has ${header.length}`,
            position: `line ${row.line}`,
          });
          continue;
        }
        // fromEntries: every header is an own key, `__proto__` included.
        const cells = header
          .map((h, i) => [h, csvCell(row.values[i]!, fields.get(h))] as const)
          .filter(([, v]) => v !== ABSENT);
        chunk.records.push({ record: Object.fromEntries(cells), position: `line ${row.line}` });
      }
    };
    try {
      for await (const buf of stream) {
        handleRows(parser.push(text(decoder.write(buf as Buffer))));
        yield* flushIfFull();
      }
      handleRows(parser.push(text(decoder.end())));
      handleRows(parser.end());
    } catch (e) {
      throw new ValidationError(`CSV file cannot be read: ${(e as Error).message}`);
    }
    if (!header) throw new ValidationError('CSV file is empty: expected a header row naming the fields');
  }
  if (chunk.records.length || chunk.unreadable.length) yield chunk;
}

async function* readParquet(path: string, chunkSize: number): AsyncGenerator<RecordChunk> {
  // Stream DuckDB's result chunks so a large file never sits in memory whole.
  const conn = await (await duckdb()).connect();
  try {
    let result;
    try {
      result = await conn.stream(`SELECT * FROM read_parquet(${literal(path)})`);
    } catch (e) {
      throw new ValidationError(`Parquet file cannot be read: ${(e as Error).message}`);
    }
    const names = result.columnNames();
    let rowNo = 0;
    let out: RawRecord[] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const row of chunk.getRows()) {
        out.push({
          record: Object.fromEntries(names.map((n, i) => [n, plainValue(row[i])])),
          position: `row ${++rowNo}`,
        });
      }
      if (out.length >= chunkSize) {
        yield { records: out, unreadable: [] };
        out = [];
      }
    }
    if (out.length) yield { records: out, unreadable: [] };
  } finally {
    conn.closeSync();
  }
}

/** A DuckDB value as the JSON-ish value a record would carry (times as ISO-8601 UTC strings). */
function plainValue(v: DuckDBValue | undefined): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (v instanceof DuckDBTimestampTZValue || v instanceof DuckDBTimestampValue)
    return new Date(Number(v.micros / 1000n)).toISOString();
  if (v instanceof DuckDBTimestampMillisecondsValue) return new Date(Number(v.millis)).toISOString();
  if (v instanceof DuckDBTimestampSecondsValue) return new Date(Number(v.seconds) * 1000).toISOString();
  if (v instanceof DuckDBDateValue) return new Date(v.days * 86_400_000).toISOString().slice(0, 10);
  if (v instanceof DuckDBDecimalValue) return Number(v.toString());
  // Nested values stay nested: a scalar field refuses them with a reason, an untyped one keeps them (as JSON).
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(plainValue);
  if (v instanceof DuckDBStructValue)
    return Object.fromEntries(Object.entries(v.entries).map(([k, x]) => [k, plainValue(x)]));
  if (v instanceof DuckDBMapValue)
    return v.entries.map((e) => ({ key: plainValue(e.key), value: plainValue(e.value) }));
  return String(v);
}
