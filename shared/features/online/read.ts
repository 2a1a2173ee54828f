/**
 * Reading online features for serving and for GET /api/features: the latest values of the
 * requested views or feature service, for many entities, in one round trip to the store,
 * with each view's event time and freshness (age against the view's TTL).
 */
import type { FeatureRepo } from '../definitions/repo';
import type { FeatureValue } from '../definitions/values';
import type { OnlineKey, OnlineStore } from './types';
import { ValidationError } from '../../errors';

export type FeatureSelection = { views: string[] } | { service: string };

export interface ViewFreshness {
  /** ISO time of the values' event, null when nothing is stored. */
  eventTime: string | null;
  createdTime: string | null;
  ageMs: number | null;
  /** Within the view's TTL (always true for a view without TTL, false when missing). */
  fresh: boolean;
  /**
   * Whether the view has caught up with its sources (its watermark reached their newest event;
   * ledger/plan.ts caughtUpViews): false while a new definition is backfilled or the stream lags.
   * Present when the caller passes the flags.
   */
  caughtUp?: boolean;
}

export interface EntityFeatures {
  entityId: string;
  /** By `view:feature`, in the selection's order; null where missing. */
  features: Record<string, FeatureValue>;
  views: Record<string, ViewFreshness>;
}

/** The (view, feature) pairs a selection names, in order, checked against the repo. */
export function resolveSelection(repo: FeatureRepo, sel: FeatureSelection): Array<{ view: string; feature: string }> {
  if ('service' in sel) {
    const svc = repo.services.get(sel.service);
    if (!svc)
      throw new ValidationError(`unknown feature service "${sel.service}"`, [
        { where: 'service', problem: `known: ${[...repo.services.keys()].join(', ') || '(none)'}` },
      ]);
    return svc.features.map((f) => ({ view: f.view, feature: f.feature }));
  }
  const out: Array<{ view: string; feature: string }> = [];
  sel.views.forEach((name, i) => {
    const v = repo.views.get(name);
    if (!v)
      throw new ValidationError(`unknown feature view "${name}"`, [
        { where: `view[${i}]`, problem: `known: ${[...repo.views.keys()].join(', ')}` },
      ]);
    for (const c of v.columns) out.push({ view: v.name, feature: c.name });
  });
  return out;
}

export async function readOnlineFeatures(
  repo: FeatureRepo,
  store: OnlineStore,
  entityIds: string[],
  sel: FeatureSelection,
  now = Date.now(),
  caughtUp?: Readonly<Record<string, boolean>>,
): Promise<EntityFeatures[]> {
  const refs = resolveSelection(repo, sel);
  const views = [...new Set(refs.map((r) => r.view))];
  const keys: OnlineKey[] = [];
  for (const entityId of entityIds) for (const view of views) keys.push({ view, entityId });
  const records = await store.read(keys);
  return entityIds.map((entityId, e) => {
    const features: Record<string, FeatureValue> = {};
    const fresh: Record<string, ViewFreshness> = {};
    views.forEach((view, vi) => {
      const rec = records[e * views.length + vi] ?? null;
      const ttl = repo.view(view).ttlMs;
      const age = rec ? now - rec.eventTs : null;
      fresh[view] = {
        eventTime: rec ? new Date(rec.eventTs).toISOString() : null,
        createdTime: rec ? new Date(rec.createdTs).toISOString() : null,
        ageMs: age,
        fresh: rec !== null && (ttl === undefined || (age as number) < ttl),
        ...(caughtUp ? { caughtUp: caughtUp[view] ?? false } : {}),
      };
    });
    for (const r of refs) {
      const rec = records[e * views.length + views.indexOf(r.view)] ?? null;
      features[`${r.view}:${r.feature}`] = rec ? (rec.values[r.feature] ?? null) : null;
    }
    return { entityId, features, views: fresh };
  });
}
