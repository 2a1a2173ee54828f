/**
 * A feature platform on real Azurite and Redis for integration tests: the same services the
 * app builds (shared/platform.ts), each test getting its own storage and Redis key space.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { createPlatform, type Platform } from '../../shared/platform';
import { tempDir } from './temp';
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

/**
 * Fresh platforms for one test file, each on its own Azurite (a storage account) and Redis
 * database, as separate deployments would have; one redis-server for the file. Started and
 * stopped by the file's hooks.
 */
export function freshPlatforms(prefix = 'strata-test-'): { platform(repo?: FeatureRepo): Promise<Platform> } {
  const tmp = tempDir(prefix);
  let redis: RedisHandle | undefined;
  const azurites: AzuriteHandle[] = [];
  const platforms: Platform[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(platforms.map((p) => p.online.close()));
    await Promise.all([...azurites.map((a) => a.stop()), redis?.stop()]);
    tmp.cleanup();
  });
  return {
    async platform(repo?: FeatureRepo) {
      const i = azurites.length;
      const azurite = await startAzurite({ location: path.join(tmp.dir, `azurite${i}`) });
      azurites.push(azurite);
      const p = testPlatform({ storageConnection: azurite.connectionString, redisUrl: `${redis!.url}/${i % 16}`, dataDir: path.join(tmp.dir, `data${i}`), ...(repo ? { repo } : {}) });
      platforms.push(p);
      return p;
    },
  };
}

/** Events of the churn sample, at recent times (TTLs are relative to now), minute by minute from `start`. */
export function clickEvents(start: number, users: string[], perUser: number, pages = ['/home', '/shop', '/cart']): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < perUser; i++) {
    users.forEach((u, j) => out.push({ user_id: u, page: pages[(i + j) % pages.length], ts: new Date(start + (i * users.length + j) * 60_000).toISOString() }));
  }
  return out;
}
