#!/usr/bin/env node
/**
 * Builds the dashboard SPA (dashboard/) into dist/dashboard/ for GET /api/dashboard: esbuild
 * bundles dashboard/src/main.ts with its npm libraries (uPlot, dagre) into one minified,
 * content-hashed script and stylesheet, so the page needs no CDN and works offline, and the
 * hashed names can be cached forever. index.html is written with those names filled in, and
 * manifest.json lists every file for the server (shared/dashboard/assets.ts).
 *
 * Panels register themselves: every file in dashboard/src/panels/ is imported by the virtual
 * module `strata:panels`, so a new panel is one new file and nothing else.
 *
 *   node scripts/build-dashboard.mjs            # called by `npm run build` and `npm start`
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'dashboard');
const out = path.join(root, 'dist', 'dashboard');
const panelsDir = path.join(src, 'src', 'panels');

const panelsPlugin = {
  name: 'strata-panels',
  setup(build) {
    build.onResolve({ filter: /^strata:panels$/ }, () => ({ path: 'panels', namespace: 'strata-panels' }));
    build.onLoad({ filter: /.*/, namespace: 'strata-panels' }, () => {
      const files = fs
        .readdirSync(panelsDir)
        .filter((f) => f.endsWith('.ts'))
        .sort();
      return {
        contents: files.map((f) => `import ${JSON.stringify(`./${f.replace(/\.ts$/, '')}`)};`).join('\n'),
        resolveDir: panelsDir,
        loader: 'ts',
        watchFiles: files.map((f) => path.join(panelsDir, f)),
        watchDirs: [panelsDir],
      };
    });
  },
};

fs.rmSync(out, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: { app: path.join(src, 'src', 'main.ts') },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [panelsPlugin],
});

const outputs = Object.keys(result.metafile.outputs).map((f) =>
  path.relative(out, path.resolve(root, f)).split(path.sep).join('/'),
);
const script = outputs.find((f) => f.endsWith('.js'));
const style = outputs.find((f) => f.endsWith('.css'));
if (!script || !style) throw new Error(`dashboard build produced ${outputs.join(', ')}; expected one .js and one .css`);
const html = fs
  .readFileSync(path.join(src, 'index.html'), 'utf8')
  .replace('%SCRIPT%', script)
  .replace('%STYLE%', style);
fs.writeFileSync(path.join(out, 'index.html'), html);
fs.writeFileSync(
  path.join(out, 'manifest.json'),
  JSON.stringify({ index: 'index.html', files: ['index.html', ...outputs] }, null, 2),
);
const bytes = outputs.reduce((n, f) => n + fs.statSync(path.join(out, f)).size, 0);
console.error(`dashboard: ${outputs.length} assets (${Math.round(bytes / 1024)} KiB) in ${path.relative(root, out)}/`);
