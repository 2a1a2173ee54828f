/**
 * Online features. GET /api/features/{entity}?view=a,b | ?service=s for one entity;
 * POST /api/features/lookup {entityIds, views | service} for many (one store round trip).
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { readOnlineFeatures, type FeatureSelection } from '../shared/features/online/read';
import { handled, readJson, readQuery, routeName } from './http';
import { nameSchema } from '../shared/names';

/** `?view=a,b`: view names separated by commas, each by the definition name rule. */
const viewList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  )
  .pipe(z.array(nameSchema('definition')).min(1, 'name at least one view'));

const Query = z
  .object({ view: viewList.optional(), service: nameSchema('definition').optional() })
  .refine(
    (q) => (q.view === undefined) !== (q.service === undefined),
    'give either ?view=<view>[,<view>...] or ?service=<feature service>',
  );

const LookupBody = z
  .object({
    entityIds: z.array(nameSchema('entityId')).min(1).max(1000, 'at most 1000 entities per lookup'),
    views: z.array(nameSchema('definition')).min(1).optional(),
    service: nameSchema('definition').optional(),
  })
  .refine((b) => (b.views === undefined) !== (b.service === undefined), 'give either views or service');

const selection = (x: { view?: string[]; views?: string[]; service?: string }): FeatureSelection =>
  x.service !== undefined ? { service: x.service } : { views: x.views ?? x.view! };

export const featuresGet = handled(async function featuresGet(req) {
  const p = platform();
  const entity = routeName(req, 'entity', 'entityId');
  const [one] = await readOnlineFeatures(p.repo, p.online, [entity], selection(readQuery(req, Query)));
  return { jsonBody: one };
});

app.http('features-get', {
  methods: ['GET'],
  route: 'features/{entity}',
  authLevel: 'function',
  handler: featuresGet,
});

export const featuresLookup = handled(async function featuresLookup(req) {
  const p = platform();
  const body = await readJson(req, LookupBody);
  return { jsonBody: { entities: await readOnlineFeatures(p.repo, p.online, body.entityIds, selection(body)) } };
});

app.http('features-lookup', {
  methods: ['POST'],
  route: 'features/lookup',
  authLevel: 'function',
  handler: featuresLookup,
});
