/**
 * Monitoring results over HTTP (function key), read from the results store:
 *   GET /api/models/{model}/drift?from=&to=&version=        drift per window (features, prediction, dataset)
 *   GET /api/models/{model}/quality?from=&to=&version=      data quality and output contracts per window
 *   GET /api/models/{model}/performance?from=&to=&version=  realized and estimated performance per window
 *   GET /api/views/{view}/summaries?from=&to=               day summaries of a view and their anomaly scores
 * and PUT /api/models/{model}/versions/{version}/baseline (admin): attach a version's
 * training baseline (shared/training/baseline.ts) when it was trained outside Strata.
 */
import { app, type HttpRequest } from '@azure/functions';
import { platform } from '../shared/platform';
import { ValidationError } from '../shared/errors';
import {
  driftAnswer,
  performanceAnswer,
  qualityAnswer,
  SummaryRangeQuerySchema,
  windowRange,
  WindowRangeQuerySchema,
} from '../shared/monitoring/api';
import { BaselineSchema } from '../shared/monitoring/store/baselines';
import { handled, readJson, readQuery, routeName } from './http';
import { modelParam } from './models-http';
import type { WindowResult } from '../shared/monitoring/window-result';

async function windowsOf(req: HttpRequest): Promise<WindowResult[]> {
  const p = platform();
  const model = modelParam(req);
  const range = windowRange(readQuery(req, WindowRangeQuerySchema));
  if (range.from >= range.to)
    throw new ValidationError('from must be before to', [
      { where: 'query.from', problem: `must be before to (${new Date(range.to).toISOString()})` },
    ]);
  await p.serving().registry.getModel(model); // 404 for an unknown model
  return (await p.monitoring()).results.listWindows(model, range);
}

app.http('models-drift', {
  methods: ['GET'],
  route: 'models/{model}/drift',
  authLevel: 'function',
  handler: handled(async (req) => ({ jsonBody: driftAnswer(await windowsOf(req)) })),
});

app.http('models-quality', {
  methods: ['GET'],
  route: 'models/{model}/quality',
  authLevel: 'function',
  handler: handled(async (req) => ({ jsonBody: qualityAnswer(await windowsOf(req)) })),
});

app.http('models-performance', {
  methods: ['GET'],
  route: 'models/{model}/performance',
  authLevel: 'function',
  handler: handled(async (req) => ({ jsonBody: performanceAnswer(await windowsOf(req)) })),
});

app.http('views-summaries', {
  methods: ['GET'],
  route: 'views/{view}/summaries',
  authLevel: 'function',
  handler: handled(async (req) => {
    const p = platform();
    const view = p.repo.view(routeName(req, 'view', 'definition')).name; // 404 with "did you mean"
    const q = readQuery(req, SummaryRangeQuerySchema);
    const summaries = await (
      await p.monitoring()
    ).summaries.list(view, { ...(q.from ? { fromDay: q.from } : {}), ...(q.to ? { toDay: q.to } : {}) });
    return { jsonBody: { view, summaries } };
  }),
});

app.http('models-baseline', {
  methods: ['PUT'],
  route: 'models/{model}/versions/{version:int}/baseline',
  authLevel: 'admin',
  handler: handled(async (req) => {
    const p = platform();
    const model = modelParam(req);
    const version = Number(req.params.version);
    await p.serving().registry.getVersion(model, version); // 404 for an unknown version
    const baseline = await readJson(req, BaselineSchema);
    await (await p.monitoring()).baselines.put(model, version, baseline);
    return { status: 201, jsonBody: { model, version, features: baseline.features.length, rows: baseline.rows } };
  }),
});
