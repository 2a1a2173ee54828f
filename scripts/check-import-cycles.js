#!/usr/bin/env node
/**
 * No import circles: every module of the app (functions, orchestrations, shared, local, cli,
 * bench, scripts) must be reachable from its importers without coming back to itself, so a
 * folder can be read, tested and moved from the bottom up. Imports are resolved by the
 * TypeScript compiler the project already builds with (its module resolution, so `./x` finds
 * `x.ts` or `x/index.ts` exactly as tsc does), type-only imports included: a type circle is still
 * a circle between two concepts. Written here rather than taken from madge, whose TypeScript
 * support needs its own parser stack and configuration for what these 60 lines do with tsc.
 *
 *   node scripts/check-import-cycles.js [tsconfig.json]    exit 1 and print every circle found
 */
'use strict';
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const configPath = path.join(root, process.argv[2] ?? 'tsconfig.json');
const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root);
const files = parsed.fileNames.filter((f) => !f.endsWith('.d.ts'));
const known = new Set(files.map((f) => path.resolve(f)));

/** Module specifiers of a file: imports, re-exports and dynamic import('...') of string literals. */
function specifiers(file) {
  const sf = ts.createSourceFile(file, ts.sys.readFile(file), ts.ScriptTarget.Latest, true);
  const out = [];
  const visit = (node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const graph = new Map();
for (const file of files) {
  const deps = new Set();
  for (const spec of specifiers(file)) {
    if (!spec.startsWith('.')) continue;
    const r = ts.resolveModuleName(spec, file, parsed.options, ts.sys).resolvedModule;
    if (r && known.has(path.resolve(r.resolvedFileName))) deps.add(path.resolve(r.resolvedFileName));
  }
  graph.set(path.resolve(file), [...deps]);
}

// Tarjan's strongly connected components: every component of more than one module is a circle.
let index = 0;
const stack = [];
const state = new Map();
const circles = [];
function connect(v) {
  const s = { index, low: index, onStack: true };
  index++;
  state.set(v, s);
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    const t = state.get(w);
    if (!t) {
      connect(w);
      s.low = Math.min(s.low, state.get(w).low);
    } else if (t.onStack) s.low = Math.min(s.low, t.index);
  }
  if (s.low === s.index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(path.relative(root, w));
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.sort());
  }
}
for (const v of graph.keys()) if (!state.has(v)) connect(v);

if (circles.length) {
  console.error(`${circles.length} import circle(s): each group imports itself through the others`);
  for (const c of circles) console.error(`  ${c.join(' <-> ')}`);
  process.exit(1);
}
console.log(`no import circles in ${graph.size} modules`);
