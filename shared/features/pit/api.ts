/**
 * A training-set request in the words of the HTTP API: a spine plus a feature service or a
 * list of `view:feature` refs. Resolved against the repo (each view's TTL and, unless one is
 * named, the newest definition version) into the offline store's TrainingSetRequest.
 */
import { z } from 'zod';
import type { FeatureRepo } from '../definitions/repo';
import { parseTrainingSetRequest } from './request';
import type { TrainingSetRequest } from './training-set';
import { ValidationError, detailsFromZod, type ErrorDetail } from '../../errors';
import { nameSchema } from '../../names';
import { own } from '../../own';

const ApiSchema = z
  .object({
    spine: z.unknown(),
    featureService: nameSchema('definition').optional(),
    features: z
      .array(z.string().regex(/^[^:]+:[^:]+$/, 'must be "view:feature"'))
      .min(1)
      .optional(),
    /** Build from these definition versions instead of the newest, by view name. */
    versions: z.record(nameSchema('definition'), nameSchema('version')).optional(),
    asOf: z.unknown().optional(),
    knownAt: z.unknown().optional(),
    fullFeatureNames: z.unknown().optional(),
    id: z.unknown().optional(),
  })
  .refine(
    (b) => (b.featureService === undefined) !== (b.features === undefined),
    'give either featureService or features (a list of "view:feature")',
  );

export function trainingSetRequestFromApi(repo: FeatureRepo, body: unknown): TrainingSetRequest {
  const r = ApiSchema.safeParse(body);
  if (!r.success) throw new ValidationError('invalid training set request', detailsFromZod(r.error.issues));
  const b = r.data;
  const problems: ErrorDetail[] = [];
  let refs: Array<{ view: string; feature: string; where: string }>;
  if (b.featureService !== undefined) {
    const svc = repo.services.get(b.featureService);
    if (!svc) {
      throw new ValidationError(`unknown feature service "${b.featureService}"`, [
        { where: 'featureService', problem: `not defined; known: ${[...repo.services.keys()].join(', ') || '(none)'}` },
      ]);
    }
    refs = svc.features.map((f) => ({ view: f.view, feature: f.feature, where: 'featureService' }));
  } else {
    refs = b.features!.map((ref, i) => {
      const [view, feature] = ref.split(':') as [string, string];
      return { view, feature, where: `features[${i}]` };
    });
  }
  const byView = new Map<string, string[]>();
  for (const ref of refs) {
    const view = repo.views.get(ref.view);
    if (!view) {
      problems.push({
        where: ref.where,
        problem: `unknown view "${ref.view}"; known: ${[...repo.views.keys()].join(', ')}`,
      });
      continue;
    }
    if (!view.columns.some((c) => c.name === ref.feature)) {
      problems.push({
        where: ref.where,
        problem: `view "${ref.view}" has no feature "${ref.feature}"; it has ${view.columns.map((c) => c.name).join(', ')}`,
      });
      continue;
    }
    const list = byView.get(ref.view) ?? [];
    if (!list.includes(ref.feature)) list.push(ref.feature);
    byView.set(ref.view, list);
  }
  for (const v of Object.keys(b.versions ?? {}))
    if (!byView.has(v)) problems.push({ where: `versions.${v}`, problem: 'names a view the request does not use' });
  if (problems.length) throw new ValidationError('invalid training set request', problems);
  const views = [...byView].map(([view, features]) => {
    const ttlMs = repo.view(view).ttlMs;
    const version = own(b.versions, view);
    return { view, features, ...(ttlMs !== undefined ? { ttlMs } : {}), ...(version !== undefined ? { version } : {}) };
  });
  const { featureService: _s, features: _f, versions: _v, ...rest } = b;
  return parseTrainingSetRequest({ ...rest, views });
}
