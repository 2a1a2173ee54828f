/**
 * A signature against the app's feature repo, at registration:
 *
 *   withFeatureService(repo, signature)   `"featureService": "churn_v1"` (a name) becomes the
 *                                          service's features in model input order
 *   checkRepoFeatures(repo, signature)     every listed feature exists and is a number or bool
 *
 * A version whose features the repo does not have could only ever answer 422, so it is
 * refused when it is registered, with what to fix.
 */
import { ValidationError, type ErrorDetail } from '../errors';
import type { FeatureRepo } from '../features/definitions/repo';
import { didYouMean } from '../suggest';
import type { ModelSignature } from './signature';

/** The signature with a feature service given by name replaced by its features; anything else unchanged. */
export function withFeatureService(repo: FeatureRepo, signature: unknown): unknown {
  if (!signature || typeof signature !== 'object' || Array.isArray(signature)) return signature;
  const fs = (signature as Record<string, unknown>).featureService;
  if (typeof fs !== 'string') return signature;
  const svc = repo.services.get(fs);
  if (!svc) {
    const known = [...repo.services.keys()];
    throw new ValidationError(`unknown feature service "${fs}"`, [
      {
        where: 'signature.featureService',
        problem: `"${fs}" is not a feature service of this app${didYouMean(fs, known)}; known: ${known.join(', ') || '(none)'}`,
      },
    ]);
  }
  return {
    ...signature,
    featureService: { name: svc.name, features: svc.features.map((f) => ({ view: f.view, feature: f.feature })) },
  };
}

/** Throws a ValidationError naming every listed feature the repo lacks or cannot feed a float tensor. */
export function checkRepoFeatures(repo: FeatureRepo, signature: ModelSignature): void {
  const problems: ErrorDetail[] = [];
  signature.featureService.features.forEach((f, i) => {
    const where = `signature.featureService.features[${i}]`;
    const view = repo.views.get(f.view);
    if (!view) {
      const known = [...repo.views.keys()];
      problems.push({
        where,
        problem: `view "${f.view}" does not exist${didYouMean(f.view, known)}; views: ${known.join(', ')}`,
      });
      return;
    }
    const col = view.columns.find((c) => c.name === f.feature);
    if (!col) {
      const known = view.columns.map((c) => c.name);
      problems.push({
        where,
        problem: `view "${f.view}" has no feature "${f.feature}"${didYouMean(f.feature, known)}; its features: ${known.join(', ')}`,
      });
    } else if (col.type === 'string') {
      problems.push({
        where,
        problem: `${f.view}:${f.feature} is a string; the model's input is float, so encode it as a number in the feature view`,
      });
    }
  });
  if (problems.length) {
    throw new ValidationError(
      `the signature of feature service ${signature.featureService.name} names features this app does not serve`,
      problems,
    );
  }
}
