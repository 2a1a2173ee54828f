/**
 * Lays out a DAG with dagre (@dagrejs/dagre: the maintained fork; layered Sugiyama layout,
 * ~30 KB, synchronous — elkjs does more, at ~1.4 MB with a worker) and draws it as SVG: one
 * group per node (a box with a title and two lines of text) and one path per edge, with
 * an arrowhead. Returns the SVG; the caller attaches click handlers by data-node.
 */
import dagre from '@dagrejs/dagre';

export interface LayoutNode {
  id: string;
  kind: string;
  title: string;
  lines: string[];
  /** CSS class for the state (ok, warn, bad, muted). */
  state: string;
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 190;
const H = 62;

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function drawDag(nodes: LayoutNode[], edges: Array<{ from: string; to: string }>): SVGSVGElement {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 70, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: W, height: H });
  for (const e of edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const graph = g.graph();
  const width = Math.ceil(graph.width ?? 400);
  const height = Math.ceil(graph.height ?? 200);

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': 'feature DAG',
    class: 'dag',
  });
  const defs = el('defs', {});
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }));
  defs.appendChild(marker);
  svg.appendChild(defs);

  for (const e of g.edges()) {
    const pts = g.edge(e).points ?? [];
    if (!pts.length) continue;
    const d = pts
      .map((p: { x: number; y: number }, i: number) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`)
      .join(' ');
    svg.appendChild(el('path', { d, class: 'edge', 'marker-end': 'url(#arrow)', 'data-edge': `${e.v}->${e.w}` }));
  }
  for (const n of nodes) {
    const p = g.node(n.id);
    const group = el('g', {
      class: `node ${n.kind} ${n.state}`,
      transform: `translate(${(p.x - W / 2).toFixed(1)} ${(p.y - H / 2).toFixed(1)})`,
      'data-node': n.id,
      tabindex: 0,
      role: 'button',
    });
    group.appendChild(el('rect', { width: W, height: H, rx: 8, ry: 8 }));
    group.appendChild(el('text', { x: 10, y: 18, class: 'title' }, `${n.kind}: ${n.title}`));
    n.lines
      .slice(0, 2)
      .forEach((line, i) => group.appendChild(el('text', { x: 10, y: 36 + i * 15, class: 'line' }, line)));
    svg.appendChild(group);
  }
  return svg;
}
