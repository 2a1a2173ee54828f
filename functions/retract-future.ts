/**
 * POST /api/sources/{source}/retract-future { dryRun? } (admin): the repair of an event clock
 * that records dated far in the future moved (stored before STRATA_MAX_FUTURE_SKEW refused
 * them): dead-letter and retract those records, retract the views' rows computed on the moved
 * clock, forget online values dated after it, rewind the ledger; the answer names the backfill
 * that recomputes the views. Dry run by default. See shared/features/ingest/future-records.ts.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { retractFutureRecords } from '../shared/features/ingest/future-records';
import { handled, readJson } from './http';

const Body = z.object({ dryRun: z.boolean().default(true) }).default({ dryRun: true });

export const retractFuture = handled(async function retractFuture(req, ctx) {
  const p = platform();
  const { dryRun } = await readJson(req, Body);
  const source = p.repo.source(req.params.source!).name;
  const report = await retractFutureRecords(
    {
      repo: p.repo,
      offline: await p.offline(),
      online: p.online,
      deadLetters: p.deadLetters,
      ledger: await p.ledger(),
      ingest: await p.ingest(),
    },
    source,
    { maxFutureSkewMs: p.config.maxFutureSkewMs, dryRun, jobId: ctx.invocationId },
  );
  return { jsonBody: report };
});

app.http('retract-future', {
  methods: ['POST'],
  route: 'sources/{source}/retract-future',
  authLevel: 'admin',
  handler: retractFuture,
});
