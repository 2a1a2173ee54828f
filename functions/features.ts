/**
 * Online features. GET /api/features/{entity}?view=a,b | ?service=s for one entity;
 * POST /api/features/lookup {entityIds, views | service} for many (one store round trip).
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { readOnlineFeatures, type FeatureSelection } from '../shared/features/online-read';
import { handled, readJson, readQuery } from './http';

const Query = z
  .object({ view: z.string().min(1).optional(), service: z.string().min(1).optional() })
  .refine((q) => (q.view === undefined) !== (q.service === undefined), 'give either ?view=<view>[,<view>...] or ?service=<feature service>');

const LookupBody = z
  .object({
    entityIds: z.array(z.string().min(1)).min(1).max(1000, 'at most 1000 entities per lookup'),
    views: z.array(z.string().min(1)).min(1).optional(),
    service: z.string().min(1).optional(),
  })
  .refine((b) => (b.views === undefined) !== (b.service === undefined), 'give either views or service');

const selection = (x: { view?: string; views?: string[]; service?: string }): FeatureSelection =>
  x.service !== undefined ? { service: x.service } : { views: x.views ?? x.view!.split(',').map((s) => s.trim()).filter(Boolean) };

app.http('features-get', {
  methods: ['GET'],
  route: 'features/{entity}',
  authLevel: 'function',
  handler: handled(async (req) => {
    const p = platform();
    const [one] = await readOnlineFeatures(p.repo, p.online, [req.params.entity!], selection(readQuery(req, Query)));
    return { jsonBody: one };
  }),
});

app.http('features-lookup', {
  methods: ['POST'],
  route: 'features/lookup',
  authLevel: 'function',
  handler: handled(async (req) => {
    const p = platform();
    const body = await readJson(req, LookupBody);
    return { jsonBody: { entities: await readOnlineFeatures(p.repo, p.online, body.entityIds, selection(body)) } };
  }),
});
