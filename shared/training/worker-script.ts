/**
 * Starting a worker thread from a module of this package, wherever the code runs from:
 *  - compiled (dist/, `npm start`, Azure): the sibling `<name>.js` next to the caller;
 *  - from TypeScript sources (vitest, which transforms .ts itself but whose transform does
 *    not reach worker threads): a small bootstrap registers a `.ts` loader built on the
 *    project's own `typescript` (a dev dependency, so only ever used where it is installed)
 *    and requires `<name>.ts`, so a test always runs the current sources, never a stale
 *    dist/ build. The transpiled files are cached in the OS temp folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

function tsBootstrap(tsFile: string): string {
  // Transpiled output is cached on disk by (path, size, mtime), so a test run loads the
  // TypeScript compiler (~0.6 s) and transpiles only for files that changed.
  return `
const { createRequire } = require('node:module');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const file = ${JSON.stringify(tsFile)};
const cacheDir = path.join(os.tmpdir(), 'strata-worker-ts-cache');
let ts;
require.extensions['.ts'] = function (m, filename) {
  const st = fs.statSync(filename);
  const key = crypto.createHash('sha1').update(filename + ':' + st.size + ':' + st.mtimeMs).digest('hex');
  const cached = path.join(cacheDir, key + '.js');
  let code;
  try { code = fs.readFileSync(cached, 'utf8'); } catch {
    ts ??= createRequire(file)('typescript');
    code = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
    }).outputText;
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = cached + '.' + process.pid + '.' + Math.random().toString(36).slice(2);
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  }
  m._compile(code, filename);
};
require(file);
`;
}

/** Start `<dir>/<name>.js`, or `<dir>/<name>.ts` through the TypeScript bootstrap. */
export function startWorker(dir: string, name: string, options: WorkerOptions = {}): Worker {
  const js = path.join(dir, `${name}.js`);
  if (fs.existsSync(js)) return new Worker(js, options);
  const ts = path.join(dir, `${name}.ts`);
  if (fs.existsSync(ts)) return new Worker(tsBootstrap(ts), { ...options, eval: true });
  throw new Error(
    `worker script ${name} not found in ${dir} (looked for ${name}.js and ${name}.ts); run npm run build`,
  );
}
