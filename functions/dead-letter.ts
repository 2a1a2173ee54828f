import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { handled, readQuery, routeName } from './http';

const Query = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) });

/** GET /api/dead-letter/{source}: the newest rejected records of a source, with reasons. */
export const deadLetter = handled(async function deadLetter(req) {
  const p = platform();
  const source = p.repo.source(routeName(req, 'source', 'definition')).name;
  const { limit } = readQuery(req, Query);
  return { jsonBody: { source, deadLetters: await p.deadLetters.list(source, limit) } };
});

app.http('dead-letter', {
  methods: ['GET'],
  route: 'dead-letter/{source}',
  authLevel: 'function',
  handler: deadLetter,
});
