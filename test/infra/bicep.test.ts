/**
 * The Bicep reader and evaluator the infra checks stand on: what they parse, what they
 * compute, and that they refuse what they do not understand instead of skipping it.
 */
import { describe, expect, it } from 'vitest';
import { BicepSyntaxError, literal, parseBicep, prop } from './bicep';
import { evaluate, EvalError, Opaque, Scope, Value } from './bicep-eval';

function scopeOf(src: string, params: Record<string, Value> = {}): Scope {
  return { instance: { file: parseBicep(src), modules: [] }, params, env: new Map() };
}

/** The value of `var name` in `src` under `params`. */
function valueOf(src: string, name: string, params: Record<string, Value> = {}): Value {
  const s = scopeOf(src, params);
  const d = s.instance.file.declarations.find((x) => x.kind === 'var' && x.name === name);
  if (d?.kind !== 'var') throw new Error(`no var ${name}`);
  return evaluate(d.value, s);
}

describe('the Bicep reader', () => {
  it('reads params with decorators, types and defaults', () => {
    const f = parseBicep(
      [
        "@description('Short prefix.')",
        '@minLength(3)',
        'param prefix string',
        '',
        "@allowed([\n  'a'\n  'b'\n])",
        "param mode string = 'a'",
        'param n int?',
      ].join('\n'),
    );
    const [p1, p2, p3] = f.declarations.map((d) => (d.kind === 'param' ? d : undefined));
    expect(p1).toMatchObject({ kind: 'param', name: 'prefix', type: 'string', line: 3 });
    expect(p1?.decorators.map((d) => d.name)).toEqual(['description', 'minLength']);
    expect(literal(p1?.decorators[0]?.args[0])).toBe('Short prefix.');
    expect(literal(p2?.default)).toBe('a');
    expect(p3).toMatchObject({ kind: 'param', name: 'n', type: 'int?' });
  });

  it('reads objects with newline- and comma-separated properties, quoted keys, nested arrays', () => {
    const f = parseBicep(
      ['var o = {', "  a: 1, b: 'x'", "  'c-d': [", '    1', '    2', '  ]', '  e: { f: true }', '}'].join('\n'),
    );
    const d = f.declarations[0];
    const o = d?.kind === 'var' ? d.value : undefined;
    expect(o?.kind === 'object' && o.props.map((p) => p.key)).toEqual(['a', 'b', 'c-d', 'e']);
    expect(literal(prop(o, 'b'))).toBe('x');
  });

  it('reads strings: escapes, interpolation (parsed as expressions), multi-line strings verbatim', () => {
    expect(valueOf("var s = 'it\\'s ${a}-${b.c}'\nvar a = 'x'\nvar b = { c: 2 }", 's')).toBe("it's x-2");
    expect(valueOf("var q = '''\nrequests\n| where name == \"x\"\n'''", 'q')).toBe('requests\n| where name == "x"\n');
  });

  it('reads module bodies with `if` and `for`, and member, index and call chains', () => {
    const f = parseBicep(
      [
        "module m 'br/public:avm/res/x/y:1.2.3' = if (on) {",
        "  name: 'm'",
        '  params: {',
        '    id: other.outputs.ids[0]',
        '  }',
        '}',
        "module n 'x.bicep' = [for (r, i) in rules: {",
        "  name: 'n${i}'",
        '}]',
      ].join('\n'),
    );
    const [m, n] = f.declarations;
    expect(m).toMatchObject({ kind: 'module', name: 'm', path: 'br/public:avm/res/x/y:1.2.3', body: { kind: 'if' } });
    expect(n).toMatchObject({ kind: 'module', body: { kind: 'for', item: 'r', index: 'i' } });
  });

  it('refuses what it does not understand, naming file and line', () => {
    expect(() => parseBicep("param a string\nfunc f() string => 'x'", 'x.bicep')).toThrow(
      new BicepSyntaxError(
        'x.bicep',
        2,
        'the test reader does not handle `func` declarations (extend test/infra/bicep.ts)',
      ),
    );
    expect(() => parseBicep("var s = 'open", 'x.bicep')).toThrow(/x\.bicep:1: unterminated string/);
    expect(() => parseBicep('var o = {\n  a: 1 b: 2\n}', 'x.bicep')).toThrow(
      /x\.bicep:2: expected a newline or \} after property a/,
    );
    expect(() => parseBicep('var t = a ?\n  b : c', 'x.bicep')).toThrow(/x\.bicep:1:/);
  });
});

describe('the Bicep evaluator', () => {
  it('computes ternaries, operators, union, concat, toObject with lambdas, for loops', () => {
    const src = [
      'param plan string',
      'param n int',
      'param items array',
      'param extra array',
      "var flex = plan == 'Flex'",
      "var settings = union({ A: 'a' }, flex ? {} : { B: string(n * 2) })",
      'var names = [for x in items: toLower(x)]',
      "var refs = toObject(items, k => k, k => 'ref:${replace(k, '_', '-')}')",
      'var both = concat([1], empty(extra) ? [] : extra)',
      "var firstOk = extra[?0] ?? 'none'",
    ].join('\n');
    const params = { plan: 'Premium', n: 21, items: ['A_B', 'C'], extra: [] };
    expect(valueOf(src, 'settings', params)).toEqual({ A: 'a', B: '42' });
    expect(valueOf(src, 'settings', { ...params, plan: 'Flex' })).toEqual({ A: 'a' });
    expect(valueOf(src, 'names', params)).toEqual(['a_b', 'c']);
    expect(valueOf(src, 'refs', params)).toEqual({ A_B: 'ref:A-B', C: 'ref:C' });
    expect(valueOf(src, 'both', params)).toEqual([1]);
    expect(valueOf(src, 'both', { ...params, extra: [2] })).toEqual([1, 2]);
    expect(valueOf(src, 'firstOk', params)).toBe('none');
    expect(valueOf(src, 'firstOk', { ...params, extra: [2] })).toBe(2);
  });

  it('keeps what only Azure knows opaque, with where it comes from', () => {
    const src = [
      'param a int',
      'var rg = resourceGroup().location',
      'var k = st.listKeys().keys[0].value',
      "var s = 'x-${uniqueString(a)}'",
      "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: 'x'\n}",
    ].join('\n');
    expect((valueOf(src, 'rg', { a: 1 }) as Opaque).ref).toBe('call:resourceGroup.location');
    expect((valueOf(src, 'k', { a: 1 }) as Opaque).ref).toBe('call:listKeys.keys[].value');
    expect(valueOf(src, 's', { a: 1 })).toBeInstanceOf(Opaque);
  });

  it('fails on an unknown name or function instead of evaluating to nothing', () => {
    expect(() => valueOf('var a = tyop', 'a')).toThrow(EvalError);
    expect(() => valueOf('var a = frobnicate(1)', 'a')).toThrow(/function frobnicate\(\) is not known/);
  });
});
