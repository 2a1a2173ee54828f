/**
 * Ingest of one uploaded file (HTTP upload or a blob dropped in `uploads/<source>/`):
 * read it in chunks, ingest each chunk as a batch named by (file content hash, chunk), and
 * sum up the reports. The same bytes uploaded again commit nothing new.
 *
 * All or nothing per file: the whole file is read once before the first chunk is ingested, so
 * a file that cannot be read to the end (an unclosed quote on its last line, a truncated
 * Parquet file) is refused with 400 and commits nothing; its fixed version then counts every
 * row once. Records that can be read but are invalid still go to the dead letters one by one.
 * A failure while committing (storage down, a crash) leaves the chunks committed so far, named
 * by the file's hash: the same file sent again commits the rest and nothing twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../../canonical-json';
import { formatFromName, readRecords } from './files';
import type { IngestReport, IngestService, ViewIngest } from './service';
import type { FeatureRepo } from '../definitions/repo';
import type { FileFormat } from '../definitions/language';
import { NotFoundError, ValidationError } from '../../errors';

/** Records per batch; part of each batch's identity, so never change it for stored data. */
export const FILE_CHUNK_RECORDS = 50_000;

export interface FileIngestRequest {
  source: string;
  fileName: string;
  contentType?: string;
  /** Explicit format; else from the file name or content type. */
  format?: FileFormat;
  bytes: Buffer;
  receivedAt?: number;
  jobId?: string;
}

export interface FileIngestReport {
  source: string;
  file: string;
  format: FileFormat;
  sha256: string;
  bytes: number;
  /** `already-ingested` when every chunk had been committed before (the same file again). */
  status: 'ingested' | 'already-ingested';
  received: number;
  accepted: number;
  rejected: number;
  deadLetters: string[];
  views: Record<string, ViewIngest>;
  late: number;
  problems: string[];
}

export function resolveFileFormat(
  repo: FeatureRepo,
  req: Pick<FileIngestRequest, 'source' | 'fileName' | 'contentType' | 'format'>,
): FileFormat {
  const source = repo.sources.get(req.source);
  if (!source)
    throw new NotFoundError(`unknown source "${req.source}"; known sources: ${[...repo.sources.keys()].join(', ')}`);
  if (!source.file)
    throw new ValidationError(
      `source "${source.name}" does not take files (it has no \`file\` option in its definition)`,
    );
  const format = req.format ?? formatFromName(req.fileName, req.contentType);
  if (!format) {
    throw new ValidationError(
      `cannot tell the format of "${req.fileName}": name it .csv, .jsonl or .parquet, or pass ?format=csv|jsonl|parquet`,
      [{ where: 'format', problem: 'unknown' }],
    );
  }
  if (!source.file.formats.includes(format)) {
    throw new ValidationError(`source "${source.name}" takes ${source.file.formats.join(', ')} files, not ${format}`, [
      { where: 'format', problem: `not accepted: ${format}` },
    ]);
  }
  return format;
}

export async function ingestFile(
  ingest: IngestService,
  repo: FeatureRepo,
  req: FileIngestRequest,
): Promise<FileIngestReport> {
  const format = resolveFileFormat(repo, req);
  const source = repo.source(req.source);
  const sha256 = sha256Hex(req.bytes);
  const receivedAt = req.receivedAt ?? Date.now();
  const tmp = path.join(os.tmpdir(), `strata-upload-${randomUUID()}.${format}`);
  await fs.promises.writeFile(tmp, req.bytes);
  const total: FileIngestReport = {
    source: source.name,
    file: req.fileName,
    format,
    sha256,
    bytes: req.bytes.length,
    status: 'already-ingested',
    received: 0,
    accepted: 0,
    rejected: 0,
    deadLetters: [],
    views: {},
    late: 0,
    problems: [],
  };
  try {
    // Pass 1: read to the end, keeping nothing (memory stays bounded by one chunk).
    try {
      for await (const c of readRecords(tmp, format, source.schema, FILE_CHUNK_RECORDS)) void c;
    } catch (e) {
      if (e instanceof ValidationError)
        throw new ValidationError(`${e.message}; nothing from ${req.fileName} was ingested`, e.details);
      throw e;
    }
    // Pass 2: ingest chunk by chunk.
    let chunk = 0;
    for await (const c of readRecords(tmp, format, source.schema, FILE_CHUNK_RECORDS)) {
      const r: IngestReport = await ingest.ingest({
        source: source.name,
        records: c.records.map((x) => ({ record: x.record, position: `${req.fileName} ${x.position}` })),
        unreadable: c.unreadable.map((u) => ({ ...u, position: `${req.fileName} ${u.position}` })),
        batch: { kind: 'job', key: `file:${source.name}:${sha256}:chunk${chunk}:of${FILE_CHUNK_RECORDS}` },
        receivedAt,
        ...(req.jobId ? { jobId: req.jobId } : {}),
      });
      chunk++;
      total.received += r.received;
      total.accepted += r.accepted;
      total.rejected += r.rejected;
      total.late += r.late;
      total.problems.push(...r.problems);
      if (r.deadLetter) total.deadLetters.push(r.deadLetter.blobPath);
      if (r.status === 'ingested' && r.accepted > 0) total.status = 'ingested';
      for (const [v, s] of Object.entries(r.views)) {
        const t = (total.views[v] ??= { rows: 0, segments: 0, online: { applied: 0, skipped: 0 } });
        t.rows += s.rows;
        t.segments += s.segments;
        t.online.applied += s.online.applied;
        t.online.skipped += s.online.skipped;
      }
    }
    if (total.accepted === 0) total.status = 'ingested';
    return total;
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}
