/**
 * GET /api/training-sets/{id}: a training set's record (what POST /api/training-sets answered).
 * GET /api/training-sets/{id}/data?format=parquet|csv: its data, whole or in byte ranges
 * (Range: bytes=a-b; 206 with Content-Range, at most 32 MiB per answer; Accept-Ranges, ETag
 * and If-Match so a client can fetch a large set in pieces and know they belong together).
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { RangeNotSatisfiableError, readTrainingSetData, readTrainingSetRecord } from '../shared/features/pit/download';
import { errorResponse, handled, readQuery } from './http';

export const trainingSetsGet = handled(async function trainingSetsGet(req) {
  return { jsonBody: await readTrainingSetRecord(platform().trainingSets, req.params.id!) };
});

app.http('training-sets-get', {
  methods: ['GET'],
  route: 'training-sets/{id}',
  authLevel: 'function',
  handler: trainingSetsGet,
});

const DataQuery = z.object({
  format: z.enum(['parquet', 'csv'], { message: 'must be parquet or csv' }).default('parquet'),
});

export async function trainingSetsData(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { format } = readQuery(req, DataQuery);
    const d = await readTrainingSetData(platform().trainingSets, {
      id: req.params.id!,
      format,
      range: req.headers.get('range'),
      ifMatch: req.headers.get('if-match'),
    });
    return {
      status: d.status,
      body: d.body,
      headers: {
        'content-type': d.contentType,
        'content-disposition': `attachment; filename="${d.fileName}"`,
        'accept-ranges': 'bytes',
        etag: d.etag,
        ...(d.status === 206 ? { 'content-range': `bytes ${d.start}-${d.end}/${d.size}` } : {}),
      },
    };
  } catch (e) {
    const res = errorResponse(e, ctx);
    if (e instanceof RangeNotSatisfiableError) res.headers = { 'content-range': `bytes */${e.size}` };
    return res;
  }
}

app.http('training-sets-data', {
  methods: ['GET'],
  route: 'training-sets/{id}/data',
  authLevel: 'function',
  handler: trainingSetsData,
});
