/**
 * A feature platform on real Azurite and Redis for integration tests: the same services the
 * app builds (shared/platform.ts), each test getting its own storage and Redis key space.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { useAzuriteAccounts } from './storage';
import { startRedis, type RedisHandle } from '../../local/processes/redis';
import { createPlatform, type Platform } from '../../shared/platform';
import { tempDir } from './temp';
import { loadConfig } from '../../shared/config';
import type { FeatureRepo } from '../../shared/features/definitions/repo';
import { featureRepo } from '../../shared/definitions';
import { BUSY_REDIS_SETTINGS } from './wait';

export function testPlatform(opts: {
  storageConnection: string;
  redisUrl?: string;
  dataDir: string;
  repo?: FeatureRepo;
}): Platform {
  const cfg = loadConfig({
    ...BUSY_REDIS_SETTINGS,
    AzureWebJobsStorage: opts.storageConnection,
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    STRATA_DATA_DIR: path.resolve(opts.dataDir),
  });
  return createPlatform(cfg, opts.repo ?? featureRepo);
}

/**
 * Fresh platforms for one test file, each on its own storage account and Redis database, as
 * separate deployments would have: one Azurite serving `accounts` storage accounts and one
 * redis-server for the file (a busy machine starts two processes, not one per platform).
 * Started and stopped by the file's hooks.
 */
export function freshPlatforms(
  prefix = 'strata-test-',
  accounts = 16,
): {
  platform(repo?: FeatureRepo): Promise<Platform>;
  /** `count` instances of one deployment (scale-out): one storage account and Redis database, a process's own state each. */
  instances(count: number): Platform[];
} {
  const tmp = tempDir(prefix);
  const storage = useAzuriteAccounts(accounts, prefix);
  let redis: RedisHandle | undefined;
  const platforms: Platform[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(platforms.map((p) => p.online.close()));
    await redis?.stop();
    tmp.cleanup();
  });
  return {
    async platform(repo?: FeatureRepo) {
      const i = platforms.length;
      const p = testPlatform({
        storageConnection: storage.next(),
        redisUrl: `${redis!.url}/${i % 16}`,
        dataDir: path.join(tmp.dir, `data${i}`),
        ...(repo ? { repo } : {}),
      });
      platforms.push(p);
      return p;
    },
    instances(count: number) {
      const account = storage.next();
      const db = platforms.length % 16;
      return Array.from({ length: count }, () => {
        const p = testPlatform({
          storageConnection: account,
          redisUrl: `${redis!.url}/${db}`,
          dataDir: path.join(tmp.dir, `data${platforms.length}`),
        });
        platforms.push(p);
        return p;
      });
    },
  };
}

/** Events of the churn sample, at recent times (TTLs are relative to now), minute by minute from `start`. */
export function clickEvents(
  start: number,
  users: string[],
  perUser: number,
  pages = ['/home', '/shop', '/cart'],
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < perUser; i++) {
    users.forEach((u, j) =>
      out.push({
        user_id: u,
        page: pages[(i + j) % pages.length],
        ts: new Date(start + (i * users.length + j) * 60_000).toISOString(),
      }),
    );
  }
  return out;
}
