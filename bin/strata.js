#!/usr/bin/env node
/**
 * The `strata` command (package.json bin): brings dist/ up to date from the TypeScript
 * sources when they are here (the same fast transpile `npm start` runs), then runs the CLI.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const transpile = path.join(root, 'scripts', 'transpile.js');
if (fs.existsSync(transpile) && fs.existsSync(path.join(root, 'cli', 'main.ts'))) {
  try {
    require.resolve('typescript', { paths: [root] });
    require(transpile);
  } catch (e) {
    if (e && e.code !== 'MODULE_NOT_FOUND') throw e;
  }
}
// `strata start` (and `demo`, which may start the host) serves the dashboard too: build it as `npm start` does (esbuild, well under a second).
const dashboardBuild = path.join(root, 'scripts', 'build-dashboard.mjs');
if (
  ['start', 'demo'].includes(process.argv[2]) &&
  fs.existsSync(dashboardBuild) &&
  fs.existsSync(path.join(root, 'dashboard'))
) {
  const r = require('node:child_process').spawnSync(process.execPath, [dashboardBuild], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const main = path.join(root, 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  console.error(`strata: ${path.relative(process.cwd(), main)} is missing: run \`npm run build\` first`);
  process.exit(1);
}
require(main).cli();
