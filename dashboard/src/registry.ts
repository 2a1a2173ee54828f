/**
 * Pages and panels register themselves. Each file in src/panels/ is imported by the build
 * (scripts/build-dashboard.mjs makes the `strata:panels` module list them), so adding a panel,
 * or a whole page, is adding one file there:
 *
 *   definePage({ id: 'drift', title: 'Drift & quality', order: 25 });
 *   definePanel({ page: 'overview', id: 'alerts', title: 'Open alerts', order: 15,
 *                 async render({ body, api }) { ... api.get('alerts?state=open') ... } });
 *
 * A panel renders into its own element and is rendered again every `refreshMs` (live pages)
 * or when the user presses refresh; a failure shows in the panel, not in the others.
 */
import type { Api } from './api';

export interface PanelContext {
  /** The panel's content element (emptied before each render by the panel itself, if it wants). */
  body: HTMLElement;
  api: Api;
  /** Aborted when the user leaves the page (stop polling, ignore late answers). */
  signal: AbortSignal;
  /** First render, or a refresh of an already rendered panel. */
  refresh: boolean;
  /** Navigate to another page (`#/jobs`). */
  go(page: string): void;
  /** The panel's content width in px (charts size themselves with it: the body is not attached while rendering). */
  width: number;
  /** Render this panel again now (after a control in it changed). */
  rerender(): void;
}

export interface PanelDef {
  page: string;
  id: string;
  title: string;
  /** Lower first. */
  order: number;
  /** Re-render this often while the page is open. */
  refreshMs?: number;
  /** Spans the whole width (else panels flow two per row on wide screens). */
  wide?: boolean;
  render(ctx: PanelContext): Promise<void>;
}

export interface PageDef {
  id: string;
  title: string;
  order: number;
}

const pages = new Map<string, PageDef>();
const panels: PanelDef[] = [];

export function definePage(p: PageDef): void {
  if (pages.has(p.id)) throw new Error(`page "${p.id}" is defined twice`);
  pages.set(p.id, p);
}

export function definePanel(p: PanelDef): void {
  if (panels.some((x) => x.page === p.page && x.id === p.id))
    throw new Error(`panel "${p.page}/${p.id}" is defined twice`);
  panels.push(p);
}

export function allPages(): PageDef[] {
  return [...pages.values()].sort((a, b) => a.order - b.order);
}

export function panelsOf(page: string): PanelDef[] {
  return panels.filter((p) => p.page === page).sort((a, b) => a.order - b.order);
}
