/**
 * Alerts over HTTP:
 *   GET    /api/alerts?state=open|resolved           (function key) alerts, newest first
 *   GET    /api/alerts/rules                         (function key) every rule in force (defaults, definitions, API)
 *   POST   /api/alerts/rules                         (admin) add or replace a rule by id (AlertRuleSchema; 400 names the field)
 *   DELETE /api/alerts/rules/{id}                    (admin) remove a rule added through the API
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { NotFoundError, ValidationError } from '../shared/errors';
import type { FeatureRepo } from '../shared/features/definitions/repo';
import { AlertRuleSchema } from '../shared/monitoring/alerts/rules';
import { handled, readJson, readQuery } from './http';

const AlertsQuerySchema = z
  .object({ state: z.enum(['open', 'resolved'], { message: 'state: must be open or resolved' }).optional() })
  .strict();

app.http('alerts-list', {
  methods: ['GET'],
  route: 'alerts',
  authLevel: 'function',
  handler: handled(async (req) => {
    const q = readQuery(req, AlertsQuerySchema);
    return { jsonBody: { alerts: await (await platform().monitoring()).alerts.list(q.state) } };
  }),
});

app.http('alerts-rules-list', {
  methods: ['GET'],
  route: 'alerts/rules',
  authLevel: 'function',
  handler: handled(async () => ({ jsonBody: { rules: await (await platform().monitoring()).alerts.rules() } })),
});

app.http('alerts-rules-add', {
  methods: ['POST'],
  route: 'alerts/rules',
  authLevel: 'admin',
  handler: handled(async (req) => {
    const rule = await readJson(req, AlertRuleSchema);
    const p = platform();
    if (rule.view !== undefined) knownView(p.repo, rule.view, 'body.view');
    await (await p.monitoring()).alertStore.putRule(rule);
    return { status: 201, jsonBody: { rule } };
  }),
});

app.http('alerts-rule-delete', {
  methods: ['DELETE'],
  route: 'alerts/rules/{id}',
  authLevel: 'admin',
  handler: handled(async (req) => {
    const id = req.params.id ?? '';
    if (!(await (await platform().monitoring()).alertStore.deleteRule(id)))
      throw new NotFoundError(
        `no alert rule ${id} was added through the API (rules from definitions and defaults are changed there)`,
      );
    return { status: 204 };
  }),
});

/** A rule naming a view the repo does not have would never fire: a 400 naming the field. */
function knownView(repo: FeatureRepo, view: string, where: string): void {
  try {
    repo.view(view);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw new ValidationError(e.message, [{ where, problem: e.message }]);
  }
}
