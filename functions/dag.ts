/**
 * GET /api/dag: the feature DAG as JSON — nodes (sources, views, feature services) and edges,
 * views in topological order. `?view=<name>` narrows it to what the view depends on and what
 * depends on it.
 *
 * Extension point: models join the graph as `model:<name>` nodes with an edge from the feature
 * service they read; add them in `withModels` below once the serving registry records a
 * model's feature service (dagGraph stays a pure function of the definitions).
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { dagGraph, downstream, upstream, type DagGraph } from '../shared/features/dag';
import { handled, readQuery } from './http';
import { nameSchema } from '../shared/names';

const Query = z.object({ view: nameSchema('definition').optional() });

async function withModels(graph: DagGraph): Promise<DagGraph> {
  return graph;
}

app.http('dag', {
  methods: ['GET'],
  route: 'dag',
  authLevel: 'function',
  handler: handled(async (req) => {
    const { repo } = platform();
    const { view } = readQuery(req, Query);
    let graph = dagGraph(repo);
    if (view !== undefined) {
      repo.view(view); // 404 with "did you mean" for an unknown view
      const up = upstream(repo, view);
      const keep = new Set([
        `view:${view}`,
        ...up.views.map((v) => `view:${v}`),
        ...up.sources.map((s) => `source:${s}`),
        ...downstream(repo, view).map((v) => `view:${v}`),
      ]);
      for (const s of repo.services.values()) if (s.views.some((v) => keep.has(`view:${v}`))) keep.add(`service:${s.name}`);
      graph = { nodes: graph.nodes.filter((n) => keep.has(n.id)), edges: graph.edges.filter((e) => keep.has(e.from) && keep.has(e.to)) };
    }
    return { jsonBody: { ...(await withModels(graph)), order: repo.viewOrder } };
  }),
});
