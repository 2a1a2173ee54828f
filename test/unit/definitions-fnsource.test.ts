import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { normaliseFunctionSource as norm } from '../../shared/features/definitions/fnsource';

// The expressions below are compiled twice: by vitest's compiler (this file) and by tsc (the text
// between the markers, transpiled here). `npm start` and Azure run tsc output, tests run vitest's:
// a definition's version must be the same under both.
// --- expressions: start
const expressions = [
  (r: { amount: number }) => r.amount * 1000,
  (r: { page: string }) => (r.page === 'home' ? 'landing' : 'other'),
  (r: any) => {
    // a comment
    const x = r.b ?? 0;
    return x > 1e3 ? `big ${x}` : /^\d+$/.test(String(x)) ? 'digits' : 'small';
  },
  (r: any) => r.user_purchases.spend_7d / Math.max(r.user_clicks.clicks_24h ?? 0, 1),
  function named(r: any) {
    return [r.a, r.b].filter(Boolean).length;
  },
  (r: any) => ({ a: r.a, 'b-c': r.b })['b-c'],
  (r: any) => ({ a: 1, b: 2, 1: 4 }),
  // parentheses tsc keeps and oxc drops
  (r: any) => r.a * r.b + r.c,
  (r: any) => r.a - r.b - r.c,
  (r: any) => r.a,
  (r: any) => {
    const x = r.a + 1;
    return x;
  },
  (r: any) => (r.a ? (r.b ? 1 : 2) : 3),
  (r: any) => (r.a as number) * 2,
  (r: any) => typeof r.a,
  (r: any) => r.f(1) + r.list.length + (1).toFixed(2).length,
  (r: any) => -(-r.a) + +r.b,
  (r: any) => new r.A(),
  (r: any) => `x${r.a + 1}y${r.b}`,
  (r: any) => (r.a ** 2) ** 3 + r.b ** (r.c ** 2),
  (r: any) => r.x in r.o,
  (r: any) => {
    let s = 0;
    for (const x of r.list) {
      s += x;
    }
    return s;
  },
  // parentheses both keep
  (r: any) => r.a - (r.b - r.c),
  (r: any) => !(r.a && r.b),
  (r: any) => (r.a || r.b) ?? r.c,
  (r: any) => ((r.a ? 1 : 2) ? 3 : 4),
  (r: any) => (-r.a) ** 2,
  (r: any) => (r?.a).b,
  (r: any) =>
    (function () {
      return 1;
    })(),
  (r: any) => (r.a, r.b),
  (r: any) => ((r.a + r.b) * (r.c - 1)) / (r.d % 2),
];
// --- expressions: end

function compiledByTsc(): Array<(r: any) => unknown> {
  const self = fs.readFileSync(__filename, 'utf8');
  const block = self.slice(self.indexOf('// --- expressions: start'), self.indexOf('// --- expressions: end'));
  const js = ts.transpileModule(`${block}\nmodule.exports = expressions;`, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
  }).outputText;
  const mod = { exports: [] as Array<(r: any) => unknown> };
  new Function('module', js)(mod);
  return mod.exports;
}

describe('normaliseFunctionSource', () => {
  it('gives the same text for code compiled by tsc and by the test compiler', () => {
    const tsc = compiledByTsc();
    expect(tsc).toHaveLength(expressions.length);
    expressions.forEach((f, i) => {
      expect(norm(tsc[i]!.toString())).toBe(norm(f.toString()));
    });
  });

  it('ignores layout, comments, quote style, number spelling and optional punctuation', () => {
    expect(norm(`(r) => {\n  // why\n  return r.a * 1000;\n}`)).toBe(norm(`r=>{return r.a*1e3}`));
    expect(norm(`(r) => r.s === 'it\\'s'`)).toBe(norm(`(r) => r.s === "it's"`));
    expect(norm(`(r) => [r.a, r.b,]`)).toBe(norm(`(r) => [r.a, r.b]`));
    expect(norm(`(r) => r.a /* inline */ + 1`)).toBe(norm(`(r) => r.a + 1`));
  });

  it('removes only parentheses that precedence makes redundant', () => {
    expect(norm('(r) => (r.a * r.b) + r.c')).toBe(norm('(r) => r.a * r.b + r.c'));
    expect(norm('(r) => ((r.a + r.b)) * r.c')).toBe('r => ( r . a + r . b ) * r . c');
    expect(norm('(r) => r.a - (r.b - r.c)')).toBe('r => r . a - ( r . b - r . c )');
    expect(norm('(r) => (r.a - r.b) - r.c')).toBe('r => r . a - r . b - r . c');
    expect(norm('(r) => r.a ** (r.b ** 2)')).toBe('r => r . a ** r . b ** 2');
    expect(norm('(r) => (r.a ** r.b) ** 2')).toBe('r => ( r . a ** r . b ) ** 2');
    expect(norm('(r) => (r.a || r.b) ?? r.c')).toBe('r => ( r . a || r . b ) ?? r . c');
    expect(norm('(r) => f((r.a), (r.b + 1))')).toBe('r => f ( r . a , r . b + 1 )');
  });

  it('keeps every change of meaning', () => {
    expect(norm(`(r) => (r.a + r.b) * r.c`)).not.toBe(norm(`(r) => r.a + r.b * r.c`));
    expect(norm(`(r) => r.a * 2`)).not.toBe(norm(`(r) => r.a * 3`));
    expect(norm(`(r) => r.a + r.b`)).not.toBe(norm(`(r) => r.ab`));
    expect(norm(`(r) => 'a b'`)).not.toBe(norm(`(r) => 'ab'`));
    expect(norm(`(r) => r.x / 2 / 3`)).not.toBe(norm(`(r) => r.x / 2 * 3`));
    expect(norm(`(r) => /a b/.test(r.s)`)).not.toBe(norm(`(r) => /ab/.test(r.s)`));
    expect(norm('(r) => `a ${r.b} c`')).not.toBe(norm('(r) => `a ${r.b}c`'));
  });
});
