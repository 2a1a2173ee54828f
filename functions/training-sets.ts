/**
 * POST /api/training-sets: a point-in-time-correct training set (Parquet in Blob) from a spine
 * and a feature service or feature list. Sets are immutable: 201 when built, 200 with the stored
 * set when the same request built it before (same id), 409 for a different request under a taken id.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { createTrainingSet } from '../shared/features/pit';
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
    const { set, created } = await createTrainingSet(await p.offline(), { ...request, jobId: ctx.invocationId });
    return { status: created ? 201 : 200, jsonBody: set };
  }),
});
