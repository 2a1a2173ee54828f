/**
 * The normalised source text of a transform function, the part of a definition's version that
 * covers user code.
 *
 *   normaliseFunctionSource(fn.toString()) -> a token string
 *
 * Why normalise: the same TypeScript reaches `Function.prototype.toString()` through different
 * compilers (tsc for `npm start` and Azure, oxc under vitest), which print it differently: quotes,
 * `1000` vs `1e3`, semicolons, indentation, comments, and parentheses (tsc keeps the author's,
 * oxc prints only the necessary ones). A version must not change because another tool compiled the
 * code, so we compare tokens, not text: comments and layout are dropped, string and number
 * literals get one spelling, optional punctuation goes (`;` next to `}`, trailing commas,
 * parentheses around a single arrow parameter), and parentheses that operator precedence makes
 * redundant are removed (`(a * b) + c` -> `a * b + c`, while `a - (b - c)` keeps them).
 * Any change a reader would call a change of meaning still changes the result.
 */

const PUNCTUATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '&&=',
  '||=',
  '??=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '**',
  '<<',
  '>>',
];

// After these words a `/` starts a regular expression, and an operator is unary.
const KEYWORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
  'if',
  'for',
  'while',
  'switch',
  'catch',
  'with',
  'const',
  'let',
  'var',
  'function',
  'class',
  'async',
  'export',
  'import',
]);

export function normaliseFunctionSource(src: string): string {
  return withoutRedundantParens(tidy(tokenize(src, 0, false).tokens)).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Tokens

function tokenize(src: string, start: number, stopAtClosingBrace: boolean): { tokens: string[]; end: number } {
  const out: string[] = [];
  let i = start;
  let braces = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = i++;
      while (i < n && src[i] !== c) i += src[i] === '\\' ? 2 : 1;
      i++;
      out.push(canonicalString(src.slice(s, i)));
      continue;
    }
    if (c === '`') {
      i = template(src, i, out);
      continue;
    }
    if (c === '{') braces++;
    if (c === '}') {
      if (stopAtClosingBrace && braces === 0) return { tokens: out, end: i };
      braces--;
    }
    const num = /^(?:0[xXbBoO][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?/.exec(
      src.slice(i, i + 64),
    );
    if (num && (/\d/.test(c) || (c === '.' && /\d/.test(src[i + 1] ?? '')))) {
      out.push(canonicalNumber(num[0]));
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_$\u00a0-\uffff][\w$\u00a0-\uffff]*/.exec(src.slice(i, i + 256));
    if (ident) {
      out.push(ident[0]);
      i += ident[0].length;
      continue;
    }
    if (c === '/' && !endsValue(out[out.length - 1])) {
      const end = scanRegex(src, i);
      out.push(src.slice(i, end));
      i = end;
      continue;
    }
    const p = PUNCTUATORS.find((op) => src.startsWith(op, i)) ?? c;
    out.push(p);
    i += p.length;
  }
  return { tokens: out, end: i };
}

/**
 * A template literal as tokens: "`text${", the expression's own tokens, "}text${", ..., "}text`".
 * Returns the index after the closing backtick.
 */
function template(src: string, start: number, out: string[]): number {
  let i = start + 1;
  let chunk = '`';
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\') {
      chunk += src.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === '`') {
      out.push(`${chunk}\``);
      return i + 1;
    }
    if (c === '$' && src[i + 1] === '{') {
      out.push(`${chunk}\${`);
      const inner = tokenize(src, i + 2, true);
      out.push(...inner.tokens);
      i = inner.end + 1;
      chunk = '}';
      continue;
    }
    chunk += c;
    i++;
  }
  out.push(chunk);
  return i;
}

function scanRegex(src: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) {
      i++;
      break;
    }
    i++;
  }
  while (i < src.length && /[a-z]/i.test(src[i]!)) i++;
  return i;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** A quoted literal as the JSON string of its value: 'a"b' and "a\"b" become the same token. */
function canonicalString(literal: string): string {
  const body = literal.slice(1, -1);
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      value += c;
      continue;
    }
    const e = body[++i] ?? '';
    if (e in SIMPLE_ESCAPES) value += SIMPLE_ESCAPES[e];
    else if (e === 'x') {
      value += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === 'u' && body[i + 1] === '{') {
      const end = body.indexOf('}', i);
      value += String.fromCodePoint(parseInt(body.slice(i + 2, end), 16));
      i = end;
    } else if (e === 'u') {
      value += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (e === '\n') {
      /* line continuation */
    } else value += e;
  }
  return JSON.stringify(value);
}

function canonicalNumber(text: string): string {
  if (text.endsWith('n')) return text.replace(/_/g, '');
  const v = Number(text.replace(/_/g, ''));
  return Number.isNaN(v) ? text : String(v);
}

/** Does this token end an operand (so a following `/` divides and `-` is binary)? */
function endsValue(t: string | undefined): boolean {
  if (t === undefined) return false;
  if (t === ')' || t === ']' || t === '}' || t === '++' || t === '--') return true;
  if (t.startsWith('"') || t.endsWith('`')) return true;
  if (/^[\d.]/.test(t) && t !== '.' && t !== '...') return true;
  if (/^[A-Za-z_$\u00a0-\uffff]/.test(t)) return !KEYWORDS.has(t);
  return t.length > 2 && t.startsWith('/') && t !== '/='; // a regular expression literal
}

function tidy(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    // optional semicolons: at the end, before `}`, after `}` (oxc writes `for (...) {...};`), repeated
    if (t === ';' && (next === undefined || next === '}' || next === ';' || out[out.length - 1] === '}')) continue;
    if (t === ',' && (next === ')' || next === ']' || next === '}')) continue;
    // `(r) => …` and `r => …` are the same function
    if (
      t === '(' &&
      next !== undefined &&
      /^[A-Za-z_$][\w$]*$/.test(next) &&
      tokens[i + 2] === ')' &&
      tokens[i + 3] === '=>'
    ) {
      out.push(next);
      i += 2;
      continue;
    }
    out.push(t);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Redundant parentheses

const BINARY: Record<string, number> = {
  '??': 3,
  '||': 3,
  '&&': 4,
  '|': 5,
  '^': 6,
  '&': 7,
  '==': 8,
  '!=': 8,
  '===': 8,
  '!==': 8,
  '<': 9,
  '<=': 9,
  '>': 9,
  '>=': 9,
  in: 9,
  instanceof: 9,
  '<<': 10,
  '>>': 10,
  '>>>': 10,
  '+': 11,
  '-': 11,
  '*': 12,
  '/': 12,
  '%': 12,
  '**': 13,
};
const ASSIGN = new Set([
  '=',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '**=',
  '<<=',
  '>>=',
  '>>>=',
  '&=',
  '|=',
  '^=',
  '&&=',
  '||=',
  '??=',
]);
const PREFIX = new Set(['!', '~', '+', '-', '++', '--', 'typeof', 'void', 'delete', 'await']);
const UNARY = 14;
const MEMBER = 17;
/** Before these a parenthesised expression sits where any expression but a comma list may stand. */
const OPEN_CONTEXT = new Set([
  '(',
  '[',
  '{',
  ',',
  ';',
  '=>',
  'return',
  'throw',
  'case',
  '...',
  ':',
  '?',
  'else',
  'yield',
]);
const CLOSE_CONTEXT = new Set([')', ']', '}', ',', ';', ':']);

const opensGroup = (t: string) => t === '(' || t === '[' || t === '{' || (t.startsWith('`') && t.endsWith('${'));
const closesGroup = (t: string) =>
  t === ')' || t === ']' || t === '}' || (t.startsWith('}') && t.endsWith('`') && t.length > 1);

interface Inner {
  prec: number;
  comma: boolean;
  nullish: boolean;
  logical: boolean;
  startsUnary: boolean;
  optionalChain: boolean;
  call: boolean;
}

/** Precedence and shape of tokens[from, to) at their own top level. */
function inner(tokens: string[], from: number, to: number): Inner {
  const r: Inner = {
    prec: Infinity,
    comma: false,
    nullish: false,
    logical: false,
    startsUnary: PREFIX.has(tokens[from]!),
    optionalChain: false,
    call: false,
  };
  let depth = 0;
  let prev: string | undefined;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (depth === 0) {
      if (t === ',') r.comma = true;
      else if (ASSIGN.has(t) || t === '=>' || t === 'yield' || t === '...') r.prec = Math.min(r.prec, 1);
      else if (t === '?') r.prec = Math.min(r.prec, 2);
      else if (t === '?.') r.optionalChain = true;
      else if (t === '(' && endsValue(prev)) r.call = true;
      else if (t in BINARY && endsValue(prev)) {
        r.prec = Math.min(r.prec, BINARY[t]!);
        if (t === '??') r.nullish = true;
        if (t === '||' || t === '&&') r.logical = true;
      }
    }
    if (opensGroup(t)) depth++;
    else if (closesGroup(t)) depth--;
    prev = t;
  }
  if (r.prec === Infinity) r.prec = r.startsUnary ? UNARY : tokens[from] === 'new' ? 16 : MEMBER;
  return r;
}

/** Can the parentheses at tokens[open] and tokens[close] go without changing the meaning? */
function redundant(tokens: string[], open: number, close: number): boolean {
  if (close === open + 1) return false;
  const first = tokens[open + 1]!;
  if (first === '{' || first === 'function' || first === 'class' || first === 'async') return false;
  const x = inner(tokens, open + 1, close);
  if (x.comma) return false;
  const mixesNullish = (op: string) => (op === '??' && x.logical) || ((op === '||' || op === '&&') && x.nullish);

  const R = tokens[close + 1];
  if (
    R === '.' ||
    R === '?.' ||
    R === '[' ||
    R === '(' ||
    R === '++' ||
    R === '--' ||
    (R !== undefined && R.startsWith('`'))
  ) {
    if (x.prec < MEMBER || x.optionalChain) return false;
  } else if (R !== undefined && R in BINARY) {
    if (x.prec < BINARY[R]! || (x.prec === BINARY[R] && R === '**') || mixesNullish(R)) return false;
    if (R === '**' && x.startsUnary) return false;
  } else if (R === '?') {
    if (x.prec <= 2) return false;
  } else if (R !== undefined && ASSIGN.has(R)) {
    if (x.prec < MEMBER) return false;
  } else if (R !== undefined && !CLOSE_CONTEXT.has(R) && !R.startsWith('}')) {
    return false;
  }

  const L = tokens[open - 1];
  if (L === undefined || OPEN_CONTEXT.has(L) || ASSIGN.has(L) || L.endsWith('${')) return true;
  if (L in BINARY && endsValue(tokens[open - 2])) {
    return !(x.prec < BINARY[L]! || (x.prec === BINARY[L] && L !== '**') || mixesNullish(L));
  }
  if (PREFIX.has(L)) return x.prec >= UNARY;
  if (L === 'new') return x.prec >= MEMBER && !x.call && !x.optionalChain;
  return false;
}

/** Is the `(` at i a grouping parenthesis (not a call, a parameter list or a statement's head)? */
function isGrouping(tokens: string[], i: number, close: number): boolean {
  const prev = tokens[i - 1];
  if (tokens[close + 1] === '=>') return false; // arrow parameters
  if (prev === undefined) return true;
  if (['if', 'for', 'while', 'switch', 'catch', 'with', 'function', 'async'].includes(prev)) return false;
  if (endsValue(prev)) return false; // a call: f(x), a.b(x), g()(x)
  return true;
}

function withoutRedundantParens(tokens: string[]): string[] {
  let out = tokens;
  // Innermost first, and again after each removal: removing an inner pair can make an outer one necessary.
  for (let guard = 0; guard < 10_000; guard++) {
    const stack: number[] = [];
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < out.length; i++) {
      if (out[i] === '(') stack.push(i);
      else if (out[i] === ')' && stack.length) pairs.push([stack.pop()!, i]);
    }
    const hit = pairs.find(([o, c]) => isGrouping(out, o, c) && redundant(out, o, c));
    if (!hit) return out;
    out = [...out.slice(0, hit[0]), ...out.slice(hit[0] + 1, hit[1]), ...out.slice(hit[1] + 1)];
  }
  return out;
}
