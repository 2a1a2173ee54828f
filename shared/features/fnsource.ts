/**
 * The normalised source text of a transform function, the part of a definition's version that
 * covers user code.
 *
 *   normaliseFunctionSource(fn.toString()) -> a token string
 *
 * Why normalise: the same TypeScript reaches `Function.prototype.toString()` through different
 * compilers (tsc for `npm start` and Azure, oxc/esbuild under vitest), which print it differently:
 * quotes, `1000` vs `1e3`, semicolons, indentation, comments. A version must not change because the
 * code was compiled by another tool, so we compare tokens, not text: comments and layout are dropped,
 * string and number literals are written in one canonical form, optional punctuation
 * (`;` before `}`, trailing commas, parentheses around a single arrow parameter) is removed.
 * Any change a reader would call a change of meaning still changes the result.
 */

const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
];

// After these tokens a `/` starts a regular expression, not a division.
const KEYWORDS_BEFORE_EXPRESSION = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await']);

export function normaliseFunctionSource(src: string): string {
  return tidy(tokenize(src)).join(' ');
}

function tokenize(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < n && src[i] !== '\n') i++; continue; }
    if (c === '/' && src[i + 1] === '*') { const end = src.indexOf('*/', i + 2); i = end < 0 ? n : end + 2; continue; }
    if (c === '"' || c === "'") {
      const start = i++;
      while (i < n && src[i] !== c) i += src[i] === '\\' ? 2 : 1;
      i++;
      out.push(canonicalString(src.slice(start, i)));
      continue;
    }
    if (c === '`') { const end = scanTemplate(src, i); out.push(src.slice(i, end)); i = end; continue; }
    const num = /^(?:0[xXbBoO][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?/.exec(src.slice(i, i + 64));
    if (num && /[\d.]/.test(c) && !(c === '.' && !/\d/.test(src[i + 1] ?? ''))) {
      out.push(canonicalNumber(num[0]));
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_$\u00a0-\uffff][\w$\u00a0-\uffff]*/.exec(src.slice(i, i + 256));
    if (ident) { out.push(ident[0]); i += ident[0].length; continue; }
    if (c === '/' && startsExpression(out[out.length - 1])) {
      const end = scanRegex(src, i);
      out.push(src.slice(i, end));
      i = end;
      continue;
    }
    const p = PUNCTUATORS.find((op) => src.startsWith(op, i)) ?? c;
    out.push(p);
    i += p.length;
  }
  return out;
}

function startsExpression(prev: string | undefined): boolean {
  if (prev === undefined || KEYWORDS_BEFORE_EXPRESSION.has(prev)) return true;
  if (/^[\w$"'`\u00a0-\uffff]/.test(prev)) return false; // after a value (name, number, string): division
  if (prev.length > 2 && prev.startsWith('/')) return false; // after a regular expression literal
  return prev !== ')' && prev !== ']' && prev !== '}';
}

function scanTemplate(src: string, start: number): number {
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') { i += 2; continue; }
    if (c === '`') return i + 1;
    if (c === '$' && src[i + 1] === '{') {
      let depth = 1;
      i += 2;
      while (i < src.length && depth > 0) {
        const d = src[i];
        if (d === '`') { i = scanTemplate(src, i); continue; }
        if (d === '{') depth++;
        else if (d === '}') depth--;
        i++;
      }
      continue;
    }
    i++;
  }
  return i;
}

function scanRegex(src: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') { i += 2; continue; }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) { i++; break; }
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
    if (c !== '\\') { value += c; continue; }
    const e = body[++i] ?? '';
    if (e in SIMPLE_ESCAPES) value += SIMPLE_ESCAPES[e];
    else if (e === 'x') { value += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; }
    else if (e === 'u' && body[i + 1] === '{') { const end = body.indexOf('}', i); value += String.fromCodePoint(parseInt(body.slice(i + 2, end), 16)); i = end; }
    else if (e === 'u') { value += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16)); i += 4; }
    else if (e === '\n') { /* line continuation */ }
    else value += e;
  }
  return JSON.stringify(value);
}

function canonicalNumber(text: string): string {
  if (text.endsWith('n')) return text.replace(/_/g, '');
  const v = Number(text.replace(/_/g, ''));
  return Number.isNaN(v) ? text : String(v);
}

function tidy(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t === ';' && (next === undefined || next === '}')) continue;
    if (t === ',' && (next === ')' || next === ']' || next === '}')) continue;
    // `(r) => …` and `r => …` are the same function
    if (t === '(' && next !== undefined && /^[A-Za-z_$][\w$]*$/.test(next) && tokens[i + 2] === ')' && tokens[i + 3] === '=>') {
      out.push(next);
      i += 2;
      continue;
    }
    out.push(t);
  }
  return out;
}
