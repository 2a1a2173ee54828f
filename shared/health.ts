/**
 * Reachability of Strata's dependencies, for GET /api/health. Each check is bounded by a
 * timeout so a hung dependency reports "down" instead of hanging the probe.
 */
import type { Storage } from './storage/clients';
import { publicText } from './errors';
import type { OnlineStore } from './features/online/types';

export interface DependencyHealth {
  ok: boolean;
  latencyMs: number;
  version?: string;
  detail?: string;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  version: string;
  checkedAt: string;
  dependencies: Record<string, DependencyHealth>;
}

async function timed(check: () => Promise<Omit<DependencyHealth, 'latencyMs'>>, timeoutMs: number): Promise<DependencyHealth> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      check(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { ...r, latencyMs: Math.round(performance.now() - t0) };
  } catch (err) {
    // The route is anonymous: the reason without addresses or paths (the log of the caller has the rest).
    return { ok: false, latencyMs: Math.round(performance.now() - t0), error: publicText((err as Error).message) };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkHealth(deps: { storage: Storage; online: OnlineStore; appVersion: string }, timeoutMs = 3000): Promise<HealthReport> {
  const [blob, table, online] = await Promise.all([
    timed(async () => {
      const info = await deps.storage.blobs.getProperties();
      return { ok: true, version: deps.storage.blobs.url.includes('127.0.0.1') ? 'azurite' : 'azure', detail: info.defaultServiceVersion ?? undefined };
    }, timeoutMs),
    timed(async () => {
      const it = deps.storage.tableService().listTables().byPage({ maxPageSize: 1 });
      await it.next();
      return { ok: true };
    }, timeoutMs),
    timed(async () => {
      const r = await deps.online.ping();
      return { ok: r.ok, version: r.version, detail: deps.online.kind, ...(r.ok ? {} : { error: `the ${deps.online.kind} online store did not answer PING` }) };
    }, timeoutMs),
  ]);
  const dependencies = { blob, table, onlineStore: online };
  return {
    status: Object.values(dependencies).every((d) => d.ok) ? 'ok' : 'degraded',
    version: deps.appVersion,
    checkedAt: new Date().toISOString(),
    dependencies,
  };
}
