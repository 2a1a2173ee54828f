/**
 * Indexing, as the Functions host does it before anything runs: every binding of every function
 * is checked against what this host can serve, its `%SETTING%` references are resolved, and its
 * `{...}` templates are parsed. Anything the host cannot carry out refuses the start, naming the
 * function, the binding and its type, so no output is ever silently dropped; all problems are
 * listed at once. Extensions add the types they serve (the Durable engine: orchestration and
 * activity triggers, durable clients), and may name types they register but cannot run (Durable
 * entities): those start with a warning and fail when called.
 */
import type { Binding, RegisteredFunction } from '../functions-core';
import { StartupError } from '../errors';
import { BindingExpressionError, BindingTemplate, parseTemplate, resolveAppSettings } from './expressions';
import { BindingError, SERVICE_OF, storageConnectionFor } from './connection';
import { parseSchedule, ScheduleError } from '../timers/ncrontab';
import { compileRoute, RouteTemplateError } from '../http/route';

export interface BindingKind {
  type: string;
  /** Triggers are always "in". */
  direction: 'in' | 'out';
  /** Properties that must be present. */
  required?: string[];
  /** Properties that are `{...}` templates bound per invocation. */
  templates?: string[];
  /** `connection` names a storage connection setting (checked at start-up). */
  storage?: boolean;
}

/** What the host itself serves; the module that carries each out is named beside it. */
export const HOST_BINDINGS: BindingKind[] = [
  { type: 'httpTrigger', direction: 'in' }, // http/server.ts
  { type: 'http', direction: 'out' },
  { type: 'timerTrigger', direction: 'in', required: ['schedule'] }, // timers/scheduler.ts
  { type: 'warmupTrigger', direction: 'in' }, // host.ts: once, when the host has started
  { type: 'eventHubTrigger', direction: 'in', required: ['eventHubName'] }, // eventhubs/
  { type: 'eventHub', direction: 'out', required: ['eventHubName'] },
  { type: 'blobTrigger', direction: 'in', required: ['path'] }, // blob/trigger.ts (on the host's storage)
  { type: 'blob', direction: 'in', required: ['path'], templates: ['path'], storage: true }, // bindings/storage.ts
  { type: 'blob', direction: 'out', required: ['path'], templates: ['path'], storage: true },
  {
    type: 'table',
    direction: 'in',
    required: ['tableName'],
    templates: ['tableName', 'partitionKey', 'rowKey', 'filter'],
    storage: true,
  },
  {
    type: 'table',
    direction: 'out',
    required: ['tableName'],
    templates: ['tableName', 'partitionKey', 'rowKey'],
    storage: true,
  },
  { type: 'queueTrigger', direction: 'in', required: ['queueName'], storage: true }, // queues/trigger.ts
  { type: 'queue', direction: 'out', required: ['queueName'], templates: ['queueName'], storage: true },
];

export interface BindingCatalog {
  kinds: BindingKind[];
  /** Types that are registered but not run here, with the warning to print (calls fail with a named error). */
  notRun: Record<string, string>;
}

export interface PlannedBinding {
  key: string;
  /** The binding with every `%SETTING%` resolved. */
  binding: Binding;
  templates: Record<string, BindingTemplate>;
}

export interface FunctionPlan {
  fn: RegisteredFunction;
  trigger: Binding;
  inputs: PlannedBinding[];
  outputs: PlannedBinding[];
}

export interface AppPlan {
  functions: Map<string, FunctionPlan>;
  warnings: string[];
}

function resolveAll(b: Binding, env: NodeJS.ProcessEnv): Binding {
  const out: Binding = { ...b };
  for (const [k, v] of Object.entries(b)) if (typeof v === 'string') out[k] = resolveAppSettings(v, env);
  return out;
}

const directionOf = (b: Binding): 'in' | 'out' => (b.direction === 'out' ? 'out' : 'in');

/** Check and resolve every function's bindings; throws StartupError listing each problem. */
export function planApp(
  functions: Iterable<RegisteredFunction>,
  catalog: BindingCatalog,
  env: NodeJS.ProcessEnv = process.env,
): AppPlan {
  const kinds = new Map(catalog.kinds.map((k) => [`${k.type.toLowerCase()}:${k.direction}`, k]));
  const notRun = new Map(Object.entries(catalog.notRun).map(([t, m]) => [t.toLowerCase(), m]));
  const problems: string[] = [];
  const warnings: string[] = [];
  const plans = new Map<string, FunctionPlan>();
  const servedList = [...new Set(catalog.kinds.map((k) => k.type))].join(', ');

  for (const fn of functions) {
    const plan: FunctionPlan = { fn, trigger: fn.trigger, inputs: [], outputs: [] };
    for (const [key, raw] of Object.entries(fn.metadata.bindings)) {
      const where = `function '${fn.name}': binding '${key}' (${raw.type}, ${raw.direction})`;
      const warn = notRun.get(raw.type.toLowerCase());
      if (warn) {
        warnings.push(`function '${fn.name}': ${warn}`);
        continue;
      }
      const kind = kinds.get(`${raw.type.toLowerCase()}:${directionOf(raw)}`);
      if (!kind) {
        problems.push(`${where} is not supported by the local host (it serves ${servedList})`);
        continue;
      }
      if (raw.type === 'blob' && raw.sdkBinding === true) {
        problems.push(
          `${where}: SDK-type blob bindings (sdkBinding: true) are not supported by the local host; bind the blob's content instead`,
        );
        continue;
      }
      const missing = (kind.required ?? []).filter((p) => typeof raw[p] !== 'string' || !(raw[p] as string).trim());
      if (missing.length) {
        problems.push(`${where}: ${missing.map((p) => `"${p}"`).join(', ')} must be set`);
        continue;
      }
      let binding: Binding;
      const templates: Record<string, BindingTemplate> = {};
      try {
        binding = resolveAll(raw, env);
        for (const p of kind.templates ?? [])
          if (typeof binding[p] === 'string') templates[p] = parseTemplate(binding[p] as string);
        if (kind.storage) storageConnectionFor(binding.connection, 'the host storage', env, SERVICE_OF[binding.type]);
        if (binding.type === 'timerTrigger') parseSchedule(String(binding.schedule));
        if (binding.type === 'httpTrigger' && typeof binding.route === 'string') compileRoute(binding.route);
      } catch (e) {
        const known = [BindingExpressionError, BindingError, ScheduleError, RouteTemplateError];
        if (!known.some((k) => e instanceof k)) throw e;
        problems.push(`${where}: ${(e as Error).message}`);
        continue;
      }
      if (key === fn.triggerKey) plan.trigger = binding;
      else if (directionOf(raw) === 'out') plan.outputs.push({ key, binding, templates });
      else plan.inputs.push({ key, binding, templates });
    }
    plans.set(fn.id, plan);
  }
  if (problems.length) {
    throw new StartupError(
      problems.length === 1
        ? problems[0]!
        : `${problems.length} bindings cannot be served:\n  ${problems.join('\n  ')}`,
    );
  }
  return { functions: plans, warnings };
}
