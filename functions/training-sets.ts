/**
 * POST /api/training-sets: a point-in-time-correct training set (Parquet in Blob) from a spine
 * and a feature service or feature list. The same request builds the same set (same id).
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { buildTrainingSet } from '../shared/features/pit';
import { trainingSetRequestFromApi } from '../shared/features/training-api';
import { handled, readJson } from './http';
import { z } from 'zod';

app.http('training-sets', {
  methods: ['POST'],
  route: 'training-sets',
  authLevel: 'function',
  handler: handled(async (req, ctx) => {
    const p = platform();
    const request = trainingSetRequestFromApi(p.repo, await readJson(req, z.unknown()));
    const result = await buildTrainingSet(await p.offline(), { ...request, jobId: ctx.invocationId });
    return { status: 201, jsonBody: result };
  }),
});
