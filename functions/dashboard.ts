/**
 * GET /api/dashboard[/{file}]: the dashboard SPA (built into dist/dashboard/ by `npm run
 * build`), served by the app itself. Anonymous on purpose: the page and its script hold no
 * data; every number it shows comes from the key-protected JSON APIs, and the page asks for
 * the function key (or takes it once from `?code=`, then keeps it in sessionStorage and
 * removes it from the address bar). A reload therefore works without the key in the URL.
 *
 * Why under /api: Azure serves HTTP functions under host.json's routePrefix ("api"); moving
 * the prefix to "" would change every route of the app. The local host also answers
 * /dashboard with a redirect here (see README, "Dashboard").
 */
import path from 'node:path';
import { app } from '@azure/functions';
import { DashboardAssets } from '../shared/dashboard/assets';
import { handled } from './http';

let assets: DashboardAssets | undefined;
const DIST = path.resolve(__dirname, '../dashboard');

export const dashboard = handled(async function dashboard(req) {
  try {
    assets ??= DashboardAssets.load(DIST);
  } catch (e) {
    return { status: 503, jsonBody: { error: (e as Error).message } };
  }
  const file = req.params.file ?? '';
  // The page's relative asset URLs need a trailing slash: /api/dashboard -> /api/dashboard/.
  const url = new URL(req.url);
  if (file === '' && !url.pathname.endsWith('/'))
    return { status: 308, headers: { location: `${url.pathname}/${url.search}` } };
  const r = assets.serve({
    path: file,
    method: req.method,
    ifNoneMatch: req.headers.get('if-none-match'),
    acceptEncoding: req.headers.get('accept-encoding'),
  });
  return { status: r.status, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) };
});

app.http('dashboard', {
  methods: ['GET', 'HEAD'],
  route: 'dashboard/{*file}',
  authLevel: 'anonymous',
  handler: dashboard,
});
