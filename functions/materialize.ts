/**
 * POST /api/materialize {views?, since?} (admin): rebuild the online store from the offline
 * store, the newest row per view and entity within the view's TTL (shared/features/online/materialize.ts).
 * For a Redis that was emptied, replaced or missed writes; `since` (ISO-8601 or epoch ms) limits
 * it to rows that arrived from then on. Newest-wins writes: values streamed since stay.
 *
 * Also the app's start: the embedded online store (no REDIS_URL) lives in process memory, so it
 * is rebuilt the same way; requests that read it wait for the rebuild.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { clientTimeSchema } from '../shared/times';
import { handled, readJson } from './http';

const Body = z
  .object({
    views: z
      .array(z.string().min(1, 'must not be empty'))
      .min(1, 'name at least one view, or leave views out for all')
      .optional(),
    since: clientTimeSchema.optional(),
  })
  .strict()
  .optional();

export const materializeHandler = handled(async function materializeHandler(req) {
  const body = (await readJson(req, Body)) ?? {};
  const report = await platform().materialize({
    ...(body.views ? { views: body.views } : {}),
    ...(body.since !== undefined ? { since: body.since } : {}),
  });
  return {
    jsonBody: { ...report, ...(body.since !== undefined ? { since: new Date(body.since).toISOString() } : {}) },
  };
});

app.http('materialize', {
  methods: ['POST'],
  route: 'materialize',
  authLevel: 'admin',
  handler: materializeHandler,
});

app.hook.appStart(() => {
  const started = Date.now();
  // Not awaited here (a large store must not hold up the host's start); the store holds the
  // rebuild and its first read waits for it, so nothing is served from a half-filled store.
  platform()
    .restoreOnline()
    .then(
      (r) =>
        r &&
        console.log(
          `[materialize] embedded online store rebuilt from the offline store: ${r.rows.applied} rows in ${r.views.length} views (${Date.now() - started} ms)`,
        ),
      (e: Error) => console.warn(`[materialize] ${e.message}; reads of the online store will try again`),
    );
});
