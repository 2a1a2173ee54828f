/**
 * GET /api/dag: the feature DAG as JSON — nodes (sources, views, feature services) and edges,
 * views in topological order. `?view=<name>` narrows it to what the view depends on and what
 * depends on it.
 *
 * Models join the graph as `model:<name>` nodes (version = the production version) with an
 * edge from the feature service their production version reads (or from each view it reads,
 * for a signature that lists its own features); dagGraph stays a pure function of the
 * definitions.
 */
import { app } from '@azure/functions';
import { z } from 'zod';
import { platform } from '../shared/platform';
import { dagGraph, downstream, upstream, type DagGraph } from '../shared/features/compute/dag';
import { PRODUCTION } from '../shared/serving/registry';
import { handled, readQuery } from './http';
import { nameSchema } from '../shared/names';

const Query = z.object({ view: nameSchema('definition').optional() });

async function withModels(graph: DagGraph): Promise<DagGraph> {
  const serving = platform().serving();
  const nodes = [...graph.nodes];
  const edges = [...graph.edges];
  const present = new Set(nodes.map((n) => n.id));
  for (const m of await serving.listModels()) {
    const version = m.aliases[PRODUCTION] ?? m.latestVersion;
    if (!version) continue;
    const v = await serving.registry.getVersion(m.model, version);
    const fs = v.signature.featureService;
    const from = present.has(`service:${fs.name}`)
      ? [`service:${fs.name}`]
      : [...new Set(fs.features.map((f) => `view:${f.view}`))].filter((id) => present.has(id));
    if (from.length === 0) continue; // narrowed by ?view= to a part of the DAG the model does not read
    const id = `model:${m.model}`;
    nodes.push({
      id,
      kind: 'model',
      name: m.model,
      version: `v${version}`,
      ...(m.description !== undefined ? { description: m.description } : {}),
      details: { aliases: m.aliases, traffic: m.traffic, featureService: fs.name, features: fs.features.length },
    });
    for (const f of from) edges.push({ from: f, to: id });
  }
  return { nodes, edges };
}

export const dag = handled(async function dag(req) {
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
    for (const s of repo.services.values())
      if (s.views.some((v) => keep.has(`view:${v}`))) keep.add(`service:${s.name}`);
    graph = {
      nodes: graph.nodes.filter((n) => keep.has(n.id)),
      edges: graph.edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
    };
  }
  return { jsonBody: { ...(await withModels(graph)), order: repo.viewOrder } };
});

app.http('dag', {
  methods: ['GET'],
  route: 'dag',
  authLevel: 'function',
  handler: dag,
});
