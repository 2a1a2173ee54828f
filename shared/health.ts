/**
 * Reachability of Strata's dependencies, for GET /api/health. Each check is bounded by a
 * timeout so a hung dependency reports "down" instead of hanging the probe. The checks are
 * probes handed in by platform.ts (Blob and Table from shared/azure/storage-health.ts, the
 * online store's PING from onlineProbe here), so this module knows no backend.
 */
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

async function timed(
  check: () => Promise<Omit<DependencyHealth, 'latencyMs'>>,
  timeoutMs: number,
): Promise<DependencyHealth> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      check(),
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]);
    return { ...r, latencyMs: Math.round(performance.now() - t0) };
  } catch (err) {
    // The route is anonymous: the reason without addresses or paths (the log of the caller has the rest).
    return { ok: false, latencyMs: Math.round(performance.now() - t0), error: publicText((err as Error).message) };
  } finally {
    clearTimeout(timer);
  }
}

/** One dependency's check: what it answered (a throw or no answer in time is "down"). */
export type HealthProbe = () => Promise<Omit<DependencyHealth, 'latencyMs'>>;

/** The online store answering PING. */
export function onlineProbe(online: OnlineStore): HealthProbe {
  return async () => {
    const r = await online.ping();
    return {
      ok: r.ok,
      version: r.version,
      detail: online.kind,
      ...(r.ok ? {} : { error: `the ${online.kind} online store did not answer PING` }),
    };
  };
}

/** Every probe at once, each bounded by `timeoutMs`; the report lists them under their names in the order given. */
export async function checkHealth(
  deps: { probes: Record<string, HealthProbe>; appVersion: string },
  timeoutMs = 3000,
): Promise<HealthReport> {
  const names = Object.keys(deps.probes);
  const results = await Promise.all(names.map((n) => timed(deps.probes[n]!, timeoutMs)));
  const dependencies = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
  return {
    status: Object.values(dependencies).every((d) => d.ok) ? 'ok' : 'degraded',
    version: deps.appVersion,
    checkedAt: new Date().toISOString(),
    dependencies,
  };
}
