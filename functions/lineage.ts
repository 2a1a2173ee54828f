/**
 * Lineage over HTTP.
 *   GET  /api/lineage/{kind}/{id}?direction=up|down&depth=3    kind: segment, training-set, view, source
 *        (a segment by its id or <view>/<version>/<day>/<segmentId>; a view by name or name@version)
 *   POST /api/lineage-versions/infer  { rules: [{ where, param, maxDepth? }], dryRun? }   (admin)
 *   POST /api/lineage-versions/update { where, set, dryRun? }                             (admin)
 * See shared/features/lineage/ (lineage.ts and versions.ts) for what is walked and written.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { checkLineageRef } from '../shared/features/lineage/lineage';
import { inferVersions, updateVersion } from '../shared/features/lineage/versions';
import { handled, readJson, readQuery } from './http';
import { nameSchema } from '../shared/names';

const Query = z.object({
  direction: z.enum(['up', 'down']).default('up'),
  depth: z.coerce.number().int().min(1, 'at least 1 step').max(10, 'at most 10 steps').optional(),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const Where = z.object({
  kind: z.enum(['segment', 'training-set']),
  view: nameSchema('storedView').optional(),
  version: nameSchema('version').optional(),
  fromDay: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be yyyy-mm-dd')
    .optional(),
  toDay: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be yyyy-mm-dd')
    .optional(),
  jobId: z.string().min(1).optional(),
  ids: z.array(z.string().min(1)).optional(),
  params: z.record(z.string(), z.union([scalar, z.null()])).optional(),
  includeSuperseded: z.boolean().optional(),
});
const InferBody = z.object({
  rules: z
    .array(z.object({ where: Where, param: z.string().min(1), maxDepth: z.number().int().min(1).max(20).optional() }))
    .min(1, 'give at least one rule'),
  dryRun: z.boolean().default(true),
});
const UpdateBody = z.object({ where: Where, set: z.record(z.string(), scalar), dryRun: z.boolean().default(true) });

export const lineageHandler = handled(async function lineageHandler(req) {
  const q = readQuery(req, Query);
  checkLineageRef(req.params.kind!, req.params.id ?? '');
  const lineage = await platform().lineage();
  // The host decoded the path once already: the id is used as it arrives (a second decode broke on `%ff`).
  return {
    jsonBody: await lineage.walk(req.params.kind!, req.params.id ?? '', {
      direction: q.direction,
      ...(q.depth ? { depth: q.depth } : {}),
    }),
  };
});

app.http('lineage', {
  methods: ['GET'],
  route: 'lineage/{kind}/{*id}',
  authLevel: 'function',
  handler: lineageHandler,
});

export const lineageVersionsInfer = handled(async function lineageVersionsInfer(req) {
  const body = await readJson(req, InferBody);
  return { jsonBody: await inferVersions(await platform().lineageDeps(), body.rules, { dryRun: body.dryRun }) };
});

app.http('lineage-versions-infer', {
  methods: ['POST'],
  route: 'lineage-versions/infer',
  authLevel: 'admin',
  handler: lineageVersionsInfer,
});

export const lineageVersionsUpdate = handled(async function lineageVersionsUpdate(req) {
  const body = await readJson(req, UpdateBody);
  return {
    jsonBody: await updateVersion(await platform().lineageDeps(), body.where, body.set, { dryRun: body.dryRun }),
  };
});

app.http('lineage-versions-update', {
  methods: ['POST'],
  route: 'lineage-versions/update',
  authLevel: 'admin',
  handler: lineageVersionsUpdate,
});
