/**
 * What a reader of the serving state needs, without the admin-only details of the registry
 * (artifact locations, signatures' full policies): per model, its aliases, traffic split and
 * production history, its versions (with the feature service each reads), recent alias and
 * traffic changes, and this instance's recent per-version stats (requests, errors, latency).
 * For GET /api/serving/models (function key): the dashboard and scripts that may read
 * metrics but not change the registry.
 */
import type { ServingService } from './service';
import type { HistoryEntry, ModelState } from './registry';
import type { ModelStats } from './metrics';

export interface ModelSummary extends Pick<
  ModelState,
  'model' | 'description' | 'latestVersion' | 'aliases' | 'traffic' | 'productionHistory'
> {
  versions: Array<{
    version: number;
    createdAt: string;
    description?: string;
    featureService: string;
    features: number;
    aliases: string[];
  }>;
  /** Newest first. */
  history: Array<Omit<HistoryEntry, 'at'> & { at: string }>;
  /** This instance's recent window (see GET /api/models/{model}/stats). */
  stats: ModelStats;
}

export async function servingSummary(
  serving: ServingService,
  opts: { historyLimit?: number; statsWindowMs?: number } = {},
): Promise<ModelSummary[]> {
  const models = await serving.listModels();
  return Promise.all(
    models.map(async (m) => {
      const [versions, history] = await Promise.all([
        serving.registry.listVersions(m.model),
        serving.registry.history(m.model, opts.historyLimit ?? 50),
      ]);
      return {
        model: m.model,
        ...(m.description !== undefined ? { description: m.description } : {}),
        latestVersion: m.latestVersion,
        aliases: m.aliases,
        traffic: m.traffic,
        productionHistory: m.productionHistory,
        versions: versions.map((v) => ({
          version: v.version,
          createdAt: new Date(v.createdAt).toISOString(),
          ...(v.description !== undefined ? { description: v.description } : {}),
          featureService: v.signature.featureService.name,
          features: v.signature.featureService.features.length,
          aliases: Object.entries(m.aliases)
            .filter(([, n]) => n === v.version)
            .map(([a]) => a)
            .sort(),
        })),
        history: [...history].sort((a, b) => b.seq - a.seq).map((h) => ({ ...h, at: new Date(h.at).toISOString() })),
        stats: serving.stats(m.model, opts.statsWindowMs),
      };
    }),
  );
}
