/**
 * DAG page: sources → views → feature services → models (GET /api/dag), each node with its
 * version and freshness (views: watermark and caught up, from GET /api/overview; sources:
 * newest event; services: whether all their views are caught up; models: the production
 * version). Clicking a node shows its lineage (GET /api/lineage/...) and, for a view, its
 * plan status (GET /api/views/{view}/status and the plan's work for it).
 */
import { definePage, definePanel, type PanelContext } from '../registry';
import { badge, clear, empty, fmtAge, fmtTime, h, table } from '../dom';
import { drawDag, type LayoutNode } from '../dag-layout';
import type { Dag, DagNode, Lineage, Overview, Plan } from '../types';

definePage({ id: 'dag', title: 'DAG', order: 40 });

let selected: string | undefined;

definePanel({
  page: 'dag',
  id: 'dag',
  title: 'Feature DAG',
  order: 10,
  wide: true,
  async render(ctx) {
    const [dag, overview] = await Promise.all([
      ctx.api.get<Dag>('dag', ctx.signal),
      ctx.api.get<Overview>('overview', ctx.signal),
    ]);
    const views = new Map(overview.views.map((v) => [v.view, v]));
    const sources = new Map(overview.sources.map((s) => [s.name, s]));
    const nodes: LayoutNode[] = dag.nodes.map((n) => {
      if (n.kind === 'view') {
        const v = views.get(n.name);
        const state = !v || v.watermark === null ? 'muted' : v.caughtUp ? 'ok' : 'warn';
        return {
          id: n.id,
          kind: n.kind,
          title: n.name,
          state,
          lines: [
            `version ${n.version}`,
            !v || v.watermark === null
              ? 'not computed'
              : v.caughtUp
                ? `caught up · ${fmtAge(v.ageMs)} old`
                : `behind by ${fmtAge(v.lagMs)}`,
          ],
        };
      }
      if (n.kind === 'source') {
        const s = sources.get(n.name);
        return {
          id: n.id,
          kind: n.kind,
          title: n.name,
          state: s?.newestEvent ? 'ok' : 'muted',
          lines: [
            `version ${n.version}`,
            s?.newestEvent ? `newest ${fmtTime(s.newestEvent).slice(5, 16)}` : 'no records yet',
          ],
        };
      }
      if (n.kind === 'service') {
        const reads = dag.edges.filter((e) => e.to === n.id).map((e) => views.get(e.from.replace(/^view:/, '')));
        const ok = reads.every((v) => v?.caughtUp);
        return {
          id: n.id,
          kind: n.kind,
          title: n.name,
          state: ok ? 'ok' : 'warn',
          lines: [`version ${n.version}`, ok ? 'all views caught up' : 'a view is behind'],
        };
      }
      const aliases = Object.entries((n.details.aliases ?? {}) as Record<string, number>)
        .map(([a, v]) => `${a} v${v}`)
        .join(', ');
      return { id: n.id, kind: n.kind, title: n.name, state: 'ok', lines: [`production ${n.version}`, aliases] };
    });

    const layout = h('div', { class: 'dag-layout' });
    const canvas = h('div', { class: 'dag-canvas' });
    const details = h('aside', { class: 'dag-details', 'data-details': '' });
    layout.append(canvas, details);
    ctx.body.append(
      h(
        'p',
        { class: 'hint' },
        `${dag.nodes.length} nodes, ${dag.edges.length} edges. Click a node for its lineage and plan status.`,
      ),
      layout,
    );
    const svg = drawDag(nodes, dag.edges);
    canvas.appendChild(svg);
    const show = (id: string) => {
      selected = id;
      svg.querySelectorAll('.node.selected').forEach((x) => x.classList.remove('selected'));
      svg.querySelector(`[data-node="${CSS.escape(id)}"]`)?.classList.add('selected');
      const node = dag.nodes.find((x) => x.id === id);
      if (node) void showDetails(ctx, details, node, dag);
    };
    svg.querySelectorAll<SVGGElement>('.node').forEach((g) => {
      g.addEventListener('click', () => show(g.dataset.node!));
      g.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && show(g.dataset.node!));
    });
    if (selected && dag.nodes.some((n) => n.id === selected)) show(selected);
    else details.append(empty('Select a node.'));
  },
});

async function showDetails(ctx: PanelContext, el: HTMLElement, node: DagNode, dag: Dag): Promise<void> {
  clear(el);
  el.dataset.node = node.id;
  el.append(
    h('h3', {}, `${node.kind} ${node.name}`),
    h('p', {}, `version ${node.version}`),
    node.description ? h('p', { class: 'hint' }, node.description) : '',
  );
  const facts = Object.entries(node.details).filter(
    ([, v]) => v !== null && (typeof v !== 'object' || Array.isArray(v)) && String(v) !== '',
  );
  if (node.kind === 'view') {
    const features = (node.details.features ?? []) as Array<{
      name: string;
      type: string;
      aggregation?: string;
      window?: string;
    }>;
    el.append(
      table(
        ['feature', 'type', 'how'],
        features.map((f) => [f.name, f.type, f.aggregation ? `${f.aggregation} ${f.window ?? ''}` : 'expression']),
      ),
    );
  } else if (facts.length) {
    el.append(
      table(
        ['', ''],
        facts.map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      ),
    );
  }
  const loading = h('p', { class: 'hint' }, 'Loading lineage…');
  el.append(loading);
  try {
    const parts: HTMLElement[] = [];
    if (node.kind === 'view') {
      const [status, plan] = await Promise.all([
        ctx.api.get<{ caughtUp?: boolean; watermark?: string | null; days?: unknown[] } & Record<string, unknown>>(
          `views/${encodeURIComponent(node.name)}/status?days=7`,
        ),
        ctx.api.get<Plan>(`plan?views=${encodeURIComponent(node.name)}`),
      ]);
      const mine = plan.work.filter((w) => w.view === node.name);
      parts.push(
        h('h4', {}, 'Plan status'),
        h(
          'p',
          {},
          status.caughtUp ? badge('caught up', 'ok') : badge('behind', 'warn'),
          ` watermark ${fmtTime((status.watermark as string | null | undefined) ?? null)}`,
        ),
      );
      parts.push(
        mine.length
          ? table(
              ['day', 'kind', 'reason'],
              mine.map((w) => [w.day, badge(w.kind, 'warn'), w.reason]),
              { 'data-table': 'node-work' },
            )
          : empty('No stale, missing or incomplete days.'),
      );
    }
    if (node.kind === 'view' || node.kind === 'source') {
      const direction = node.kind === 'source' ? 'down' : 'up';
      const lin = await ctx.api.get<Lineage>(
        `lineage/${node.kind}/${encodeURIComponent(node.name)}?direction=${direction}&depth=2`,
      );
      const others = lin.nodes.filter((n) => n.id !== lin.root);
      parts.push(
        h('h4', {}, direction === 'up' ? 'Lineage: made from' : 'Lineage: feeds'),
        others.length
          ? h(
              'ul',
              { class: 'lineage', 'data-lineage': node.id },
              ...others.slice(0, 30).map((n) => h('li', {}, h('code', {}, n.id))),
            )
          : empty('No lineage recorded yet.'),
      );
    }
    if (node.kind === 'service' || node.kind === 'model') {
      const inputs = dag.edges.filter((e) => e.to === node.id).map((e) => e.from);
      parts.push(
        h('h4', {}, 'Reads'),
        h('ul', { class: 'lineage', 'data-lineage': node.id }, ...inputs.map((i) => h('li', {}, h('code', {}, i)))),
      );
    }
    loading.replaceWith(...parts);
  } catch (e) {
    loading.textContent = (e as Error).message;
    loading.className = 'panel-error';
  }
}
