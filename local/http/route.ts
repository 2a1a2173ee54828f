/**
 * Route templates as Azure Functions (ASP.NET) writes them: literal segments, `{name}`,
 * optional `{name?}` (trailing only), typed `{name:int}` / `{name:alpha}` / `{name:guid}` /
 * `{name:bool}` / `{name:long}` / `{name:double}`, and a catch-all `{*rest}`.
 * Matching is case-insensitive on literals, like Azure.
 */
export interface CompiledRoute {
  template: string;
  /** More specific routes sort first (literals before parameters before catch-alls). */
  specificity: number[];
  match(path: string): Record<string, string> | undefined;
  /** The same on a path split once (splitPath) for every route a request is matched against. */
  matchSplit(path: SplitPath): Record<string, string> | undefined;
}

/** A request path's segments, percent-decoded, and lower-cased for literal comparison. */
export interface SplitPath {
  decoded: string[];
  lower: string[];
}

/** Split and decode a path once per request (not once per route tried). */
export function splitPath(path: string): SplitPath {
  const decoded = path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s !== '')
    .map(decodeSegment);
  return { decoded, lower: decoded.map((d) => d.toLowerCase()) };
}

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: Constraint | undefined }
  | { kind: 'catchAll'; name: string };

type Constraint = (v: string) => boolean;

const CONSTRAINTS: Record<string, Constraint> = {
  int: (v) => /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)),
  long: (v) => /^-?\d+$/.test(v),
  double: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  float: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  bool: (v) => /^(true|false)$/i.test(v),
  alpha: (v) => /^[a-z]+$/i.test(v),
  guid: (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v),
};

export class RouteTemplateError extends Error {}

function parseSegment(raw: string, template: string): Segment {
  const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(raw);
  if (!m) {
    if (raw.includes('{') || raw.includes('}'))
      throw new RouteTemplateError(`route "${template}": cannot parse segment "${raw}"`);
    return { kind: 'literal', text: raw.toLowerCase() };
  }
  const [, star, name, constraintName, optional] = m as unknown as [
    string,
    string | undefined,
    string,
    string | undefined,
    string | undefined,
  ];
  if (star) return { kind: 'catchAll', name };
  let constraint: Constraint | undefined;
  if (constraintName) {
    constraint = CONSTRAINTS[constraintName];
    if (!constraint)
      throw new RouteTemplateError(
        `route "${template}": unknown constraint "${constraintName}" (known: ${Object.keys(CONSTRAINTS).join(', ')})`,
      );
  }
  return { kind: 'param', name, optional: Boolean(optional), constraint };
}

export function compileRoute(template: string): CompiledRoute {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s !== '');
  const segments = parts.map((p) => parseSegment(p, template));
  segments.forEach((s, i) => {
    if (s.kind === 'catchAll' && i !== segments.length - 1)
      throw new RouteTemplateError(`route "${template}": a catch-all must be the last segment`);
    if (s.kind === 'param' && s.optional && segments.slice(i + 1).some((x) => !(x.kind === 'param' && x.optional))) {
      throw new RouteTemplateError(`route "${template}": only trailing parameters can be optional`);
    }
  });
  const specificity = segments.map((s) => (s.kind === 'literal' ? 3 : s.kind === 'param' ? (s.constraint ? 2 : 1) : 0));
  const matchSplit = ({ decoded: given, lower }: SplitPath): Record<string, string> | undefined => {
    if (given.length > segments.length && segments[segments.length - 1]?.kind !== 'catchAll') return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const value = given[i];
      if (seg.kind === 'catchAll') {
        params[seg.name] = given.slice(i).join('/');
        return params;
      }
      if (value === undefined) {
        if (seg.kind === 'param' && seg.optional) continue;
        return undefined;
      }
      if (seg.kind === 'literal') {
        if (lower[i] !== seg.text) return undefined;
        continue;
      }
      if (seg.constraint && !seg.constraint(value)) return undefined;
      params[seg.name] = value;
    }
    return params;
  };
  return { template, specificity, matchSplit, match: (path: string) => matchSplit(splitPath(path)) };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Order routes so the most specific template wins, as ASP.NET routing does. */
export function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.specificity.length, b.specificity.length);
  for (let i = 0; i < n; i++) {
    const x = a.specificity[i] ?? -1;
    const y = b.specificity[i] ?? -1;
    if (x !== y) return y - x;
  }
  return 0;
}
