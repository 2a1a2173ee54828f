/**
 * The Functions binding schema, as a checker of the metadata a Node worker sends the host: the
 * function.json binding schema Core Tools and editors use (SchemaStore's function.json: every
 * binding has name, type and direction; per-type properties and enums), tightened with what the
 * host and its extensions refuse when they index a function (a connection setting that does not
 * resolve, a %SETTING% with no value, a schedule that is not NCRONTAB, a second trigger, a retry
 * policy the host's ValidateRetryOptions refuses). The extension bundle in host.json has to cover
 * every binding type used.
 *
 * `checkFunctions` returns every problem as "function 'x': binding 'y' (type): what is wrong",
 * so a test can show it finds the old empty EVENTHUB_CONNECTION as the host would.
 */
import { z } from 'zod';
import { parseSchedule } from '../../local/timers/ncrontab';
import { compileRoute } from '../../local/http/route';

export interface WorkerFunctionMetadata {
  name: string;
  functionId: string;
  scriptFile: string;
  rawBindings: string[];
  /** The worker form of `retry` (RpcRetryOptions): retryStrategy, maxRetryCount, intervals as { seconds }. */
  retryOptions?: unknown;
}

const HTTP_METHODS = ['get', 'post', 'delete', 'head', 'patch', 'put', 'options', 'trace'];
const base = z
  .object({
    name: z.string().regex(/^[A-Za-z$_][A-Za-z0-9_$-]*$/, 'must be an identifier'),
    type: z.string().min(1),
    direction: z.enum(['in', 'out', 'inout']),
  })
  .loose();
const connection = z.string().optional();

/** Per-type schemas: properties the host's binding attributes read, with their types and enums. */
const BY_TYPE: Record<string, z.ZodType> = {
  httpTrigger: z
    .object({
      direction: z.literal('in'),
      authLevel: z.enum(['anonymous', 'function', 'admin']).optional(),
      methods: z
        .array(z.string().refine((m) => HTTP_METHODS.includes(m.toLowerCase()), 'is not an HTTP method'))
        .optional(),
      route: z.string().optional(),
    })
    .loose(),
  http: z.object({ direction: z.literal('out') }).loose(),
  timerTrigger: z
    .object({
      direction: z.literal('in'),
      schedule: z.string().min(1),
      runOnStartup: z.boolean().optional(),
      useMonitor: z.boolean().optional(),
    })
    .loose(),
  eventHubTrigger: z
    .object({
      direction: z.literal('in'),
      eventHubName: z.string().min(1),
      connection: z.string().min(1),
      consumerGroup: z.string().optional(),
      cardinality: z.enum(['one', 'many']).optional(),
    })
    .loose(),
  eventHub: z
    .object({ direction: z.literal('out'), eventHubName: z.string().min(1), connection: z.string().min(1) })
    .loose(),
  blobTrigger: z
    .object({
      direction: z.literal('in'),
      path: z.string().regex(/^[^/{}]+(\/.*)?$/, 'must start with a container name'),
      connection,
    })
    .loose(),
  blob: z
    .object({
      direction: z.enum(['in', 'out', 'inout']),
      path: z.string().regex(/^[^/]+\/.+$/, 'must be <container>/<blob>'),
      connection,
    })
    .loose(),
  queueTrigger: z.object({ direction: z.literal('in'), queueName: z.string().min(1), connection }).loose(),
  queue: z.object({ direction: z.literal('out'), queueName: z.string().min(1), connection }).loose(),
  table: z.object({ direction: z.enum(['in', 'out']), tableName: z.string().min(1), connection }).loose(),
  orchestrationTrigger: z.object({ direction: z.literal('in') }).loose(),
  activityTrigger: z.object({ direction: z.literal('in') }).loose(),
  entityTrigger: z.object({ direction: z.literal('in') }).loose(),
  durableClient: z.object({ direction: z.literal('in') }).loose(),
};

/** Binding types by the extension that serves them, as extension bundle 4.x ships them. */
const BUNDLE_4_TYPES = new Set(Object.keys(BY_TYPE));

function settingValue(env: Record<string, string>, name: string): string | undefined {
  return env[name] ?? env[`AzureWebJobs${name}`];
}

/** A connection setting the host can use: a value, or the identity-based form. */
function connectionProblem(env: Record<string, string>, type: string, name: string | undefined): string | undefined {
  const isStorage = ['blobTrigger', 'blob', 'queueTrigger', 'queue', 'table'].includes(type);
  const setting = name || (isStorage ? 'AzureWebJobsStorage' : undefined);
  if (!setting) return undefined;
  const value = settingValue(env, setting);
  const identity = Object.keys(env).some((k) => k.startsWith(`${setting}__`) && env[k]);
  if (!value && !identity)
    return `connection setting '${setting}' is ${value === '' ? 'empty' : 'not set'} (the extension cannot index the function)`;
  if (!value) return undefined;
  if (
    type.startsWith('eventHub') &&
    !/^Endpoint=sb:\/\/[^;]+;(?=.*SharedAccessKey(Name)?=)|UseDevelopmentEmulator=true/i.test(value)
  )
    return `connection setting '${setting}' is not an Event Hubs connection string`;
  if (isStorage && value !== 'UseDevelopmentStorage=true' && !/AccountName=|BlobEndpoint=/i.test(value))
    return `connection setting '${setting}' is not a storage connection string`;
  return undefined;
}

const rpcDuration = z
  .object({ seconds: z.number().int().min(0, 'must not be negative'), nanos: z.number().int().min(0).optional() })
  .loose();
const seconds = (d: { seconds: number; nanos?: number | undefined }) => d.seconds + (d.nanos ?? 0) / 1e9;
/**
 * A retry policy as the host checks it at indexing (azure-functions-host Utility.ValidateRetryOptions,
 * then the WebJobs retry attributes): maxRetryCount is required and at least -1 (-1 retries
 * indefinitely); fixedDelay needs delayInterval; exponentialBackoff needs both intervals, neither
 * negative, the minimum not above the maximum.
 */
const retryOptions = z
  .object({
    retryStrategy: z.enum(['exponentialBackoff', 'fixedDelay']),
    maxRetryCount: z.number().int('must be a whole number').min(-1, 'must be at least -1 (-1 retries indefinitely)'),
    delayInterval: rpcDuration.optional(),
    minimumInterval: rpcDuration.optional(),
    maximumInterval: rpcDuration.optional(),
  })
  .loose()
  .superRefine((r, ctx) => {
    if (r.retryStrategy === 'fixedDelay' && !r.delayInterval)
      ctx.addIssue({ code: 'custom', path: ['delayInterval'], message: 'is required by fixedDelay' });
    if (r.retryStrategy === 'exponentialBackoff') {
      if (!r.minimumInterval)
        ctx.addIssue({ code: 'custom', path: ['minimumInterval'], message: 'is required by exponentialBackoff' });
      if (!r.maximumInterval)
        ctx.addIssue({ code: 'custom', path: ['maximumInterval'], message: 'is required by exponentialBackoff' });
      if (r.minimumInterval && r.maximumInterval && seconds(r.minimumInterval) > seconds(r.maximumInterval)) {
        ctx.addIssue({
          code: 'custom',
          path: ['minimumInterval'],
          message: 'must not be greater than maximumInterval',
        });
      }
    }
  });

export function checkFunctions(functions: WorkerFunctionMetadata[], env: Record<string, string>): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const f of functions) {
    const fp = `function '${f.name}'`;
    if (names.has(f.name.toLowerCase())) problems.push(`${fp}: the name is used twice`);
    names.add(f.name.toLowerCase());
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,127}$/.test(f.name)) problems.push(`${fp}: not a valid function name`);
    if (f.scriptFile === 'unknown') problems.push(`${fp}: registered outside an entry point file (no scriptFile)`);
    const bindings = f.rawBindings.map((raw) => JSON.parse(raw) as Record<string, unknown>);
    const triggers = bindings.filter((b) => /trigger$/i.test(String(b.type)));
    if (triggers.length !== 1) problems.push(`${fp}: has ${triggers.length} triggers (exactly one is allowed)`);
    if (f.retryOptions !== undefined) {
      const r = retryOptions.safeParse(f.retryOptions);
      if (!r.success)
        problems.push(
          `${fp}: retry ${r.error.issues.map((i) => `${i.path.join('.') || '(policy)'} ${i.message}`).join('; ')}`,
        );
    }
    const seen = new Set<string>();
    for (const b of bindings) {
      const where = `${fp}: binding '${String(b.name)}' (${String(b.type)})`;
      const r = base.safeParse(b);
      if (!r.success) {
        problems.push(`${where}: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        continue;
      }
      if (seen.has(r.data.name)) problems.push(`${where}: the binding name is used twice`);
      seen.add(r.data.name);
      const type = r.data.type;
      const schema = BY_TYPE[type];
      if (!schema || !BUNDLE_4_TYPES.has(type)) {
        problems.push(`${where}: not a binding type of extension bundle 4.x`);
        continue;
      }
      const typed = schema.safeParse(b);
      if (!typed.success)
        problems.push(
          `${where}: ${typed.error.issues.map((i) => `${i.path.join('.') || '(binding)'} ${i.message}`).join('; ')}`,
        );
      // %SETTING% references resolve in every property, as at indexing.
      const resolved: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(b)) {
        if (typeof v !== 'string') continue;
        const missing = [...v.matchAll(/%([^%]+)%/g)]
          .map((m) => m[1]!)
          .filter((s) => settingValue(env, s) === undefined);
        if (missing.length)
          problems.push(`${where}: ${k} refers to app setting(s) ${missing.join(', ')} that are not set`);
        resolved[k] = v.replace(/%([^%]+)%/g, (_, s: string) => settingValue(env, s) ?? '');
      }
      const c = connectionProblem(env, type, typeof b.connection === 'string' ? b.connection : undefined);
      if (c) problems.push(`${where}: ${c}`);
      if (type === 'timerTrigger' && typeof resolved.schedule === 'string') {
        try {
          parseSchedule(resolved.schedule);
        } catch (e) {
          problems.push(`${where}: ${(e as Error).message}`);
        }
      }
      if (type === 'httpTrigger' && typeof b.route === 'string') {
        try {
          compileRoute(b.route);
        } catch (e) {
          problems.push(`${where}: route ${(e as Error).message}`);
        }
      }
    }
  }
  return problems;
}
