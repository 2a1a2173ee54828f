#!/usr/bin/env node
/**
 * No promise left unawaited: the rule of typescript-eslint's `no-floating-promises`, checked
 * with the TypeScript compiler the project already has (a linter comes with a later issue; this
 * script is the part of it that guards "nothing accepted is lost"). A statement whose value is a
 * promise must await it, return it, hand it on, mark it `void` (deliberately detached, with its
 * own error handling) or handle its rejection (`.catch(...)`, `.then(ok, failed)`); a promise
 * dropped on the floor fails silently, or crashes the host as an unhandled rejection.
 *
 *   node scripts/check-floating-promises.js [tsconfig.test.json]    exit 1 and list every one found
 */
'use strict';
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const configPath = path.join(root, process.argv[2] ?? 'tsconfig.test.json');
const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root);
const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
const checker = program.getTypeChecker();

/** A type with a callable `then` (a union counts when any member is). */
function isThenable(type) {
  if (type.isUnion()) return type.types.some(isThenable);
  const then = type.getProperty('then');
  if (!then) return false;
  const thenType = checker.getTypeOfSymbol(then);
  return thenType.getCallSignatures().length > 0;
}

/** `p.catch(h)`, `p.then(a, b)`, `p.finally(...)` of a handled promise. */
function handlesRejection(expr) {
  if (!ts.isCallExpression(expr) || !ts.isPropertyAccessExpression(expr.expression)) return false;
  const name = expr.expression.name.text;
  if (name === 'catch') return expr.arguments.length >= 1;
  if (name === 'then') return expr.arguments.length >= 2;
  if (name === 'finally') return handlesRejection(expr.expression.expression);
  return false;
}

const found = [];
function visit(node, sf) {
  if (ts.isExpressionStatement(node)) {
    let expr = node.expression;
    while (ts.isParenthesizedExpression(expr)) expr = expr.expression;
    const skip = ts.isVoidExpression(expr) || ts.isAwaitExpression(expr) || handlesRejection(expr) ||
      (ts.isBinaryExpression(expr) && expr.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && expr.operatorToken.kind <= ts.SyntaxKind.LastAssignment);
    if (!skip && isThenable(checker.getTypeAtLocation(expr))) {
      const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      found.push(`${path.relative(root, sf.fileName)}:${line + 1}:${character + 1}  ${node.getText(sf).split('\n')[0].slice(0, 100)}`);
    }
  }
  ts.forEachChild(node, (n) => visit(n, sf));
}

for (const sf of program.getSourceFiles()) {
  if (sf.isDeclarationFile || sf.fileName.includes('node_modules')) continue;
  visit(sf, sf);
}
if (found.length) {
  console.error(`${found.length} promise(s) neither awaited, returned, handled nor marked void:\n  ${found.join('\n  ')}`);
  process.exit(1);
}
