#!/usr/bin/env node
/**
 * Fast build for `npm start`: transpile each TypeScript file of the project to dist/ with the
 * compiler options of tsconfig.json, without type-checking (like tsx or ts-node's transpile-only
 * mode), and only files that changed since their last output. `npm run build` (tsc) and
 * `npm test` type-check everything.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const configPath = path.join(root, 'tsconfig.json');
const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root);
if (parsed.errors.length) {
  console.error(
    ts.formatDiagnostics(parsed.errors, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  );
  process.exit(1);
}
const options = { ...parsed.options, isolatedModules: true, noEmit: false, declaration: false };
const outDir = options.outDir;
let written = 0;
for (const file of parsed.fileNames) {
  if (file.endsWith('.d.ts')) continue;
  const out = path.join(outDir, path.relative(root, file)).replace(/\.tsx?$/, '.js');
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(file).mtimeMs) continue;
  const result = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    compilerOptions: options,
    fileName: file,
    reportDiagnostics: true,
  });
  if (result.diagnostics && result.diagnostics.length) {
    console.error(
      ts.formatDiagnostics(result.diagnostics, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => root,
        getNewLine: () => '\n',
      }),
    );
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    result.outputText.replace(/\/\/# sourceMappingURL=.*$/m, `//# sourceMappingURL=${path.basename(out)}.map`),
  );
  if (result.sourceMapText) fs.writeFileSync(`${out}.map`, result.sourceMapText);
  written++;
}
if (written) console.error(`transpiled ${written} file(s) to ${path.relative(root, outDir)}/`);
