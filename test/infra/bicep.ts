/**
 * A small reader for the Bicep that infra/ is written in, so tests can check the templates on
 * machines where the Bicep compiler cannot be installed. It is a tokenizer and a
 * recursive-descent parser for the subset infra/ uses (declarations, decorators, object and
 * array literals, strings with interpolation, member/index/call chains, ternaries, binary
 * operators, `for` and `if` bodies, lambdas); anything outside that subset is a parse error
 * with the line, never silently skipped, so a template that outgrows the reader fails its test
 * instead of passing unread. It checks structure, not types: `bicep build` does that (README).
 *
 * Newlines end declarations and separate object properties and array items, as in Bicep;
 * inside parentheses they are ignored, so a long expression is wrapped in `( ... )`.
 */
import fs from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------- tokens

type TokenKind = 'ident' | 'string' | 'int' | 'punct' | 'newline' | 'eof';

interface Token {
  kind: TokenKind;
  /** ident name, punctuation text, or integer text; for strings see `parts`. */
  text: string;
  /** A string's literal pieces and interpolated source slices, alternating: [lit, src, lit, ...]. */
  parts?: string[];
  line: number;
}

const PUNCT = [
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '.?',
  '::',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ':',
  '.',
  '?',
  '!',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '@',
];

export class BicepSyntaxError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

function tokenize(src: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (m: string): never => {
    throw new BicepSyntaxError(file, line, m);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      out.push({ kind: 'newline', text: '\n', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment');
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
    } else if (src.startsWith("'''", i)) {
      // Multi-line string: no escapes, no interpolation.
      const end = src.indexOf("'''", i + 3);
      if (end < 0) fail("unterminated ''' string");
      const body = src.slice(i + 3, end).replace(/^\r?\n/, '');
      out.push({ kind: 'string', text: body, parts: [body], line });
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 3;
    } else if (c === "'") {
      const startLine = line;
      const parts: string[] = [];
      let lit = '';
      i++;
      for (;;) {
        if (i >= src.length || src[i] === '\n') fail('unterminated string');
        const d = src[i]!;
        if (d === "'") {
          i++;
          break;
        }
        if (d === '\\') {
          const e = src[i + 1];
          const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };
          if (e === undefined || !(e in map)) fail(`unknown escape \\${e ?? ''}`);
          lit += map[e!];
          i += 2;
        } else if (d === '$' && src[i + 1] === '{') {
          // Interpolation: find the matching brace, skipping nested strings and braces.
          let depth = 1;
          let k = i + 2;
          while (depth > 0) {
            if (k >= src.length) fail('unterminated ${ in string');
            const ch = src[k]!;
            if (ch === '{') depth++;
            else if (ch === '}') depth--;
            else if (ch === "'") {
              k++;
              while (k < src.length && src[k] !== "'") k += src[k] === '\\' ? 2 : 1;
            }
            k++;
          }
          parts.push(lit, src.slice(i + 2, k - 1));
          lit = '';
          i = k;
        } else {
          lit += d;
          i++;
        }
      }
      parts.push(lit);
      out.push({ kind: 'string', text: parts.length === 1 ? lit : '', parts, line: startLine });
    } else if (/[0-9]/.test(c)) {
      let k = i;
      while (k < src.length && /[0-9]/.test(src[k]!)) k++;
      out.push({ kind: 'int', text: src.slice(i, k), line });
      i = k;
    } else if (/[A-Za-z_]/.test(c)) {
      let k = i;
      while (k < src.length && /[A-Za-z0-9_]/.test(src[k]!)) k++;
      out.push({ kind: 'ident', text: src.slice(i, k), line });
      i = k;
    } else {
      const p = PUNCT.find((q) => src.startsWith(q, i));
      if (!p) fail(`unexpected character ${JSON.stringify(c)}`);
      out.push({ kind: 'punct', text: p!, line });
      i += p!.length;
    }
  }
  out.push({ kind: 'eof', text: '', line });
  return out;
}

// ---------------------------------------------------------------- syntax tree

export type Expr =
  | { kind: 'string'; parts: Array<string | Expr>; line: number }
  | { kind: 'int'; value: number; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'null'; line: number }
  | { kind: 'ident'; name: string; line: number }
  | { kind: 'member'; object: Expr; name: string; safe: boolean; line: number }
  | { kind: 'index'; object: Expr; index: Expr; safe: boolean; line: number }
  | { kind: 'call'; callee: Expr; args: Expr[]; line: number }
  | { kind: 'object'; props: Array<{ key: string; value: Expr; line: number }>; line: number }
  | { kind: 'array'; items: Expr[]; line: number }
  | { kind: 'for'; item: string; index?: string; source: Expr; body: Expr; line: number }
  | { kind: 'if'; cond: Expr; body: Expr; line: number }
  | { kind: 'ternary'; cond: Expr; then: Expr; else: Expr; line: number }
  | { kind: 'binary'; op: string; left: Expr; right: Expr; line: number }
  | { kind: 'unary'; op: string; operand: Expr; line: number }
  | { kind: 'lambda'; params: string[]; body: Expr; line: number };

export interface Decorator {
  name: string;
  args: Expr[];
}

export type Declaration =
  | { kind: 'targetScope'; value: Expr; line: number }
  | { kind: 'param'; name: string; type: string; default?: Expr; decorators: Decorator[]; line: number }
  | { kind: 'var'; name: string; value: Expr; decorators: Decorator[]; line: number }
  | {
      kind: 'resource';
      name: string;
      type: string;
      existing: boolean;
      body: Expr;
      decorators: Decorator[];
      line: number;
    }
  | { kind: 'module'; name: string; path: string; body: Expr; decorators: Decorator[]; line: number }
  | { kind: 'output'; name: string; type: string; value: Expr; decorators: Decorator[]; line: number };

export interface BicepFile {
  file: string;
  declarations: Declaration[];
}

const BINARY_LEVELS: string[][] = [
  ['??'],
  ['||'],
  ['&&'],
  ['==', '!='],
  ['<', '<=', '>', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

class Parser {
  private pos = 0;
  /** >0 inside parentheses, where newlines are insignificant. */
  private parenDepth = 0;

  constructor(
    private readonly toks: Token[],
    private readonly file: string,
  ) {}

  private fail(message: string, t: Token = this.peek()): never {
    throw new BicepSyntaxError(this.file, t.line, message);
  }

  private peek(offset = 0): Token {
    let p = this.pos;
    let seen = -1;
    for (;;) {
      const t = this.toks[p]!;
      if (!(t.kind === 'newline' && this.parenDepth > 0)) {
        seen++;
        if (seen === offset || t.kind === 'eof') return t;
      }
      p++;
    }
  }

  private next(): Token {
    for (;;) {
      const t = this.toks[this.pos]!;
      if (t.kind !== 'eof') this.pos++;
      if (t.kind === 'newline' && this.parenDepth > 0) continue;
      return t;
    }
  }

  private is(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return (t.kind === 'punct' || t.kind === 'ident') && t.text === text;
  }

  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text || (t.kind !== 'punct' && t.kind !== 'ident'))
      this.fail(`expected ${JSON.stringify(text)}, got ${JSON.stringify(t.text || t.kind)}`, t);
    return t;
  }

  private skipNewlines(): void {
    while (this.toks[this.pos]!.kind === 'newline') this.pos++;
  }

  private ident(): string {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(`expected a name, got ${JSON.stringify(t.text || t.kind)}`, t);
    return t.text;
  }

  private stringLiteral(): string {
    const t = this.next();
    if (t.kind !== 'string' || t.parts!.length !== 1) this.fail('expected a plain string', t);
    return t.parts![0]!;
  }

  private endOfDeclaration(): void {
    const t = this.toks[this.pos]!;
    if (t.kind !== 'newline' && t.kind !== 'eof')
      this.fail(`unexpected ${JSON.stringify(t.text)} after a declaration`, t);
  }

  parseFile(): Declaration[] {
    const decls: Declaration[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.peek().kind === 'eof') return decls;
      const decorators: Decorator[] = [];
      while (this.is('@')) {
        this.next();
        let name = this.ident();
        while (this.is('.')) {
          this.next();
          name = this.ident(); // `@sys.description(...)` is `@description(...)`
        }
        const args = this.is('(') ? this.callArgs() : [];
        decorators.push({ name, args });
        this.skipNewlines();
      }
      const kw = this.next();
      const line = kw.line;
      if (kw.kind !== 'ident') this.fail(`expected a declaration, got ${JSON.stringify(kw.text)}`, kw);
      switch (kw.text) {
        case 'targetScope':
          this.expect('=');
          decls.push({ kind: 'targetScope', value: this.expr(), line });
          break;
        case 'param': {
          const name = this.ident();
          const type = this.typeName();
          const param: Declaration = { kind: 'param', name, type, decorators, line };
          if (this.is('=')) {
            this.next();
            param.default = this.expr();
          }
          decls.push(param);
          break;
        }
        case 'var': {
          const name = this.ident();
          this.expect('=');
          decls.push({ kind: 'var', name, value: this.expr(), decorators, line });
          break;
        }
        case 'resource': {
          const name = this.ident();
          const type = this.stringLiteral();
          const existing = this.is('existing');
          if (existing) this.next();
          this.expect('=');
          decls.push({ kind: 'resource', name, type, existing, body: this.declarationBody(), decorators, line });
          break;
        }
        case 'module': {
          const name = this.ident();
          const p = this.stringLiteral();
          this.expect('=');
          decls.push({ kind: 'module', name, path: p, body: this.declarationBody(), decorators, line });
          break;
        }
        case 'output': {
          const name = this.ident();
          const type = this.typeName();
          this.expect('=');
          decls.push({ kind: 'output', name, type, value: this.expr(), decorators, line });
          break;
        }
        default:
          this.fail(`the test reader does not handle \`${kw.text}\` declarations (extend test/infra/bicep.ts)`, kw);
      }
      this.endOfDeclaration();
    }
  }

  /** `string`, `int`, `bool`, `object`, `array`, optionally `?`-nullable or `[]`. */
  private typeName(): string {
    let t = this.ident();
    if (!['string', 'int', 'bool', 'object', 'array'].includes(t))
      this.fail(`type \`${t}\` is outside the subset the test reader knows`);
    if (this.is('[') && this.is(']', 1)) {
      this.next();
      this.next();
      t += '[]';
    }
    if (this.is('?')) {
      this.next();
      t += '?';
    }
    return t;
  }

  /** The body of a resource or module: `{...}`, `if (c) {...}` or `[for x in y: {...}]`. */
  private declarationBody(): Expr {
    if (this.is('if')) return this.ifExpr();
    return this.primary();
  }

  private ifExpr(): Expr {
    const line = this.expect('if').line;
    this.expect('(');
    this.parenDepth++;
    const cond = this.expr();
    this.parenDepth--;
    this.expect(')');
    return { kind: 'if', cond, body: this.object(), line };
  }

  /** `( item, item, ... )`, newlines insignificant inside. */
  private parenList<T>(item: () => T): T[] {
    this.expect('(');
    this.parenDepth++;
    const items: T[] = [];
    while (!this.is(')')) {
      items.push(item());
      if (!this.is(')')) this.expect(',');
    }
    this.parenDepth--;
    this.expect(')');
    return items;
  }

  private callArgs(): Expr[] {
    return this.parenList(() => this.expr());
  }

  expr(): Expr {
    // Lambda: `x => e` or `(a, b) => e`.
    if (this.peek().kind === 'ident' && this.is('=>', 1)) {
      const line = this.peek().line;
      const p = this.ident();
      this.next();
      return { kind: 'lambda', params: [p], body: this.expr(), line };
    }
    if (this.is('(') && this.lambdaAhead()) {
      const line = this.peek().line;
      const params = this.parenList(() => this.ident());
      this.expect('=>');
      return { kind: 'lambda', params, body: this.expr(), line };
    }
    const cond = this.binary(0);
    if (this.is('?')) {
      this.next();
      const then = this.expr();
      this.expect(':');
      const otherwise = this.expr();
      return { kind: 'ternary', cond, then, else: otherwise, line: cond.line };
    }
    return cond;
  }

  private lambdaAhead(): boolean {
    // `(` ident (`,` ident)* `)` `=>`
    let k = 1;
    for (;;) {
      if (this.peek(k).kind !== 'ident') return false;
      k++;
      if (this.is(')', k)) return this.is('=>', k + 1);
      if (!this.is(',', k)) return false;
      k++;
    }
  }

  private binary(level: number): Expr {
    if (level >= BINARY_LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'punct' || !BINARY_LEVELS[level]!.includes(t.text)) return left;
      this.next();
      const right = this.binary(level + 1);
      left = { kind: 'binary', op: t.text, left, right, line: t.line };
    }
  }

  private unary(): Expr {
    if (this.is('!') || this.is('-')) {
      const t = this.next();
      return { kind: 'unary', op: t.text, operand: this.unary(), line: t.line };
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      // A postfix operator must be on the same line (outside parentheses newlines end expressions).
      const raw = this.toks[this.pos]!;
      if (raw.kind === 'newline' && this.parenDepth === 0) return e;
      if (this.is('.') || this.is('.?')) {
        const safe = this.next().text === '.?';
        e = { kind: 'member', object: e, name: this.ident(), safe, line: e.line };
      } else if (this.is('[')) {
        this.next();
        const safe = this.is('?');
        if (safe) this.next();
        this.parenDepth++;
        const index = this.expr();
        this.parenDepth--;
        this.expect(']');
        e = { kind: 'index', object: e, index, safe, line: e.line };
      } else if (this.is('(') && (e.kind === 'ident' || e.kind === 'member')) {
        e = { kind: 'call', callee: e, args: this.callArgs(), line: e.line };
      } else if (this.is('!') && !this.is('=', 1)) {
        this.next(); // non-null assertion: no runtime meaning
      } else {
        return e;
      }
    }
  }

  private primary(): Expr {
    const t = this.peek();
    if (t.kind === 'string') {
      this.next();
      const parts: Array<string | Expr> = [];
      t.parts!.forEach((p, i) => {
        if (i % 2 === 0) parts.push(p);
        else parts.push(parseExpression(p, this.file, t.line));
      });
      return { kind: 'string', parts, line: t.line };
    }
    if (t.kind === 'int') {
      this.next();
      return { kind: 'int', value: Number(t.text), line: t.line };
    }
    if (t.kind === 'ident') {
      this.next();
      if (t.text === 'true' || t.text === 'false') return { kind: 'bool', value: t.text === 'true', line: t.line };
      if (t.text === 'null') return { kind: 'null', line: t.line };
      return { kind: 'ident', name: t.text, line: t.line };
    }
    if (this.is('(')) {
      this.next();
      this.parenDepth++;
      const e = this.expr();
      this.parenDepth--;
      this.expect(')');
      return e;
    }
    if (this.is('{')) return this.object();
    if (this.is('[')) return this.array();
    return this.fail(`unexpected ${JSON.stringify(t.text || t.kind)} in an expression`);
  }

  /** Objects and arrays switch newlines back on (they separate properties and items). */
  private withNewlines<T>(f: () => T): T {
    const saved = this.parenDepth;
    this.parenDepth = 0;
    try {
      return f();
    } finally {
      this.parenDepth = saved;
    }
  }

  private object(): Expr {
    const line = this.expect('{').line;
    return this.withNewlines(() => {
      const props: Array<{ key: string; value: Expr; line: number }> = [];
      for (;;) {
        this.skipNewlines();
        if (this.is('}')) break;
        const k = this.next();
        let key: string;
        if (k.kind === 'ident') key = k.text;
        else if (k.kind === 'string' && k.parts!.length === 1) key = k.parts![0]!;
        else this.fail('expected a property name', k);
        this.expect(':');
        props.push({ key: key!, value: this.expr(), line: k.line });
        if (this.is(',')) {
          this.next();
          continue;
        }
        const after = this.toks[this.pos]!;
        if (!(after.kind === 'newline' || this.is('}')))
          this.fail(`expected a newline or } after property ${key!}`, after);
      }
      this.expect('}');
      return { kind: 'object' as const, props, line };
    });
  }

  private array(): Expr {
    const line = this.expect('[').line;
    if (this.is('for')) {
      this.next();
      let item: string;
      let index: string | undefined;
      if (this.is('(')) {
        this.next();
        item = this.ident();
        this.expect(',');
        index = this.ident();
        this.expect(')');
      } else {
        item = this.ident();
      }
      this.expect('in');
      const source = this.expr();
      this.expect(':');
      const body = this.is('if') ? this.ifExpr() : this.expr();
      this.skipNewlines();
      this.expect(']');
      return { kind: 'for', item, index, source, body, line };
    }
    return this.withNewlines(() => {
      const items: Expr[] = [];
      for (;;) {
        this.skipNewlines();
        if (this.is(']')) break;
        items.push(this.expr());
        if (this.is(',')) {
          this.next();
          continue;
        }
        const after = this.toks[this.pos]!;
        if (!(after.kind === 'newline' || this.is(']')))
          this.fail('expected a newline or ] after an array item', after);
      }
      this.expect(']');
      return { kind: 'array' as const, items, line };
    });
  }
}

function parseExpression(src: string, file: string, line: number): Expr {
  const toks = tokenize(src, file).map((t) => ({ ...t, line: line + t.line - 1 }));
  const p = new Parser(toks, file);
  const e = p.expr();
  return e;
}

export function parseBicep(src: string, file = '<inline>'): BicepFile {
  return { file, declarations: new Parser(tokenize(src, file), file).parseFile() };
}

export function parseBicepFile(file: string): BicepFile {
  return parseBicep(fs.readFileSync(file, 'utf8'), file);
}

// ---------------------------------------------------------------- helpers over the tree

/** The expressions directly inside `e`. */
function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'string':
      return e.parts.filter((p): p is Expr => typeof p !== 'string');
    case 'member':
      return [e.object];
    case 'index':
      return [e.object, e.index];
    case 'call':
      return [e.callee, ...e.args];
    case 'object':
      return e.props.map((p) => p.value);
    case 'array':
      return e.items;
    case 'for':
      return [e.source, e.body];
    case 'if':
      return [e.cond, e.body];
    case 'ternary':
      return [e.cond, e.then, e.else];
    case 'binary':
      return [e.left, e.right];
    case 'unary':
      return [e.operand];
    case 'lambda':
      return [e.body];
    default:
      return [];
  }
}

/** Every expression inside `e` (itself included), depth first. */
export function* subExpressions(e: Expr): Generator<Expr> {
  yield e;
  for (const c of children(e)) yield* subExpressions(c);
}

/** The value of property `key` of an object literal (the body of an `if` counts as its object). */
export function prop(e: Expr | undefined, key: string): Expr | undefined {
  if (!e) return undefined;
  if (e.kind === 'if') return prop(e.body, key);
  if (e.kind !== 'object') return undefined;
  return e.props.find((p) => p.key === key)?.value;
}

/** The text of a string literal without interpolation, else undefined. */
export function literal(e: Expr | undefined): string | undefined {
  if (e?.kind !== 'string' || e.parts.length !== 1) return undefined;
  return e.parts[0] as string;
}

/** The name of a called function (`listKeys`, `az.resourceGroup` -> `resourceGroup`, `x.listKeys` -> `listKeys`). */
export function calleeName(e: Expr): string | undefined {
  if (e.kind !== 'call') return undefined;
  return e.callee.kind === 'ident' ? e.callee.name : e.callee.kind === 'member' ? e.callee.name : undefined;
}

// ---------------------------------------------------------------- a deployment: main + local modules

export interface ModuleCall {
  /** The file the `module` declaration is in. */
  file: BicepFile;
  decl: Extract<Declaration, { kind: 'module' }>;
  /** `br/public:avm/res/storage/storage-account:0.33.0`, or the resolved path of a local module. */
  target: string;
  /** The parsed local module, when the target is a file of this repo. */
  local?: Instance;
  params: Expr | undefined;
}

/** One parsed file as deployed from its caller: its params are bound to the caller's arguments. */
export interface Instance {
  file: BicepFile;
  /** The module call that deploys this file (undefined for main). */
  caller?: { call: ModuleCall; instance: Instance };
  modules: ModuleCall[];
}

export function loadDeployment(mainFile: string): Instance {
  const cache = new Map<string, BicepFile>();
  const load = (file: string, caller?: Instance['caller']): Instance => {
    let parsed = cache.get(file);
    if (!parsed) cache.set(file, (parsed = parseBicepFile(file)));
    const instance: Instance = { file: parsed, caller, modules: [] };
    for (const d of parsed.declarations) {
      if (d.kind !== 'module') continue;
      const body = d.body.kind === 'if' ? d.body.body : d.body.kind === 'for' ? d.body.body : d.body;
      const isRegistry = /^(br|br\/public|ts):/.test(d.path) || d.path.startsWith('br/');
      const call: ModuleCall = {
        file: parsed,
        decl: d,
        target: isRegistry ? d.path : path.resolve(path.dirname(file), d.path),
        params: prop(body, 'params'),
      };
      if (!isRegistry) call.local = load(call.target, { call, instance });
      instance.modules.push(call);
    }
    return instance;
  };
  return load(path.resolve(mainFile));
}

/** Every module call in the deployment, with the instance it is made from. */
export function allModuleCalls(root: Instance): Array<{ call: ModuleCall; instance: Instance }> {
  const out: Array<{ call: ModuleCall; instance: Instance }> = [];
  const visit = (inst: Instance) => {
    for (const call of inst.modules) {
      out.push({ call, instance: inst });
      if (call.local) visit(call.local);
    }
  };
  visit(root);
  return out;
}

/** The param, var, resource or module called `name` (outputs live in their own namespace: see output()). */
export function declaration(file: BicepFile, name: string): Declaration | undefined {
  return file.declarations.find((d) => d.kind !== 'targetScope' && d.kind !== 'output' && d.name === name);
}

export function output(file: BicepFile, name: string): Extract<Declaration, { kind: 'output' }> | undefined {
  return file.declarations.find(
    (d): d is Extract<Declaration, { kind: 'output' }> => d.kind === 'output' && d.name === name,
  );
}

export interface Reached {
  expr: Expr;
  instance: Instance;
}

/**
 * What an expression can evaluate from, followed across names: a `var` to its value, a `param`
 * of a local module to the argument its caller passes (or its default), `mod.outputs.x` of a
 * local module to that output's expression. Yields every expression reached (with the
 * instance it belongs to), so a check can look for a forbidden call or reference wherever a
 * value really comes from. Outputs of registry (AVM) modules are where it stops.
 */
export function* reach(e: Expr, inst: Instance, seen = new Set<Expr>()): Generator<Reached> {
  for (const sub of subExpressions(e)) {
    if (seen.has(sub)) continue;
    seen.add(sub);
    yield { expr: sub, instance: inst };
    if (sub.kind === 'ident') {
      const d = declaration(inst.file, sub.name);
      if (d?.kind === 'var') yield* reach(d.value, inst, seen);
      if (d?.kind === 'param') {
        const arg = inst.caller ? prop(inst.caller.call.params, sub.name) : undefined;
        if (arg && inst.caller) yield* reach(arg, inst.caller.instance, seen);
        else if (d.default) yield* reach(d.default, inst, seen);
      }
    }
    // `mod.outputs.x` (or `mod!.outputs.x`, `mod.?outputs.x`) of a local module
    if (
      sub.kind === 'member' &&
      sub.object.kind === 'member' &&
      sub.object.name === 'outputs' &&
      sub.object.object.kind === 'ident'
    ) {
      const call = inst.modules.find((m) => m.decl.name === (sub.object as { object: { name: string } }).object.name);
      if (call?.local) {
        const out = output(call.local.file, sub.name);
        if (out) yield* reach(out.value, call.local, seen);
      }
    }
  }
}
