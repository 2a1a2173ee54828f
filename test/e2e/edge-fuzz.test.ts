/**
 * The auth and fuzz suite: Strata's app on the local host (dist/functions/index.js, real Azurite,
 * the embedded online store) as an attacker and a careless client meet it.
 *
 *  - keys: every HTTP route GET /admin/functions lists, the host's own routes and the Durable
 *    HTTP API, against no key, a wrong key and the function, admin and system keys (header and
 *    ?code=), each with the outcome its auth level says;
 *  - bodies: property-based malformed bodies (fast-check) for every POST route, and hostile names
 *    in every route parameter: never a 5xx, never a hang (each request is bounded), no internals
 *    in an error body;
 *  - events and files: property-based batches mixing valid and invalid records: every rejected
 *    one is in the dead-letter store with a reason, every valid neighbour is ingested;
 *  - and the host is alive at the end.
 * fast-check prints the seed of a failing run; pass it as { seed } to replay it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import fc from 'fast-check';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import {
  startHostProcess,
  HostProcess,
  ROOT,
  ADMIN_KEY,
  FUNCTION_KEY,
  SYSTEM_KEY,
  eventually,
} from '../helpers/host-process';
import { tempDir } from '../helpers/temp';
import { logisticRegressionModel } from '../../shared/onnx';
import { WAIT_MS } from '../helpers/wait';

const tmp = tempDir('edge-fuzz-');
let azurite: AzuriteHandle;
let host: HostProcess;
const DURABLE = '/runtime/webhooks/durabletask';
const REQUEST_LIMIT_MS = 20_000;
/** Fuzz runs per route: enough to find the classic mistakes, few enough for CI. */
const RUNS = 12;

interface Reply {
  status: number;
  text: string;
  body: any;
}

/** One bounded request: a hang is an AbortError, failing the property. */
async function call(
  method: string,
  pathAndQuery: string,
  o: { key?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.key ? { 'x-functions-key': o.key } : {}), ...o.headers };
  const res = await fetch(`${host.baseUrl}${pathAndQuery}`, {
    method,
    headers,
    body: o.body,
    signal: AbortSignal.timeout(REQUEST_LIMIT_MS),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, text, body };
}

/** What an error body must never show: temp or source paths, stack frames, SQL, service addresses. */
const INTERNALS =
  /\/tmp\/|\/work\/|node_modules|\bat [\w.<>]+ \(|\(\/[^)]*:\d+:\d+\)|\bSELECT\b.*\bFROM\b|read_parquet|read_csv|redis:\/\/|127\.0\.0\.1:\d+/;

function expectClean(r: Reply, what: string): void {
  expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBeLessThan(500);
  if (r.status >= 400) expect(r.text, `${what}: an error body with internals`).not.toMatch(INTERNALS);
}

interface Route {
  name: string;
  methods: string[];
  /** Path template from the host root, e.g. /api/models/{model}/versions. */
  template: string;
  auth: 'anonymous' | 'function' | 'admin' | 'system';
}

/** Values that make a template a real path (a registered model, a defined view, ...). */
const FILL: Record<string, string> = {
  model: 'fz',
  entity: 'u1',
  source: 'clicks',
  view: 'user_clicks',
  kind: 'view',
  name: 'user_clicks',
  id: 'nobody',
  hub: 'fuzz-hub',
  version: '1',
};
const fill = (template: string) => template.replace(/\{\*?(\w+)\??(?::\w+)?\}/g, (_, p: string) => FILL[p] ?? 'x');

let routes: Route[] = [];

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
  });
  const listed = (await call('GET', '/admin/functions', { key: ADMIN_KEY })).body as Array<{
    name: string;
    trigger: string;
    detail: string;
  }>;
  const origin = host.baseUrl;
  routes = listed
    .filter((f) => f.trigger === 'httpTrigger')
    .map((f) => {
      const m = /^(\S+) (\S+) \((\w+)\)$/.exec(f.detail)!;
      return {
        name: f.name,
        methods: m[1]!.split(','),
        template: m[2]!.slice(origin.length),
        auth: m[3] as Route['auth'],
      };
    });
  // A model, so the model routes have something real behind them.
  const signature = {
    featureService: { name: 'one', features: [{ view: 'user_clicks', feature: 'clicks_1h' }] },
    input: { name: 'features' },
    outputs: [{ name: 'probability', meaning: 'a test score' }],
    policy: { default: { onMissing: { default: 0 } } },
  };
  const onnxBase64 = Buffer.from(logisticRegressionModel({ weights: [0.5], bias: 0 })).toString('base64');
  expect(
    (
      await call('POST', '/api/models/fz/versions', {
        key: ADMIN_KEY,
        body: JSON.stringify({ onnxBase64, signature, alias: 'production' }),
      })
    ).status,
  ).toBe(201);
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

describe('keys: every route against no key, a wrong key and the function, admin and system keys', () => {
  const hostRoutes: Route[] = [
    { name: 'host status', methods: ['GET'], template: '/admin/host/status', auth: 'admin' },
    { name: 'host functions', methods: ['GET'], template: '/admin/functions', auth: 'admin' },
    { name: 'host run function', methods: ['POST'], template: '/admin/functions/{name}', auth: 'admin' },
    { name: 'local event hub', methods: ['POST'], template: '/api/_local/eventhubs/{hub}', auth: 'admin' },
  ];
  const durableRoutes: Route[] = [
    { name: 'durable list', methods: ['GET', 'DELETE'], template: `${DURABLE}/instances/`, auth: 'system' },
    { name: 'durable instance', methods: ['GET', 'DELETE'], template: `${DURABLE}/instances/{id}`, auth: 'system' },
    { name: 'durable start', methods: ['POST'], template: `${DURABLE}/orchestrators/backfill/{id}`, auth: 'system' },
    ...['raiseEvent/go', 'terminate', 'suspend', 'resume'].map((op): Route => ({
      name: `durable ${op}`,
      methods: ['POST'],
      template: `${DURABLE}/instances/{id}/${op}`,
      auth: 'system',
    })),
  ];
  const keys = {
    none: undefined,
    wrong: 'not-a-key',
    function: FUNCTION_KEY,
    admin: ADMIN_KEY,
    system: SYSTEM_KEY,
  } as const;
  const opens: Record<Route['auth'], Array<keyof typeof keys>> = {
    anonymous: ['none', 'wrong', 'function', 'admin', 'system'],
    function: ['function', 'admin'],
    admin: ['admin'],
    system: ['system', 'admin'],
  };

  it('the listing holds every app route with its auth level', () => {
    expect(routes.length).toBeGreaterThan(25);
    expect(routes.find((r) => r.name === 'health')?.auth).toBe('anonymous');
    expect(routes.find((r) => r.name === 'models-register')?.auth).toBe('admin');
    expect(routes.find((r) => r.name === 'predict')?.auth).toBe('function');
  });

  it('each key opens exactly the routes its level allows, as the header and as ?code=', async () => {
    let requests = 0;
    for (const r of [...routes, ...hostRoutes, ...durableRoutes]) {
      const url = fill(r.template);
      const sep = url.includes('?') ? '&' : '?';
      for (const method of r.methods) {
        for (const [label, key] of Object.entries(keys) as Array<[keyof typeof keys, string | undefined]>) {
          const allowed = opens[r.auth].includes(label);
          const viaHeader = await call(
            method,
            `${url}${method === 'DELETE' && url.endsWith('/') ? '?createdTimeFrom=2020-01-01T00:00:00Z' : ''}`,
            { key, headers: { 'content-type': 'application/json' } },
          );
          const viaCode = key
            ? await call(
                method,
                `${url}${sep}code=${encodeURIComponent(key)}${method === 'DELETE' && url.endsWith('/') ? '&createdTimeFrom=2020-01-01T00:00:00Z' : ''}`,
                { headers: { 'content-type': 'application/json' } },
              )
            : viaHeader;
          requests += key ? 2 : 1;
          for (const [how, res] of [
            ['header', viaHeader],
            ['?code=', viaCode],
          ] as const) {
            const what = `${method} ${url} (${r.auth}) with the ${label} key as ${how}`;
            if (allowed) {
              expect(res.status, `${what}: ${res.text.slice(0, 200)}`).not.toBe(401);
              expectClean(res, what);
            } else {
              expect(res.status, what).toBe(401);
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(300);
  }, 180_000);
});

/** Values that broke edges before: odd names, traversal, prototype keys, huge and negative numbers, wrong types. */
const NASTY: unknown[] = [
  '',
  '%00',
  '../../x',
  'spines/../models/x.csv',
  'constructor',
  '__proto__',
  'a'.repeat(5000),
  1e308,
  -1,
  1.5,
  true,
  null,
  [],
  {},
];

/** Every leaf path of a sample body (arrays are leaves), to put each nasty value at each of them. */
function leafPaths(v: unknown, prefix: string[] = []): string[][] {
  if (!v || typeof v !== 'object' || Array.isArray(v) || prefix.length >= 3) return prefix.length ? [prefix] : [];
  const entries = Object.entries(v as Record<string, unknown>);
  return entries.length ? entries.flatMap(([k, x]) => leafPaths(x, [...prefix, k])) : prefix.length ? [prefix] : [];
}

function withValueAt(body: unknown, at: string[], value: unknown): unknown {
  if (!at.length) return value;
  const [k, ...rest] = at as [string, ...string[]];
  const o = { ...(body as Record<string, unknown>) };
  o[k] = withValueAt(o[k], rest, value);
  return o;
}

/** Arbitrary request bodies: JSON of any shape, text, bytes, and near-misses of a valid body. */
function bodies(valid: Record<string, unknown>): fc.Arbitrary<string | Uint8Array> {
  const nasty = fc.constantFrom<unknown>(...NASTY);
  const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nasty);
  const keys = Object.keys(valid);
  const extraKey = fc.tuple(fc.string(), value).map(([k, v]) => ({ ...valid, [k]: v }));
  const nearMiss =
    keys.length === 0
      ? extraKey
      : fc.oneof(
          fc.tuple(fc.constantFrom(...keys), value).map(([k, v]) => ({ ...valid, [k]: v })),
          fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))),
          extraKey,
        );
  return fc.oneof(
    { weight: 3, arbitrary: nearMiss.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  );
}

describe('malformed bodies for every POST route', () => {
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  /** A valid body per POST route, the seed of its near-misses. */
  const VALID: Record<string, Record<string, unknown>> = {
    'features-lookup': { entityIds: ['u1'], views: ['user_clicks'] },
    'training-sets': {
      spine: { rows: [{ entity_id: 'u1', ts: new Date(day).toISOString() }] },
      features: ['user_clicks:clicks_1h'],
    },
    'backfills-start': { views: ['user_clicks'], from: day - 86_400_000, to: day, interval: '1d', maxParallel: 2 },
    // No labels in this host: a job a valid variant starts fails at its training-set step (a 404 result, no retries).
    'jobs-train': {
      model: 'churn',
      window: { from: day - 86_400_000, to: day },
      trainer: 'gbdt',
      params: { trees: 2, maxDepth: 2 },
      gate: { policy: 'canary', metric: 'auc', margin: 0.01 },
      seed: 1,
    },
    'lineage-versions-infer': {
      rules: [{ where: { kind: 'segment', view: 'user_clicks' }, param: 'loader' }],
      dryRun: true,
    },
    'lineage-versions-update': { where: { kind: 'segment', view: 'user_clicks' }, set: { loader: 'x' }, dryRun: true },
    'models-register': {
      onnxBase64: 'AAAA',
      signature: {
        featureService: 'churn_v1',
        input: { name: 'features' },
        outputs: [{ name: 'probability', meaning: 'p' }],
      },
    },
    'models-alias': { alias: 'canary', version: 1 },
    'models-traffic': { production: 100, canary: 0 },
    'models-promote': {},
    'models-rollback': {},
    predict: { entityId: 'u1', overrides: { 'user_clicks:clicks_1h': 1 }, includeFeatures: true },
    'oip-infer': {
      id: 'fz',
      inputs: [{ name: 'features', shape: [1, 1], datatype: 'FP32', data: [[0.5]] }],
      outputs: [{ name: 'probability' }],
    },
    'oip-infer-version': {
      id: 'fz',
      parameters: { a: 1 },
      inputs: [{ name: 'features', shape: [1, 1], datatype: 'FP32', data: [0.5] }],
    },
    'definitions-apply': {},
    'upload-file': { user_id: 'u1', page: '/a', ts: new Date(day).toISOString() },
    materialize: { views: ['user_clicks'], since: new Date(day).toISOString() },
    // Dry run: the fuzz reports, it does not repair (a near-miss may still say false: nothing here is dated ahead).
    'retract-future': { dryRun: true },
    'alerts-rules-add': {
      id: 'fz-rule',
      metric: 'null_rate',
      subject: 'user_clicks:clicks_1h',
      model: 'churn',
      comparison: '>',
      threshold: 0.5,
      for: 2,
      severity: 'info',
      action: 'notify',
      cooldown: '1h',
    },
    'monitor-run': { at: new Date(day).toISOString(), settle: '0s', ignoreLoad: true },
  };

  /** A second sample where a route takes another shape (a spine by blob path). */
  const ALSO: Record<string, Record<string, unknown>> = {
    'jobs-train': {
      model: 'churn',
      window: { last: '7d' },
      labels: { source: 'purchases', expression: { field: 'amount', op: '>=', value: 100 } },
      holdoutFraction: 0.3,
    },
    'training-sets': { spine: { blobPath: 'spines/x.parquet' }, featureService: 'churn_v1', asOf: day, id: 'fz-set' },
    'oip-infer': { inputs: [{ name: 'entity_id', shape: [1], datatype: 'BYTES', data: ['u1'] }] },
  };
  const post = (url: string, body: string | Uint8Array) =>
    call('POST', url, { key: ADMIN_KEY, body, headers: { 'content-type': 'application/json' } });
  const shown = (body: string | Uint8Array) => (typeof body === 'string' ? body.slice(0, 200) : `${body.length} bytes`);

  it('the POST routes are the ones fuzzed here', () => {
    expect(
      routes
        .filter((r) => r.methods.includes('POST'))
        .map((r) => r.name)
        .sort(),
    ).toEqual(Object.keys(VALID).sort());
  });

  for (const name of Object.keys(VALID)) {
    it(`${name}: each nasty value at each field, and random bodies: never a 5xx, a hang or internals`, async () => {
      const r = routes.find((x) => x.name === name)!;
      const url = fill(r.template) + (name === 'upload-file' ? '?name=fuzz.jsonl' : '');
      for (const sample of [VALID[name]!, ...(ALSO[name] ? [ALSO[name]] : [])]) {
        for (const at of leafPaths(sample)) {
          for (const v of NASTY) {
            const body = JSON.stringify(withValueAt(sample, at, v));
            expectClean(await post(url, body), `POST ${url} with ${at.join('.')} = ${JSON.stringify(v)?.slice(0, 40)}`);
          }
        }
      }
      await fc.assert(
        fc.asyncProperty(bodies(VALID[name]!), async (body) =>
          expectClean(await post(url, body), `POST ${url} with ${shown(body)}`),
        ),
        { numRuns: RUNS },
      );
    }, 180_000);
  }
});

describe('hostile names in route parameters', () => {
  /** As they appear in a URL path: already percent-encoded (or deliberately not). */
  const NAMES = [
    '%00',
    '..%2F..%2Fuploads%2Fx',
    '..',
    '%2E%2E',
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    '%ff',
    '%E0%A4%A',
    '%2F',
    '%5C',
    '%23',
    '%3F',
    'a'.repeat(600),
    "o'neil",
    'x%20y',
    '%0d%0a',
  ];
  const hostile = fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 80 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'binary-ascii' }).map(encodeURIComponent) },
  );
  const targets: Array<{
    what: string;
    request: (name: string) => [string, string, { key: string; body?: string; headers?: Record<string, string> }];
  }> = [
    { what: 'model', request: (n) => ['GET', `/api/models/${n}`, { key: ADMIN_KEY }] },
    { what: 'model stats', request: (n) => ['GET', `/api/models/${n}/stats`, { key: FUNCTION_KEY }] },
    { what: 'model history', request: (n) => ['GET', `/api/models/${n}/history`, { key: ADMIN_KEY }] },
    {
      what: 'alias',
      request: (n) => [
        'POST',
        '/api/models/fz/aliases',
        { key: ADMIN_KEY, body: JSON.stringify({ alias: decodeURIComponentSafe(n), version: 1 }) },
      ],
    },
    {
      what: 'pin',
      request: (n) => [
        'POST',
        '/api/predict/fz',
        { key: FUNCTION_KEY, body: '{"entityId":"u1"}', headers: { 'x-strata-model-version': headerSafe(n) } },
      ],
    },
    { what: 'oip model', request: (n) => ['GET', `/api/v2/models/${n}/ready`, { key: FUNCTION_KEY }] },
    {
      what: 'oip version',
      request: (n) => [
        'POST',
        `/api/v2/models/fz/versions/${n}/infer`,
        { key: FUNCTION_KEY, body: '{"inputs":[{"name":"features","shape":[1,1],"datatype":"FP32","data":[1]}]}' },
      ],
    },
    { what: 'entity', request: (n) => ['GET', `/api/features/${n}?view=user_clicks`, { key: FUNCTION_KEY }] },
    { what: 'view query', request: (n) => ['GET', `/api/features/u1?view=${n}`, { key: FUNCTION_KEY }] },
    { what: 'source', request: (n) => ['GET', `/api/dead-letter/${n}`, { key: FUNCTION_KEY }] },
    { what: 'view', request: (n) => ['GET', `/api/views/${n}/status`, { key: FUNCTION_KEY }] },
    { what: 'definition', request: (n) => ['GET', `/api/definitions/view/${n}/history`, { key: FUNCTION_KEY }] },
    { what: 'lineage', request: (n) => ['GET', `/api/lineage/segment/${n}`, { key: FUNCTION_KEY }] },
    { what: 'lineage view', request: (n) => ['GET', `/api/lineage/view/${n}`, { key: FUNCTION_KEY }] },
    { what: 'backfill', request: (n) => ['GET', `/api/backfills/${n}`, { key: FUNCTION_KEY }] },
    {
      what: 'upload source',
      request: (n) => ['POST', `/api/sources/${n}/files?name=x.jsonl`, { key: FUNCTION_KEY, body: '{}' }],
    },
    {
      what: 'retract source',
      request: (n) => ['POST', `/api/sources/${n}/retract-future`, { key: ADMIN_KEY, body: '{}' }],
    },
    { what: 'instance', request: (n) => ['GET', `${DURABLE}/instances/${n}`, { key: SYSTEM_KEY }] },
    {
      what: 'orchestrator',
      request: (n) => ['POST', `${DURABLE}/orchestrators/${n}`, { key: SYSTEM_KEY, body: 'null' }],
    },
    { what: 'hub', request: (n) => ['POST', `/api/_local/eventhubs/${n}`, { key: ADMIN_KEY, body: '[]' }] },
  ];

  it('are refused or looked up, never a 5xx or a hang', async () => {
    for (const t of targets) {
      for (const name of NAMES) {
        const [method, url, o] = t.request(name);
        expectClean(await call(method, url, o), `${t.what} ${method} ${url.slice(0, 120)}`);
      }
      await fc.assert(
        fc.asyncProperty(hostile, async (name) => {
          const [method, url, o] = t.request(name);
          expectClean(await call(method, url, o), `${t.what} ${method} ${url}`);
        }),
        { numRuns: RUNS },
      );
    }
  }, 300_000);
});

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
/** A header value fetch accepts (no CR/LF/NUL; Latin-1). */
const headerSafe = (s: string) => decodeURIComponentSafe(s).replace(/[^\x20-\x7e]/g, '?') || '?';

// ---------------------------------------------------------------------------------------------
// Events and files: every rejected record dead-lettered with a reason, every valid one ingested

interface Case {
  /** The record as sent. */
  record: unknown;
  valid: boolean;
  /** A unique marker carried by object records (the schema drops it from valid ones). */
  probe?: string;
}

const recent = (i: number) => new Date(Date.now() - 30 * 60_000 + i * 1000).toISOString();
const nonString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.constant({ x: 1 }),
);
const badTime = fc.oneof(
  fc.constantFrom(
    'yesterday',
    '',
    'not-a-time',
    '2026-13-45T00:00:00Z',
    '12:30',
    -5,
    1_700_000_000,
    true,
    null,
    { t: 1 },
    1e308,
  ),
);

/** A clicks record for user `user`: valid, or invalid by construction (the reason is known). */
function clickCase(tag: string, i: number): fc.Arbitrary<Case> {
  const probe = `${tag}-${i}`;
  const base = { user_id: `${tag}-u${i}`, page: '/p', ts: recent(i), probe };
  const valid = fc
    .record({ page: fc.string({ minLength: 1, maxLength: 40 }), session: fc.option(fc.nat(), { nil: undefined }) })
    .map(({ page, session }): Case => ({
      record: { ...base, page, ...(session !== undefined ? { session_ms: session } : {}) },
      valid: true,
      probe,
    }));
  const invalid = fc
    .oneof(
      fc.constant({ ...base, user_id: '' }),
      nonString.map((v) => ({ ...base, user_id: v })),
      fc.constant(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'user_id'))),
      fc.oneof(nonString, fc.constant('')).map((v) => ({ ...base, page: v })),
      badTime.map((v) => ({ ...base, ts: v })),
      fc.constant(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'ts'))),
      fc.oneof(fc.constant(-1), fc.constant('12'), fc.constant(1e300)).map((v) => ({ ...base, session_ms: v })),
    )
    .map((record): Case => ({ record, valid: false, probe }));
  const notObject = fc
    .oneof(
      fc.string({ maxLength: 20 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 3 }),
    )
    .map((record): Case => ({ record, valid: false }));
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 3, arbitrary: invalid },
    { weight: 1, arbitrary: notObject },
  );
}

const clickBatch = (tag: string, n: number) => fc.tuple(...Array.from({ length: n }, (_, i) => clickCase(tag, i)));

async function deadLetters(): Promise<Array<{ record: unknown; reason: string }>> {
  return (await call('GET', '/api/dead-letter/clicks?limit=10000', { key: FUNCTION_KEY })).body.deadLetters;
}

/** Every invalid case in the dead letters with a reason; every valid one online. */
async function expectAccounted(cases: Case[], what: string): Promise<void> {
  await eventually(
    async () => {
      const letters = await deadLetters();
      const byProbe = new Map(
        letters
          .filter((d) => d.record && typeof d.record === 'object' && !Array.isArray(d.record))
          .map((d) => [(d.record as { probe?: string }).probe, d]),
      );
      for (const c of cases.filter((x) => !x.valid)) {
        const letter =
          c.probe !== undefined
            ? byProbe.get(c.probe)
            : letters.find((d) => JSON.stringify(d.record) === JSON.stringify(c.record));
        if (!letter) throw new Error(`${what}: no dead letter for ${JSON.stringify(c.record)}`);
        expect(letter.reason, JSON.stringify(c.record)).toMatch(/\S/);
      }
      for (const c of cases.filter((x) => x.valid)) {
        const user = (c.record as { user_id: string }).user_id;
        expect(byProbe.has(c.probe), `${what}: a valid record was dead-lettered: ${JSON.stringify(c.record)}`).toBe(
          false,
        );
        const online = await call('GET', `/api/features/${encodeURIComponent(user)}?view=user_clicks`, {
          key: FUNCTION_KEY,
        });
        if (!((online.body?.features?.['user_clicks:clicks_24h'] ?? 0) >= 1))
          throw new Error(`${what}: ${user} is not online yet`);
      }
      return true;
    },
    WAIT_MS,
    `${what}: every record accounted for`,
  );
}

describe('events on the bus', () => {
  it('rejected events are dead-lettered with a reason; their valid neighbours are ingested', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(clickBatch('ev', 24), async (cases) => {
        const tag = `ev${round++}`;
        const sent = cases.map((c) => ({
          ...c,
          record: retag(c.record, 'ev', tag),
          probe: c.probe?.replace(/^ev/, tag),
        }));
        const r = await call('POST', '/api/_local/eventhubs/clicks?partitionKey=fuzz', {
          key: ADMIN_KEY,
          body: JSON.stringify(sent.map((c) => c.record)),
        });
        expect(r.status).toBe(202);
        await expectAccounted(sent, `event batch ${tag}`);
      }),
      { numRuns: 3 },
    );
  }, 180_000);
});

/** The same case under another tag (each run its own users and probes). */
function retag(record: unknown, from: string, to: string): unknown {
  if (!record || typeof record !== 'object' || Array.isArray(record)) return record;
  const r = { ...(record as Record<string, unknown>) };
  for (const k of ['user_id', 'probe'])
    if (typeof r[k] === 'string') r[k] = (r[k] as string).replace(new RegExp(`^${from}`), to);
  return r;
}

describe('uploaded files', () => {
  const csvCell = (v: unknown) => `"${String(v).replace(/"/g, '""')}"`;

  it('JSONL: rejected lines (also unreadable ones) are dead-lettered with a reason; valid lines are ingested', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        clickBatch('fj', 12),
        fc.array(fc.constantFrom('{broken', '[1,', 'nul', '{"user_id": }'), { maxLength: 3 }),
        async (cases, garbage) => {
          const tag = `fj${round++}`;
          const sent = cases.map((c) => ({
            ...c,
            record: retag(c.record, 'fj', tag),
            probe: c.probe?.replace(/^fj/, tag),
          }));
          const lines = [...sent.map((c) => JSON.stringify(c.record)), ...garbage];
          const r = await call('POST', `/api/sources/clicks/files?name=${tag}.jsonl`, {
            key: FUNCTION_KEY,
            body: lines.join('\n'),
          });
          expectClean(r, `upload ${tag}.jsonl`);
          const valid = sent.filter((c) => c.valid).length;
          expect(r.body).toMatchObject({ accepted: valid, rejected: sent.length - valid + garbage.length });
          await expectAccounted(sent, `file ${tag}.jsonl`);
        },
      ),
      { numRuns: 4 },
    );
  }, 180_000);

  it('CSV: rows with bad cells or the wrong number of fields are dead-lettered; valid rows are ingested', async () => {
    let round = 0;
    const row = (tag: string, i: number) => {
      const user = `${tag}-u${i}`;
      return fc.oneof(
        fc
          .record({
            page: fc.string({ minLength: 1, maxLength: 30 }),
            session: fc.option(fc.nat(), { nil: undefined }),
          })
          .map(({ page, session }) => ({
            line: [user, page, recent(i), session ?? '', `${user}-probe`].map(csvCell).join(','),
            user,
            valid: true,
          })),
        fc
          .constantFrom<[string, string]>(
            ['user_id', ''],
            ['page', ''],
            ['ts', 'yesterday'],
            ['ts', ''],
            ['session_ms', 'abc'],
            ['session_ms', '-1'],
          )
          .map(([field, value]) => {
            const cells: Record<string, string> = {
              user_id: user,
              page: '/p',
              ts: recent(i),
              session_ms: '',
              probe: `${user}-probe`,
            };
            cells[field] = value;
            return {
              line: ['user_id', 'page', 'ts', 'session_ms', 'probe'].map((k) => csvCell(cells[k])).join(','),
              user,
              valid: false,
            };
          }),
        fc.constant({ line: `${csvCell(user)},"/p"`, user, valid: false }),
      );
    };
    await fc.assert(
      fc.asyncProperty(fc.tuple(...Array.from({ length: 12 }, (_, i) => row('fc', i))), async (rows) => {
        const tag = `fc${round++}`;
        const sent = rows.map((r) => ({
          ...r,
          line: r.line.replaceAll('fc-u', `${tag}-u`),
          user: r.user.replace(/^fc/, tag),
        }));
        // `probe` is no field of the source: it marks each row (dead letters keep the record as read).
        const csv = ['user_id,page,ts,session_ms,probe', ...sent.map((r) => r.line)].join('\r\n');
        const res = await call('POST', `/api/sources/clicks/files?name=${tag}.csv`, { key: FUNCTION_KEY, body: csv });
        expectClean(res, `upload ${tag}.csv`);
        const valid = sent.filter((r) => r.valid);
        expect(res.body, csv).toMatchObject({ accepted: valid.length, rejected: sent.length - valid.length });
        await eventually(
          async () => {
            const letters = await deadLetters();
            const mine = letters.filter((d) => JSON.stringify(d.record).includes(`${tag}-u`));
            if (mine.length < sent.length - valid.length) return undefined;
            expect(mine.every((d) => d.reason.trim() !== '')).toBe(true);
            for (const v of valid) {
              const online = await call('GET', `/api/features/${v.user}?view=user_clicks`, { key: FUNCTION_KEY });
              if (!((online.body?.features?.['user_clicks:clicks_24h'] ?? 0) >= 1)) return undefined;
            }
            return true;
          },
          WAIT_MS,
          `file ${tag}.csv: every row accounted for`,
        );
      }),
      { numRuns: 3 },
    );
  }, 180_000);
});

describe('garbage files and Durable inputs', () => {
  it('random bytes as a CSV, JSONL or Parquet file: a 4xx or a report, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('csv', 'jsonl', 'parquet'),
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        async (format, bytes) => {
          const body =
            format === 'parquet' ? new Uint8Array([...Buffer.from('PAR1'), ...bytes, ...Buffer.from('PAR1')]) : bytes;
          expectClean(
            await call('POST', `/api/sources/clicks/files?name=garbage.${format}`, { key: FUNCTION_KEY, body }),
            `garbage.${format}`,
          );
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('a backfill started on the Durable API with any input ends Failed (naming what is wrong) or Completed; the host stays up', async () => {
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const job = { views: ['user_clicks'], from: day - 86_400_000, to: day, intervalMs: 86_400_000, maxParallel: 1 };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(bodies(job), async (body) => {
        const id = `fuzz-input-${n++}`;
        const started = await call('POST', `${DURABLE}/orchestrators/backfill/${id}`, {
          key: SYSTEM_KEY,
          body,
          headers: { 'content-type': 'application/json' },
        });
        expectClean(started, `start ${id} with ${typeof body === 'string' ? body.slice(0, 200) : 'bytes'}`);
        if (started.status !== 202) return;
        const done = await eventually(
          async () => {
            const s = await call('GET', `${DURABLE}/instances/${id}`, { key: SYSTEM_KEY });
            return s.status === 200 ? (s.body as { runtimeStatus: string; output: unknown }) : undefined;
          },
          WAIT_MS,
          `${id} to finish`,
        );
        expect(['Failed', 'Completed'], JSON.stringify(done)).toContain(done.runtimeStatus);
        if (done.runtimeStatus === 'Failed')
          expect(JSON.stringify(done.output)).toMatch(/invalid backfill input|no feature view|failed/);
      }),
      { numRuns: 8 },
    );
    expect((await call('GET', '/api/health')).status).toBe(200);
  }, 180_000);
});

describe('after all of it', () => {
  it('the host is alive and healthy', async () => {
    expect(host.child.exitCode).toBeNull();
    expect((await call('GET', '/api/health')).status).toBe(200);
    expect((await call('GET', '/admin/host/status', { key: ADMIN_KEY })).body).toMatchObject({ state: 'Running' });
  });
});
