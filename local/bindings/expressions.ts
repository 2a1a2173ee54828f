/**
 * Binding expressions, with the Functions host's grammar and rules (WebJobs SDK BindingTemplate):
 *
 *   %NAME%           an app setting, resolved once at start-up (a missing one refuses the start)
 *   {name}           a value of the invocation's binding data (trigger metadata, route and query
 *                    values, a JSON body's or message's properties), looked up case-insensitively;
 *                    {a.b.c} walks into objects
 *   {rand-guid}      a new GUID (format after a colon: {rand-guid:N})
 *   {DateTime}       the invocation's UTC time as yyyy-MM-ddTHH-mm-ssK (or {DateTime:yyyy/MM/dd})
 *   {sys.UtcNow} {sys.RandGuid} {sys.MethodName}
 *   {{ and }}        literal braces
 *
 * Binding data wins over the built-ins ({DateTime} is a message's DateTime property if it has
 * one), as in the host. A name with no value fails the invocation with the host's message; so
 * does an object where text is needed (the host would silently write an empty string).
 */
import { randomUUID } from 'node:crypto';
import { formatDotNetDate } from './dotnet-format';

export class BindingExpressionError extends Error {
  override readonly name = 'BindingExpressionError';
}

/** A GUID value, formatted like .NET's Guid.ToString(format). */
export class Guid {
  constructor(readonly value: string = randomUUID()) {}
  format(f: string | undefined): string {
    const v = this.value.toLowerCase();
    switch ((f ?? 'D').toUpperCase()) {
      case 'D':
        return v;
      case 'N':
        return v.replace(/-/g, '');
      case 'B':
        return `{${v}}`;
      case 'P':
        return `(${v})`;
      default:
        throw new BindingExpressionError(`unknown GUID format "${f}": use N, D, B or P`);
    }
  }
}

/** Resolve `%SETTING%` references against app settings, as the host does when it indexes a function. */
export function resolveAppSettings(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new BindingExpressionError(`%${name}% refers to an app setting that is not set`);
    return v;
  });
}

type Token =
  { literal: string } | { parts: string[]; format: string | undefined; builtin: Builtin | undefined; text: string };
type Builtin = 'rand-guid' | 'datetime';

export interface BindingTemplate {
  readonly pattern: string;
  /** The first name of each expression ({a.b} -> "a"). */
  readonly parameterNames: string[];
  readonly hasParameters: boolean;
  bind(data: BindingData): string;
}

/** Binding data of one invocation. `sys` and the invocation time are added by bindingDataFor. */
export type BindingData = Record<string, unknown>;

const IDENTIFIER = /^[\p{L}_][\p{L}\p{Nd}\p{Pc}\p{Mn}\p{Mc}\p{Cf}.-]*$/u;

/** Parse a template once (at start-up: a malformed one refuses the start, naming it). */
export function parseTemplate(pattern: string): BindingTemplate {
  const tokens: Token[] = [];
  const re = /\{\{|\}\}|\{([^{}]*)\}|([^{}]+)|([{}])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(pattern))) {
    if (m[0] === '{{' || m[0] === '}}') tokens.push({ literal: m[0][0]! });
    else if (m[2] !== undefined) tokens.push({ literal: m[2] });
    else if (m[3] !== undefined)
      throw new BindingExpressionError(`"${pattern}": unbalanced "${m[3]}" (write {{ or }} for a literal brace)`);
    else tokens.push(expressionToken(m[1]!, pattern));
  }
  const parameterNames = tokens.flatMap((t) => ('parts' in t ? [t.parts[0]!] : []));
  return {
    pattern,
    parameterNames,
    hasParameters: parameterNames.length > 0,
    bind(data) {
      return tokens.map((t) => ('literal' in t ? t.literal : evaluate(t, data))).join('');
    },
  };
}

function expressionToken(expr: string, pattern: string): Token {
  if (!expr) throw new BindingExpressionError(`"${pattern}": an empty {} expression`);
  let name = expr;
  let format: string | undefined;
  const colon = expr.indexOf(':');
  if (colon > 0) {
    format = expr.slice(colon + 1) || undefined;
    name = expr.slice(0, colon);
  }
  const lower = name.toLowerCase();
  const builtin: Builtin | undefined =
    lower === 'rand-guid' ? 'rand-guid' : lower === 'datetime' ? 'datetime' : undefined;
  if (!IDENTIFIER.test(name))
    throw new BindingExpressionError(
      `"${pattern}": {${expr}} is not a valid expression (names are letters, digits, _ . and -)`,
    );
  const parts = name.split('.');
  if (!builtin && parts[0]!.includes('-'))
    throw new BindingExpressionError(`"${pattern}": the parameter name '${parts[0]}' is invalid`);
  if (parts.some((p) => !p.trim())) throw new BindingExpressionError(`"${pattern}": {${expr}} has an empty part`);
  return { parts, format, builtin, text: expr };
}

/** Case-insensitive own property of a plain object. */
function property(o: unknown, name: string): { found: boolean; value?: unknown } {
  if (o === null || typeof o !== 'object') return { found: false };
  if (Object.prototype.hasOwnProperty.call(o, name))
    return { found: true, value: (o as Record<string, unknown>)[name] };
  const lower = name.toLowerCase();
  for (const k of Object.keys(o))
    if (k.toLowerCase() === lower) return { found: true, value: (o as Record<string, unknown>)[k] };
  return { found: false };
}

function evaluate(t: Extract<Token, { parts: string[] }>, data: BindingData): string {
  const head = property(data, t.parts[0]!);
  let value: unknown;
  if (head.found) {
    value = head.value;
    for (const part of t.parts.slice(1)) {
      const next = property(value, part);
      if (!next.found)
        throw new BindingExpressionError(`Error while accessing '${part}' in {${t.text}}: property doesn't exist.`);
      value = next.value;
    }
  } else if (t.builtin === 'rand-guid') {
    value = new Guid();
  } else if (t.builtin === 'datetime') {
    value = sysOf(data).UtcNow;
  } else {
    throw new BindingExpressionError(`No value for named parameter '${t.parts[0]}'.`);
  }
  return toText(value, t.format, t.text);
}

function sysOf(data: BindingData): { UtcNow: Date } {
  const sys = property(data, 'sys').value as { UtcNow?: unknown } | undefined;
  return { UtcNow: sys?.UtcNow instanceof Date ? sys.UtcNow : new Date() };
}

/** A value as binding text (the host's ConvertParameterValueToString). */
function toText(value: unknown, format: string | undefined, expr: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Date) return formatDotNetDate(value, format ?? 'yyyy-MM-ddTHH-mm-ssK');
  if (value instanceof Guid) return value.format(format);
  if (value === null || value === undefined)
    throw new BindingExpressionError(`{${expr}} has no value (it is ${value === null ? 'null' : 'missing'})`);
  throw new BindingExpressionError(
    `{${expr}} is an ${Array.isArray(value) ? 'array' : 'object'}; a binding expression needs a text, number or date`,
  );
}
