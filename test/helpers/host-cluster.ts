/**
 * Several local hosts (dist/local/cli.js, each its own process, port and data dir) on one
 * Azurite and one Redis, as Azure runs the app on several instances of one storage account:
 *
 *   const c = await startCluster({ partitions: 8, env: {...} })
 *   const a = await c.add('a')        another host on the same storage
 *   await a.post('/api/...', body)    JSON over HTTP with the function key (or ADMIN_KEY)
 *   await a.host.kill()               SIGKILL, as an instance lost
 *   await c.stop()
 */
import { readJsonResponse } from './json-response';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { ADMIN_KEY, FUNCTION_KEY, ROOT, startHostProcess, type HostProcess } from './host-process';
import { tempDir } from './temp';
import { storageFor } from '../../shared/azure/storage';
import { OwnershipStore } from '../../local/eventhubs/ownership';

/** The local bus's ownership expiry (local/eventhubs/bus.ts default): a record older than this is free. */
const OWNERSHIP_EXPIRY_MS = 10_000;

export interface HostClient {
  name: string;
  host: HostProcess;
  get(url: string, key?: string): Promise<{ status: number; body: any; text: string }>;
  post(url: string, body: unknown, key?: string): Promise<{ status: number; body: any; text: string }>;
  /** Publish events to a local hub through this host, each routed to the partition of its user_id. */
  publish(hub: string, events: unknown[]): Promise<void>;
}

export interface Cluster {
  azurite: AzuriteHandle;
  redis: RedisHandle;
  dir: string;
  hosts: HostClient[];
  add(name: string): Promise<HostClient>;
  /** Per owner, the partitions of a hub's consumer (function name) it owns now (live ownership records). */
  owners(hub: string, consumer: string): Promise<Map<string, string[]>>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Partitions per local hub (--partitions), the same on every host. */
  partitions?: number;
  env?: Record<string, string>;
  prefix?: string;
}

export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const tmp = tempDir(o.prefix ?? 'strata-cluster-');
  const [azurite, redis] = await Promise.all([startAzurite({ location: path.join(tmp.dir, 'azurite') }), startRedis()]);
  const hosts: HostClient[] = [];
  return {
    azurite,
    redis,
    dir: tmp.dir,
    hosts,
    async add(name) {
      const host = await startHostProcess({
        entry: path.join(ROOT, 'dist/functions/index.js'),
        storageConnection: azurite.connectionString,
        dataDir: path.join(tmp.dir, `host-${name}`),
        env: { REDIS_URL: redis.url, ...o.env },
        args: o.partitions ? ['--partitions', String(o.partitions)] : [],
      });
      const client = hostClient(name, host);
      hosts.push(client);
      return client;
    },
    async owners(hub, consumer) {
      const store = new OwnershipStore(await storageFor(azurite.connectionString).container('strata-local-eventhubs'));
      const out = new Map<string, string[]>();
      for (const r of await store.list(hub, consumer)) {
        if (!r.ownerId || Date.now() - r.modifiedAt >= OWNERSHIP_EXPIRY_MS) continue;
        out.set(r.ownerId, [...(out.get(r.ownerId) ?? []), r.partitionId].sort());
      }
      return out;
    },
    async stop() {
      await Promise.all(hosts.map((h) => h.host.stop()));
      await Promise.all([azurite.stop(), redis.stop()]);
      tmp.cleanup();
    },
  };
}

function hostClient(name: string, host: HostProcess): HostClient {
  const call = async (method: string, url: string, key: string, body?: unknown) => {
    const res = await fetch(`${host.baseUrl}${url}`, {
      method,
      headers: { 'x-functions-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return readJsonResponse(res);
  };
  return {
    name,
    host,
    get: (url, key = FUNCTION_KEY) => call('GET', url, key),
    post: (url, body, key = FUNCTION_KEY) => call('POST', url, key, body),
    async publish(hub, events) {
      const r = await call('POST', `/api/_local/eventhubs/${hub}?partitionKeyField=user_id`, ADMIN_KEY, events);
      if (r.status !== 202)
        throw new Error(`publishing ${events.length} events to ${hub} via ${name}: ${r.status} ${r.text}`);
    },
  };
}

/** The sum over instances of a Prometheus sample (`name{labels}`), read from each one's /api/metrics. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[4]);
  }
  return total;
}
