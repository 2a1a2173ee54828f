/**
 * The feature DAG: sources -> views -> derived views -> feature services.
 *
 *   topologicalOrder(repo)                 view names, each after its inputs (stable: declaration order breaks ties)
 *   downstream(repo, views, { includeSelf? })  views that depend on any of `views`, transitively, in DAG order
 *   upstream(repo, view)                   { views, sources } a view depends on, transitively (views in DAG order)
 *   servicesUsing(repo, view)              feature services that read a view directly
 *   dagGraph(repo)                         { nodes, edges } for GET /api/dag
 *
 * Cycles never reach here: defineRepo refuses them with the cycle's path.
 */
import type { FeatureRepo } from '../definitions/repo';
import { shortVersion } from '../definitions/version';
import { formatDuration } from '../definitions/duration';

export function topologicalOrder(repo: FeatureRepo): string[] {
  return [...repo.viewOrder];
}

/** Views that must be recomputed when `views` change, in the order to recompute them. */
export function downstream(
  repo: FeatureRepo,
  views: string | string[],
  opts: { includeSelf?: boolean } = {},
): string[] {
  const start = (Array.isArray(views) ? views : [views]).map((v) => repo.view(v).name);
  const hit = new Set(start);
  for (const name of repo.viewOrder) {
    const v = repo.view(name);
    if (v.input.kind === 'views' && v.input.views.some((i) => hit.has(i))) hit.add(name);
  }
  if (!opts.includeSelf) for (const s of start) hit.delete(s);
  return repo.viewOrder.filter((v) => hit.has(v));
}

/** Everything a view is computed from. */
export function upstream(repo: FeatureRepo, view: string): { views: string[]; sources: string[] } {
  const views = new Set<string>();
  const sources = new Set<string>();
  const visit = (name: string) => {
    const v = repo.view(name);
    if (v.input.kind === 'source') sources.add(v.input.source);
    else
      for (const i of v.input.views) {
        if (!views.has(i)) {
          views.add(i);
          visit(i);
        }
      }
  };
  visit(view);
  return { views: repo.viewOrder.filter((v) => views.has(v)), sources: [...sources].sort() };
}

export function servicesUsing(repo: FeatureRepo, view: string): string[] {
  repo.view(view);
  return [...repo.services.values()].filter((s) => s.views.includes(view)).map((s) => s.name);
}

/** `model` nodes are added by GET /api/dag from the serving registry (not part of the definitions). */
export type DagNodeKind = 'source' | 'view' | 'service' | 'model';

export interface DagNode {
  /** `source:clicks`, `view:user_clicks`, `service:churn_v1`, `model:churn` */
  id: string;
  kind: DagNodeKind;
  name: string;
  version: string;
  description?: string;
  /** view: entity, features with types, ttl; source: arrival (hub, files); service: feature refs */
  details: Record<string, unknown>;
}

export interface DagEdge {
  from: string;
  to: string;
  /** Edges into a service: the view's features the service reads. */
  features?: string[];
}

export interface DagGraph {
  nodes: DagNode[];
  edges: DagEdge[];
}

export function dagGraph(repo: FeatureRepo): DagGraph {
  const nodes: DagNode[] = [];
  const edges: DagEdge[] = [];
  const d = (x: { description?: string }) => (x.description !== undefined ? { description: x.description } : {});
  for (const s of repo.sources.values()) {
    nodes.push({
      id: `source:${s.name}`,
      kind: 'source',
      name: s.name,
      version: shortVersion(s.version),
      ...d(s),
      details: {
        eventTime: s.eventTime,
        idField: s.idField ?? null,
        hub: s.stream?.hub ?? null,
        fileFormats: s.file?.formats ?? [],
        fields: Object.keys(s.fields),
      },
    });
  }
  for (const name of repo.viewOrder) {
    const v = repo.view(name);
    nodes.push({
      id: `view:${v.name}`,
      kind: 'view',
      name: v.name,
      version: shortVersion(v.version),
      ...d(v),
      details: {
        entity: v.entity,
        joinKey: v.joinKey,
        ttl: v.ttlMs !== undefined ? formatDuration(v.ttlMs) : null,
        features: v.features.map((f) => ({
          name: f.name,
          type: f.type,
          ...(f.kind === 'aggregate'
            ? {
                aggregation: f.agg,
                field: f.field ?? null,
                window: `${f.window.kind} ${formatDuration(f.window.sizeMs)}${f.window.hopMs ? ` hop ${formatDuration(f.window.hopMs)}` : ''}`,
              }
            : { expression: true }),
        })),
      },
    });
    if (v.input.kind === 'source') edges.push({ from: `source:${v.input.source}`, to: `view:${v.name}` });
    else for (const i of v.input.views) edges.push({ from: `view:${i}`, to: `view:${v.name}` });
  }
  for (const s of repo.services.values()) {
    nodes.push({
      id: `service:${s.name}`,
      kind: 'service',
      name: s.name,
      version: shortVersion(s.version),
      ...d(s),
      details: { features: s.features.map((f) => f.ref) },
    });
    for (const v of s.views) {
      edges.push({
        from: `view:${v}`,
        to: `service:${s.name}`,
        features: s.features.filter((f) => f.view === v).map((f) => f.feature),
      });
    }
  }
  return { nodes, edges };
}
