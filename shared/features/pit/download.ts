/**
 * Fetching a training set after it was built: its record (`<id>.json`, the result of the
 * build) and its data, as the Parquet file it was built as or as CSV. CSV is converted once
 * with DuckDB and kept beside the set as `<id>.csv`: a set never changes, so neither does its
 * CSV, and every instance serves the same bytes under one ETag.
 *
 * Data is served in byte ranges of its file (TrainingSetStore: a blob on Azure), at most `maxBytes` per answer. Memory stays
 * bounded however large the set: the Functions Node worker turns a response body into one
 * buffer before the host sends it (unless the whole app runs in HTTP-stream mode), so an
 * answer is one bounded read. A request without a Range gets the whole file when it
 * fits, else 422 saying to ask in ranges (which `strata training-set get` does).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NotFoundError, StrataError, UnprocessableError, ValidationError } from '../../errors';
import { literal, withConnection } from '../offline/duckdb';
import type { TrainingSetResult } from './training-set';
import { DATA_CONTENT_TYPES, type TrainingSetStore } from './training-set-store';
import { checkName } from '../../names';

export type TrainingSetFormat = 'parquet' | 'csv';

/** The most one answer carries: 32 MiB. */
export const MAX_RANGE_BYTES = 32 * 1024 * 1024;

const CONTENT_TYPES = DATA_CONTENT_TYPES as Record<TrainingSetFormat, string>;

/** The asked range starts past the end of the file (HTTP 416, with the file's size). */
export class RangeNotSatisfiableError extends StrataError {
  constructor(
    message: string,
    readonly size: number,
  ) {
    super(message, 416);
  }
}

/** The file changed from the ETag the client holds (If-Match): HTTP 412. */
export class PreconditionFailedError extends StrataError {
  constructor(message: string) {
    super(message, 412);
  }
}

export interface DataRequest {
  id: string;
  format: TrainingSetFormat;
  /** The Range header, if any (`bytes=0-1023`, `bytes=1024-`, `bytes=-500`). */
  range?: string | null;
  /** The If-Match header, if any: answer only while the file has this ETag. */
  ifMatch?: string | null;
}

export interface DataAnswer {
  /** 200 (the whole file) or 206 (a range of it). */
  status: 200 | 206;
  body: Buffer;
  /** First and last byte of the body in the file (inclusive). */
  start: number;
  end: number;
  size: number;
  etag: string;
  contentType: string;
  fileName: string;
}

function checkId(id: string): void {
  checkName('trainingSet', id, 'id');
}

/** The stored record of a training set. */
export async function readTrainingSetRecord(sets: TrainingSetStore, id: string): Promise<TrainingSetResult> {
  checkId(id);
  const found = await sets.readRecord(id);
  if (!found)
    throw new NotFoundError(`no training set with id "${id}"; POST /api/training-sets builds one and answers its id`);
  return found;
}

/** Bytes [start, end] (inclusive) of a file of `size` bytes for a Range header, capped at maxBytes; undefined without one. */
export function parseRange(
  header: string | null | undefined,
  size: number,
  maxBytes: number,
): { start: number; end: number } | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  const problem = (p: string) =>
    new ValidationError(`Range "${header}" cannot be served: ${p}`, [{ where: 'Range', problem: p }]);
  if (!m)
    throw problem(
      header.includes(',')
        ? 'ask for one range per request'
        : 'use bytes=<first>-<last>, bytes=<first>- or bytes=-<suffix length>',
    );
  const [, a, b] = m as unknown as [string, string, string];
  let start: number;
  let end: number;
  if (a === '') {
    if (b === '' || Number(b) === 0) throw problem('a suffix range needs a length above 0');
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) throw problem('the last byte comes before the first');
  }
  if (start >= size)
    throw new RangeNotSatisfiableError(`Range "${header}" starts at or past the end of the file (${size} bytes)`, size);
  return { start, end: Math.min(end, start + maxBytes - 1) };
}

interface DataFile {
  name: string;
  size: number;
  etag: string;
}

/** A training set's data file in `format` (the CSV made on first request), or 404. */
async function dataFile(sets: TrainingSetStore, id: string, format: TrainingSetFormat): Promise<DataFile> {
  const record = await readTrainingSetRecord(sets, id);
  const file = async (name: string) => {
    const info = await sets.fileInfo(name);
    return info && { name, ...info };
  };
  const source = await file(record.blobPath);
  if (!source)
    throw new NotFoundError(
      `training set "${id}" has no data file yet: it is still being written, or its build failed before; build it again with the same request`,
    );
  if (format === 'parquet') return source;
  const csv = `${id}.csv`;
  const made = await file(csv);
  if (made) return made;
  await convertToCsv(sets, source, csv);
  return (await file(csv))!;
}

const conversions = new Map<string, Promise<void>>();

/** Write `<id>.csv` from the Parquet file (once per process at a time; the first writer wins across instances). */
function convertToCsv(sets: TrainingSetStore, parquet: DataFile, csv: string): Promise<void> {
  let p = conversions.get(csv);
  if (!p) {
    p = (async () => {
      const work = path.join(os.tmpdir(), `strata-training-csv-${process.pid}-${randomBytes(6).toString('hex')}`);
      fs.mkdirSync(work, { recursive: true });
      try {
        const src = path.join(work, 'set.parquet');
        const dst = path.join(work, 'set.csv');
        await sets.downloadFile(parquet.name, src, parquet.etag);
        await withConnection((c) =>
          c.run(`COPY (SELECT * FROM read_parquet(${literal(src)})) TO ${literal(dst)} (FORMAT csv, HEADER true)`),
        );
        await sets.putFileOnce(csv, dst);
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    })();
    conversions.set(csv, p);
    p.finally(() => conversions.delete(csv)).catch(() => undefined);
  }
  return p;
}

/** The whole data file, or the asked range of it (at most maxBytes). */
export async function readTrainingSetData(
  sets: TrainingSetStore,
  req: DataRequest,
  maxBytes = MAX_RANGE_BYTES,
): Promise<DataAnswer> {
  checkId(req.id);
  const { name, size, etag } = await dataFile(sets, req.id, req.format);
  if (
    req.ifMatch &&
    req.ifMatch !== '*' &&
    !req.ifMatch
      .split(',')
      .map((s) => s.trim())
      .includes(etag)
  ) {
    throw new PreconditionFailedError(
      `the ${req.format} file of training set "${req.id}" is no longer ${req.ifMatch} (it is ${etag}); download it again from the start`,
    );
  }
  const range = parseRange(req.range, size, maxBytes);
  if (!range && size > maxBytes) {
    throw new UnprocessableError(
      `the ${req.format} file of training set "${req.id}" is ${size} bytes, more than one answer carries (${maxBytes})`,
      [
        {
          where: 'Range',
          problem: `ask for it in ranges (Range: bytes=0-${maxBytes - 1}, then the next), as \`strata training-set get ${req.id} --out <file>\` does`,
        },
      ],
    );
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const body = size === 0 ? Buffer.alloc(0) : await sets.readRange(name, start, end - start + 1, etag);
  if (body === 'changed')
    throw new PreconditionFailedError(
      `the ${req.format} file of training set "${req.id}" changed while it was read; download it again`,
    );
  return {
    status: range ? 206 : 200,
    body,
    start,
    end,
    size,
    etag,
    contentType: CONTENT_TYPES[req.format],
    fileName: `${req.id}.${req.format}`,
  };
}
