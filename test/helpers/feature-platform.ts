/**
 * A feature platform on real Azurite and Redis for integration tests: the same services the
 * app builds (shared/platform.ts), each test getting its own storage and Redis key space.
 */
import path from 'node:path';
import { createPlatform, type Platform } from '../../shared/platform';
import { loadConfig } from '../../shared/config';
import type { FeatureRepo } from '../../shared/features/repo';
import { featureRepo } from '../../shared/definitions';

export function testPlatform(opts: { storageConnection: string; redisUrl?: string; dataDir: string; repo?: FeatureRepo }): Platform {
  const cfg = loadConfig({
    AzureWebJobsStorage: opts.storageConnection,
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    STRATA_DATA_DIR: path.resolve(opts.dataDir),
  });
  return createPlatform(cfg, opts.repo ?? featureRepo);
}

/** Events of the churn sample, at recent times (TTLs are relative to now), minute by minute from `start`. */
export function clickEvents(start: number, users: string[], perUser: number, pages = ['/home', '/shop', '/cart']): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < perUser; i++) {
    users.forEach((u, j) => out.push({ user_id: u, page: pages[(i + j) % pages.length], ts: new Date(start + (i * users.length + j) * 60_000).toISOString() }));
  }
  return out;
}
