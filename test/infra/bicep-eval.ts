/**
 * Evaluates the deployment read by ./bicep.ts for one set of parameter values, the way ARM
 * would as far as values known before deployment go: literals, params, vars, ternaries,
 * operators, loops, lambdas and the pure functions infra/ uses (union, concat, empty,
 * toObject, ...). Whatever only exists once Azure runs the deployment (a module's outputs,
 * `resourceGroup()`, `listKeys(...)`) stays an `Opaque` value that remembers where it comes
 * from (`ref`: the AVM module and output, or the function), so a check can say "this setting
 * is the identity module's clientId" or "this value calls listKeys".
 *
 * An unknown name, a function outside the list below or the output of a module that this
 * parameter set does not deploy is an error: a typo fails the test instead of evaluating to
 * nothing.
 */
import { Declaration, Expr, Instance, ModuleCall, declaration, output as outputOf, prop, calleeName } from './bicep';

export class Opaque {
  constructor(
    readonly expr: Expr,
    readonly instance: Instance,
    /** `br/public:avm/res/...:x.y.z#outputName`, `call:listKeys`, `resource:Microsoft.Web/sites@...`, ... */
    readonly ref: string,
  ) {}
}

export class Lambda {
  constructor(
    readonly params: string[],
    readonly body: Expr,
    readonly scope: Scope,
  ) {}
}

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value } | Opaque | Lambda;

export interface Scope {
  instance: Instance;
  /** Param values of this instance (main: the parameter set; a module: its caller's arguments). */
  params: Record<string, Value>;
  /** Loop and lambda variables. */
  env: Map<string, Value>;
}

export class EvalError extends Error {}

const RUNTIME_FUNCTIONS = new Set([
  'resourceGroup',
  'subscription',
  'tenant',
  'deployment',
  'environment',
  'uniqueString',
  'guid',
  'newGuid',
  'reference',
  'resourceId',
  'subscriptionResourceId',
  'extensionResourceId',
  'utcNow',
]);

export const isOpaque = (v: Value | undefined): v is Opaque => v instanceof Opaque;
const isPlainObject = (v: Value | undefined): v is { [key: string]: Value } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Opaque) && !(v instanceof Lambda);

function where(e: Expr, scope: Scope): string {
  return `${scope.instance.file.file}:${e.line}`;
}

function fail(e: Expr, scope: Scope, message: string): never {
  throw new EvalError(`${where(e, scope)}: ${message}`);
}

/** The scope a deployed module's body is evaluated in (its params bound), or undefined when the set skips it. */
export interface DeployedModule {
  call: ModuleCall;
  /** The module's params as evaluated (one per loop iteration for `[for ...]` modules). */
  params: { [key: string]: Value };
  /** For local modules: the scope of the module file. */
  scope?: Scope;
  /** The scope the module declaration is in. */
  parent: Scope;
}

function moduleBodies(call: ModuleCall, scope: Scope): Array<{ body: Expr; scope: Scope }> {
  const b = call.decl.body;
  if (b.kind === 'if') {
    const c = evaluate(b.cond, scope);
    if (typeof c !== 'boolean') fail(b.cond, scope, 'a module condition must be known before deployment');
    return c ? [{ body: b.body, scope }] : [];
  }
  if (b.kind === 'for') {
    const src = evaluate(b.source, scope);
    if (!Array.isArray(src)) fail(b.source, scope, 'a module loop must run over an array known before deployment');
    return src.map((item, i) => {
      const env = new Map(scope.env);
      env.set(b.item, item);
      if (b.index) env.set(b.index, i);
      const body = b.body.kind === 'if' ? b.body.body : b.body;
      return { body, scope: { ...scope, env } };
    });
  }
  return [{ body: b, scope }];
}

/** Every module this scope deploys (not recursive), with evaluated params. */
export function deployedModules(scope: Scope): DeployedModule[] {
  const out: DeployedModule[] = [];
  for (const call of scope.instance.modules) {
    for (const { body, scope: s } of moduleBodies(call, scope)) {
      const raw = prop(body, 'params');
      const params = raw ? evaluate(raw, s) : {};
      if (!isPlainObject(params)) fail(call.decl.body, s, `params of module ${call.decl.name} must be an object`);
      out.push({
        call,
        params,
        parent: scope,
        scope: call.local ? { instance: call.local, params, env: new Map() } : undefined,
      });
    }
  }
  return out;
}

/** Every module of the whole deployment (main and local modules, depth first). */
export function allDeployedModules(root: Scope): DeployedModule[] {
  const out: DeployedModule[] = [];
  const visit = (s: Scope) => {
    for (const m of deployedModules(s)) {
      out.push(m);
      if (m.scope) visit(m.scope);
    }
  };
  visit(root);
  return out;
}

function moduleOutput(call: ModuleCall, output: string, e: Expr, scope: Scope): Value {
  const root: Scope = { ...scope, env: new Map() };
  const bodies = moduleBodies(call, root);
  if (!bodies.length)
    fail(e, scope, `module ${call.decl.name} is not deployed with these parameters, but its output ${output} is used`);
  if (!call.local) return new Opaque(e, scope.instance, `${call.target}#${output}`);
  const d = outputOf(call.local.file, output);
  if (!d) fail(e, scope, `module ${call.decl.name} has no output ${output}`);
  const { body, scope: s } = bodies[0]!;
  const raw = prop(body, 'params');
  const params = raw ? evaluate(raw, s) : {};
  if (!isPlainObject(params)) fail(e, scope, `params of module ${call.decl.name} must be an object`);
  return evaluate(d!.value, { instance: call.local, params, env: new Map() });
}

/** `mod.outputs.x` or `mods[i].outputs.x`: the module call and the output name. */
function moduleOutputRef(e: Expr, scope: Scope): { call: ModuleCall; output: string } | undefined {
  if (e.kind !== 'member' || e.object.kind !== 'member' || e.object.name !== 'outputs') return undefined;
  let root = e.object.object;
  if (root.kind === 'index') root = root.object;
  if (root.kind !== 'ident') return undefined;
  const call = scope.instance.modules.find((m) => m.decl.name === (root as { name: string }).name);
  return call ? { call, output: e.name } : undefined;
}

function param(d: Extract<Declaration, { kind: 'param' }>, e: Expr, scope: Scope): Value {
  // A secure value is never known here, and must keep its provenance wherever it goes.
  if (d.decorators.some((x) => x.name === 'secure')) return new Opaque(e, scope.instance, `secure-param:${d.name}`);
  if (Object.prototype.hasOwnProperty.call(scope.params, d.name)) return scope.params[d.name]!;
  if (d.default) return evaluate(d.default, { ...scope, env: new Map() });
  return fail(e, scope, `param ${d.name} has no value and no default`);
}

function str(v: Value): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function call(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
  const name = calleeName(e)!;
  if (name.startsWith('list') || RUNTIME_FUNCTIONS.has(name)) return new Opaque(e, scope.instance, `call:${name}`);
  const args = e.args.map((a) => evaluate(a, scope));
  const opaque = args.find(isOpaque);
  const concrete = () => {
    if (opaque) throw new OpaqueArgument(opaque);
  };
  try {
    switch (name) {
      case 'union': {
        concrete();
        if (args.every(Array.isArray)) return [...new Set(args.flat())];
        if (!args.every(isPlainObject)) fail(e, scope, 'union() of objects or of arrays');
        return Object.assign({}, ...args);
      }
      case 'concat':
        concrete();
        if (args.every(Array.isArray)) return args.flat();
        return args.map((a) => str(a) ?? fail(e, scope, 'concat() of strings or arrays')).join('');
      case 'empty': {
        const v = args[0];
        // A resource id output of a module is never empty; anything else unknown stays unknown.
        if (isOpaque(v)) return /#\w*Ids?(\[\])?$/.test(v.ref) ? false : new Opaque(e, scope.instance, 'call:empty');
        return (
          v === null ||
          v === '' ||
          (Array.isArray(v) && v.length === 0) ||
          (isPlainObject(v) && Object.keys(v).length === 0)
        );
      }
      case 'string':
        concrete();
        return str(args[0]!) ?? JSON.stringify(args[0]);
      case 'toLower':
        concrete();
        return (str(args[0]!) ?? fail(e, scope, 'toLower() of a string')).toLowerCase();
      case 'take': {
        concrete();
        const n = args[1] as number;
        const v = args[0]!;
        return Array.isArray(v) ? v.slice(0, n) : (str(v) ?? fail(e, scope, 'take() of a string or array')).slice(0, n);
      }
      case 'replace':
        concrete();
        return (args[0] as string).split(args[1] as string).join(args[2] as string);
      case 'length': {
        concrete();
        const v = args[0]!;
        return Array.isArray(v) ? v.length : isPlainObject(v) ? Object.keys(v).length : (str(v) ?? '').length;
      }
      case 'contains': {
        concrete();
        const [c, item] = args;
        if (Array.isArray(c)) return c.includes(item!);
        if (isPlainObject(c)) return Object.prototype.hasOwnProperty.call(c, item as string);
        return (c as string).includes(item as string);
      }
      case 'toObject': {
        concrete();
        const [arr, keyFn, valueFn] = args;
        if (!Array.isArray(arr) || !(keyFn instanceof Lambda))
          fail(e, scope, 'toObject(array, key lambda[, value lambda])');
        const out: { [key: string]: Value } = {};
        for (const item of arr) {
          const k = str(apply(keyFn, [item], e)) ?? fail(e, scope, 'toObject() keys must be strings');
          out[k] = valueFn instanceof Lambda ? apply(valueFn, [item], e) : item;
        }
        return out;
      }
      default:
        return fail(
          e,
          scope,
          `function ${name}() is not known to the test evaluator (extend test/infra/bicep-eval.ts)`,
        );
    }
  } catch (x) {
    if (x instanceof OpaqueArgument) return new Opaque(e, scope.instance, `call:${name}`);
    throw x;
  }
}

class OpaqueArgument extends Error {
  constructor(readonly value: Opaque) {
    super('opaque argument');
  }
}

function apply(f: Lambda, args: Value[], at: Expr): Value {
  if (args.length !== f.params.length) throw new EvalError(`${at.line}: lambda takes ${f.params.length} argument(s)`);
  const env = new Map(f.scope.env);
  f.params.forEach((p, i) => env.set(p, args[i]!));
  return evaluate(f.body, { ...f.scope, env });
}

function binary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope): Value {
  const l = evaluate(e.left, scope);
  if (e.op === '&&' && l === false) return false;
  if (e.op === '||' && l === true) return true;
  if (e.op === '??' && l !== null && !isOpaque(l)) return l;
  const r = evaluate(e.right, scope);
  if (isOpaque(l) || isOpaque(r)) return new Opaque(e, scope.instance, `op:${e.op}`);
  switch (e.op) {
    case '==':
      return JSON.stringify(l) === JSON.stringify(r);
    case '!=':
      return JSON.stringify(l) !== JSON.stringify(r);
    case '&&':
    case '||':
      return r;
    case '??':
      return r;
    case '<':
      return (l as number) < (r as number);
    case '<=':
      return (l as number) <= (r as number);
    case '>':
      return (l as number) > (r as number);
    case '>=':
      return (l as number) >= (r as number);
    case '+':
      return (l as number) + (r as number);
    case '-':
      return (l as number) - (r as number);
    case '*':
      return (l as number) * (r as number);
    case '/':
      return Math.trunc((l as number) / (r as number));
    case '%':
      return (l as number) % (r as number);
    default:
      return fail(e, scope, `operator ${e.op}`);
  }
}

export function evaluate(e: Expr, scope: Scope): Value {
  switch (e.kind) {
    case 'string': {
      const parts = e.parts.map((p) => (typeof p === 'string' ? p : evaluate(p, scope)));
      if (parts.some((p) => str(p) === undefined)) return new Opaque(e, scope.instance, 'string');
      return parts.map((p) => str(p)!).join('');
    }
    case 'int':
      return e.value;
    case 'bool':
      return e.value;
    case 'null':
      return null;
    case 'ident': {
      if (scope.env.has(e.name)) return scope.env.get(e.name)!;
      const d = declaration(scope.instance.file, e.name);
      if (!d) return fail(e, scope, `unknown name ${e.name}`);
      if (d.kind === 'var') return evaluate(d.value, { ...scope, env: new Map() });
      if (d.kind === 'param') return param(d, e, scope);
      if (d.kind === 'resource') return new Opaque(e, scope.instance, `resource:${d.type}`);
      if (d.kind === 'module') return new Opaque(e, scope.instance, `module:${d.name}`);
      return fail(e, scope, `${e.name} is not a value`);
    }
    case 'member': {
      const out = moduleOutputRef(e, scope);
      if (out) return moduleOutput(out.call, out.output, e, scope);
      const o = evaluate(e.object, scope);
      if (isOpaque(o)) return new Opaque(e, scope.instance, `${o.ref}.${e.name}`);
      if (o === null && e.safe) return null;
      if (isPlainObject(o)) return Object.prototype.hasOwnProperty.call(o, e.name) ? o[e.name]! : null;
      return fail(e, scope, `.${e.name} of a non-object`);
    }
    case 'index': {
      const o = evaluate(e.object, scope);
      const i = evaluate(e.index, scope);
      if (isOpaque(o) || isOpaque(i)) return new Opaque(e, scope.instance, isOpaque(o) ? `${o.ref}[]` : 'index');
      if (o === null && e.safe) return null;
      if (Array.isArray(o) && typeof i === 'number')
        return o[i] ?? (e.safe ? null : fail(e, scope, `index ${i} out of range`));
      if (isPlainObject(o) && typeof i === 'string') return o[i] ?? null;
      return fail(e, scope, 'bad index');
    }
    case 'call':
      return call(e, scope);
    case 'object': {
      const out: { [key: string]: Value } = {};
      for (const p of e.props) out[p.key] = evaluate(p.value, scope);
      return out;
    }
    case 'array':
      return e.items.map((i) => evaluate(i, scope));
    case 'for': {
      const src = evaluate(e.source, scope);
      if (!Array.isArray(src)) return new Opaque(e, scope.instance, 'for');
      return src.map((item, i) => {
        const env = new Map(scope.env);
        env.set(e.item, item);
        if (e.index) env.set(e.index, i);
        return evaluate(e.body.kind === 'if' ? e.body.body : e.body, { ...scope, env });
      });
    }
    case 'ternary': {
      const c = evaluate(e.cond, scope);
      if (typeof c === 'boolean') return evaluate(c ? e.then : e.else, scope);
      return new Opaque(e, scope.instance, 'ternary');
    }
    case 'binary':
      return binary(e, scope);
    case 'unary': {
      const v = evaluate(e.operand, scope);
      if (isOpaque(v)) return new Opaque(e, scope.instance, `op:${e.op}`);
      if (e.op === '!') return !v;
      return -(v as number);
    }
    case 'lambda':
      return new Lambda(e.params, e.body, scope);
    case 'if':
      return fail(e, scope, '`if` only heads a resource or module body');
  }
}

/** Every Opaque value inside a value (depth first). */
export function* opaques(v: Value): Generator<Opaque> {
  if (v instanceof Opaque) yield v;
  else if (Array.isArray(v)) for (const x of v) yield* opaques(x);
  else if (isPlainObject(v)) for (const x of Object.values(v)) yield* opaques(x);
}

export { isPlainObject };
