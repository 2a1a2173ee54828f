/**
 * The feature registry. GET /api/definitions lists what was applied (and whether the app's
 * repo differs); POST /api/definitions/apply[?dryRun=true] records the app's definitions,
 * refusing incompatible changes with 409 and the fix; GET /api/definitions/{kind}/{name}/history.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { apply, definitionHistory, listDefinitions } from '../shared/features/definitions/registry';
import { handled, readQuery, routeName, validate } from './http';

const Kind = z.enum(['entity', 'source', 'view', 'service']);

export const definitionsList = handled(async function definitionsList(req) {
  const p = platform();
  const { kind } = readQuery(req, z.object({ kind: Kind.optional() }));
  const applied = await listDefinitions(await p.definitions(), kind ? { kind } : {});
  const repoDefs = p.repo.definitions().filter((d) => !kind || d.kind === kind);
  const inRepo = new Map(repoDefs.map((d) => [`${d.kind}:${d.name}`, d.version]));
  return {
    jsonBody: {
      definitions: applied.map((d) => ({
        ...d,
        inApp: inRepo.has(`${d.kind}:${d.name}`),
        appVersion: inRepo.get(`${d.kind}:${d.name}`) ?? null,
      })),
      pending: repoDefs
        .filter((d) => !applied.some((a) => a.kind === d.kind && a.name === d.name && a.version === d.version))
        .map((d) => ({ kind: d.kind, name: d.name, version: d.version })),
    },
  };
});

app.http('definitions-list', {
  methods: ['GET'],
  route: 'definitions',
  authLevel: 'function',
  handler: definitionsList,
});

export const definitionsApply = handled(async function definitionsApply(req) {
  const p = platform();
  const { dryRun } = readQuery(req, z.object({ dryRun: z.enum(['true', 'false']).optional() }));
  const result = await apply(await p.definitions(), p.repo, { dryRun: dryRun === 'true' });
  return { jsonBody: result };
});

app.http('definitions-apply', {
  methods: ['POST'],
  route: 'definitions/apply',
  authLevel: 'admin',
  handler: definitionsApply,
});

export const definitionsHistory = handled(async function definitionsHistory(req) {
  const kind = validate(Kind, req.params.kind, 'kind');
  return {
    jsonBody: {
      history: await definitionHistory(await platform().definitions(), kind, routeName(req, 'name', 'definition')),
    },
  };
});

app.http('definitions-history', {
  methods: ['GET'],
  route: 'definitions/{kind}/{name}/history',
  authLevel: 'function',
  handler: definitionsHistory,
});
