/**
 * Scale-out on one machine: ingest events/s and predict requests/s with 1, 2 and 3 local hosts
 * (dist/local/cli.js, each its own process) on one Azurite and one Redis, as Azure runs the app
 * on several instances of one storage account. The 1-host run is the baseline; each figure has
 * its ratio to it. On a 2-core machine more hosts cannot add CPU: what the ratios show is the
 * per-instance cost (each host's own runtime, caches, sessions) and the coordination overhead
 * (partition ownership, the derived view's lease, registry refreshes), not Azure's scaling.
 *
 *   ingest    BENCH_EVENTS clicks (default 40,000) of 1,000 users published through the hosts in
 *             turn (chunks of 5,000, 8 partitions), timed from the first publish until the hosts'
 *             /api/metrics sum to every click accepted (user_clicks and the derived user_engagement)
 *   predict   POST /api/predict/churn, one entity per request, wrk on every host at once with
 *             BENCH_CONCURRENCY (default 32) connections split between them, BENCH_SECONDS (5)
 *
 *   node dist/bench/scale.js   (BENCH_HOSTS=1,2,3, BENCH_EVENTS, BENCH_SECONDS, BENCH_CONCURRENCY)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite } from '../local/processes/azurite';
import { startRedis } from '../local/processes/redis';
import { freePort } from '../local/processes/ports';
import { OwnershipStore } from '../local/eventhubs/ownership';
import { storageFor } from '../shared/azure/storage';
import { logisticRegressionModel } from '../shared/onnx';
import { ensureWrk, wrk, type WrkResult } from './lib/wrk';
import { machine } from './lib/ab';

const hostCounts = (process.env.BENCH_HOSTS ?? '1,2,3').split(',').map(Number);
const events = Number(process.env.BENCH_EVENTS ?? 40_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const USERS = 1000;
const PARTITIONS = 8;
const CHUNK = 5000;
const FUNCTION_KEY = 'bench-function-key';
const ADMIN_KEY = 'bench-admin-key';
const root = path.resolve(__dirname, '../..');
/** Bound on one phase (start, ingest): a stuck run ends with what it waited for. */
const PHASE_MS = 10 * 60_000;

const userId = (i: number) => `u${String(i).padStart(4, '0')}`;

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PHASE_MS;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function call(port: number, method: string, url: string, key: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers: { 'x-functions-key': key, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** A Prometheus counter summed over its samples with these labels. */
function counter(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

async function publish(port: number, hub: string, bodies: unknown[]): Promise<void> {
  const r = await call(port, 'POST', `/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, ADMIN_KEY, bodies);
  if (r.status !== 202) throw new Error(`publish to ${hub}: ${r.status} ${r.text}`);
}

async function accepted(ports: number[], source: string): Promise<number> {
  const texts = await Promise.all(ports.map(async (p) => (await call(p, 'GET', '/api/metrics', FUNCTION_KEY)).text));
  return texts.reduce((n, t) => n + counter(t, 'strata_ingest_records_total', { source, outcome: 'accepted' }), 0);
}

interface Figures {
  hosts: number;
  ingestEventsPerSecond: number;
  ingestSeconds: number;
  predict: Pick<WrkResult, 'rps' | 'p50Ms' | 'p99Ms' | 'errors'>;
}

async function runWith(n: number): Promise<Figures> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `strata-bench-scale-${n}-`));
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp, 'azurite') }), startRedis()]);
  const children: ChildProcess[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      ports.push(port);
      children.push(
        spawn(
          process.execPath,
          [
            path.join(root, 'dist/local/cli.js'),
            '--entry',
            path.join(root, 'dist/functions/index.js'),
            '--port',
            String(port),
            '--data-dir',
            path.join(tmp, `host-${i}`),
            '--partitions',
            String(PARTITIONS),
          ],
          {
            cwd: root,
            stdio: 'ignore',
            env: {
              ...process.env,
              AzureWebJobsStorage: azurite.connectionString,
              REDIS_URL: redis.url,
              STRATA_FUNCTION_KEY: FUNCTION_KEY,
              STRATA_ADMIN_KEY: ADMIN_KEY,
              STRATA_LOG_LEVEL: 'warn',
            },
          },
        ),
      );
      await until(`host ${i} of ${n} ready`, async () =>
        (await call(port, 'GET', '/admin/host/status', ADMIN_KEY)).status === 200 ? true : undefined,
      );
    }
    // Every host owns its share of each hub before the clock starts.
    const owners = new OwnershipStore(await storageFor(azurite.connectionString).container('strata-local-eventhubs'));
    for (const hub of ['clicks', 'purchases'])
      await until(`${hub} partitions balanced over ${n} hosts`, async () => {
        const live = (await owners.list(hub, `ingest-${hub}`)).filter(
          (r) => r.ownerId && Date.now() - r.modifiedAt < 10_000,
        );
        const shares = new Map<string, number>();
        for (const r of live) shares.set(r.ownerId, (shares.get(r.ownerId) ?? 0) + 1);
        const counts = [...shares.values()];
        return counts.length === n && live.length === PARTITIONS && Math.max(...counts) - Math.min(...counts) <= 1
          ? true
          : undefined;
      });

    // One purchase per user first (not timed): churn_v1 needs both inputs of the derived view.
    const now = Date.now();
    const purchases = Array.from({ length: USERS }, (_, i) => ({
      user_id: userId(i),
      order_id: `o${i}`,
      amount: 10 + (i % 90),
      currency: 'EUR',
      ts: new Date(now - 50 * 60_000).toISOString(),
    }));
    await publish(ports[0]!, 'purchases', purchases);
    await until('the purchases ingested', async () =>
      (await accepted(ports, 'purchases')) >= USERS ? true : undefined,
    );

    const clicks = Array.from({ length: events }, (_, k) => ({
      user_id: userId(k % USERS),
      page: `/p${k % 7}`,
      ts: new Date(now - 45 * 60_000 + Math.floor((k * 40 * 60_000) / events)).toISOString(),
    }));
    const started = performance.now();
    for (let i = 0; i * CHUNK < clicks.length; i++)
      await publish(ports[i % n]!, 'clicks', clicks.slice(i * CHUNK, (i + 1) * CHUNK));
    await until('every click ingested', async () => ((await accepted(ports, 'clicks')) >= events ? true : undefined));
    const ingestSeconds = (performance.now() - started) / 1000;

    const onnxBase64 = Buffer.from(logisticRegressionModel({ weights: Array(9).fill(0.01), bias: -0.5 })).toString(
      'base64',
    );
    const signature = {
      featureService: 'churn_v1',
      input: { name: 'features' },
      outputs: [{ name: 'probability', meaning: 'probability of churn' }],
      policy: { default: { onMissing: { default: 0 } } },
    };
    const reg = await call(ports[0]!, 'POST', '/api/models/churn/versions', ADMIN_KEY, {
      onnxBase64,
      signature,
      alias: 'production',
    });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
    for (const port of ports)
      await until(`host :${port} predicting`, async () =>
        (await call(port, 'POST', '/api/predict/churn', FUNCTION_KEY, { entityId: userId(1) })).status === 200
          ? true
          : undefined,
      );
    const load = (port: number, c: number, s: number) =>
      wrk({
        url: `http://127.0.0.1:${port}/api/predict/churn`,
        concurrency: c,
        seconds: s,
        method: 'POST',
        headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
        bodyLua: `'{"entityId":"u' .. string.format('%04d', (i * 7919) % ${USERS}) .. '"}'`,
      });
    const per = Math.max(1, Math.floor(concurrency / n));
    await Promise.all(ports.map((p) => load(p, per, 2))); // warm-up: JIT, sessions, connections
    const results = await Promise.all(ports.map((p) => load(p, per, seconds)));
    return {
      hosts: n,
      ingestEventsPerSecond: Math.round(events / ingestSeconds),
      ingestSeconds: Math.round(ingestSeconds * 10) / 10,
      predict: {
        rps: Math.round(results.reduce((a, r) => a + r.rps, 0)),
        p50Ms: Math.max(...results.map((r) => r.p50Ms)),
        p99Ms: Math.max(...results.map((r) => r.p99Ms)),
        errors: results.reduce((a, r) => a + r.errors, 0),
      },
    };
  } finally {
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
      ),
    );
    await Promise.all([azurite.stop(), redis.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  ensureWrk();
  const before = machine();
  const runs: Figures[] = [];
  for (const n of hostCounts) runs.push(await runWith(n));
  const base = runs[0]!;
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
  console.log(
    JSON.stringify(
      {
        bench: 'scale',
        events,
        partitions: PARTITIONS,
        predict: { concurrency, seconds },
        baseline: `${base.hosts} host(s)`,
        runs: runs.map((r) => ({
          ...r,
          ratio: {
            ingestEventsPerSecond: ratio(r.ingestEventsPerSecond, base.ingestEventsPerSecond),
            predictRps: ratio(r.predict.rps, base.predict.rps),
          },
        })),
        machine: { before, after: machine() },
      },
      null,
      2,
    ),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
