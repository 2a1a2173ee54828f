/**
 * POST /api/sources/{source}/files?name=clicks.csv[&format=csv]: ingest one file.
 * The body is the file's bytes; the host refuses bodies over STRATA_UPLOAD_MAX_BYTES with 413.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { ingestFile } from '../shared/features/ingest/file-ingest';
import { PayloadTooLargeError, ValidationError } from '../shared/errors';
import { handled, readQuery, routeName } from './http';

const Query = z.object({
  name: z
    .string()
    .min(1)
    .max(500)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f/\\]+$/, 'a file name without / \\ or control characters')
    .optional(),
  format: z.enum(['csv', 'jsonl', 'parquet']).optional(),
});

export const uploadFile = handled(async function uploadFile(req, ctx) {
  const p = platform();
  const q = readQuery(req, Query);
  const declared = Number(req.headers.get('content-length') ?? 0);
  if (declared > p.config.uploadMaxBytes)
    throw new PayloadTooLargeError(
      `file is ${declared} bytes; the limit is ${p.config.uploadMaxBytes} (STRATA_UPLOAD_MAX_BYTES)`,
    );
  const bytes = Buffer.from(await req.arrayBuffer());
  if (bytes.length > p.config.uploadMaxBytes)
    throw new PayloadTooLargeError(
      `file is ${bytes.length} bytes; the limit is ${p.config.uploadMaxBytes} (STRATA_UPLOAD_MAX_BYTES)`,
    );
  if (bytes.length === 0)
    throw new ValidationError('the request body is empty: send the file as the body', [
      { where: 'body', problem: 'empty' },
    ]);
  const report = await ingestFile(await p.ingest(), p.repo, {
    source: routeName(req, 'source', 'definition'),
    fileName: q.name ?? `upload.${q.format ?? 'csv'}`,
    contentType: req.headers.get('content-type') ?? undefined,
    ...(q.format ? { format: q.format } : {}),
    bytes,
    jobId: ctx.invocationId,
  });
  p.ingestMetrics.observe(report);
  return { status: report.status === 'already-ingested' ? 200 : 201, jsonBody: report };
});

app.http('upload-file', {
  methods: ['POST'],
  route: 'sources/{source}/files',
  authLevel: 'function',
  handler: uploadFile,
});
