/**
 * `strata upload <source> <file>`: ingest a CSV, JSONL or Parquet file into a source
 * (POST /api/sources/{source}/files), streaming it with a progress bar. Prints what was
 * accepted and rejected; rejected records are in the dead-letter store with their reasons.
 */
import path from 'node:path';
import type { CommandSpec } from '../core/command';
import { UsageError } from '../core/errors';
import { fileBody, fileSize } from '../core/files';
import { formatBytes } from '../core/output';
import { startProgress } from '../core/progress';

interface IngestReport {
  source: string;
  file: string;
  format: string;
  status: string;
  received: number;
  accepted: number;
  rejected: number;
  late: number;
  problems: string[];
  views: Record<string, { rows?: number }>;
}

export const uploadCommand: CommandSpec = {
  name: 'upload',
  summary: 'ingest a CSV, JSONL or Parquet file into a source',
  description:
    'The file is validated record by record: valid records reach the online and offline stores, invalid ones go\n' +
    'to the dead-letter store with the reason (GET /api/dead-letter/<source>). The same file again ingests nothing twice.',
  positionals: [
    { name: 'source', required: true },
    { name: 'file', required: true },
  ],
  options: {
    format: { type: 'string', value: '<csv|jsonl|parquet>', description: "the file's format (default: from its name)" },
    name: {
      type: 'string',
      value: '<name>',
      description: "the file name recorded with its rows (default: the file's own name)",
    },
  },
  examples: [
    'npx strata upload clicks examples/clicks.csv',
    'npx strata upload purchases examples/purchases.parquet --json',
  ],
  async run(ctx) {
    const [source, file] = ctx.positionals as [string, string];
    const format = ctx.string('format');
    if (format !== undefined && !['csv', 'jsonl', 'parquet'].includes(format))
      throw new UsageError(`--format must be csv, jsonl or parquet, got "${format}"`);
    const size = fileSize(file);
    if (size === 0) throw new UsageError(`${file} is empty`);
    const progress = startProgress(ctx.out, { title: `upload ${path.basename(file)}`, total: size, unit: 'bytes' });
    let report: IngestReport;
    try {
      report = await ctx.api.json<IngestReport>('POST', `/api/sources/${encodeURIComponent(source)}/files`, {
        query: { name: ctx.string('name') ?? path.basename(file), format },
        body: fileBody(file, progress),
        headers: { 'content-type': 'application/octet-stream' },
        timeoutMs: 60 * 60_000,
      });
    } finally {
      progress.stop();
    }
    ctx.out.result(report, () => [
      `${report.file} -> ${report.source} (${report.format}, ${formatBytes(size)}): ${report.status === 'already-ingested' ? 'already ingested, nothing new' : 'ingested'}`,
      `  ${report.received} records: ${report.accepted} accepted, ${report.rejected} rejected${report.late ? `, ${report.late} too late for the stream (kept offline for a backfill)` : ''}`,
      ...(report.rejected ? [`  rejected records and their reasons: GET /api/dead-letter/${report.source}`] : []),
      ...report.problems.map((p) => `  ${p}`),
    ]);
  },
};
