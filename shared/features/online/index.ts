/**
 * The online store the config asks for.
 *
 *   createOnlineStore({ redisUrl, redis?, redis*TimeoutMs }) -> RedisOnlineStore when REDIS_URL is set (with the
 *                                                      config's read/write/connect timeouts), else EmbeddedOnlineStore
 *
 * With `redis.kind === 'identity'` (REDIS_URL__credential / __clientId: Azure Managed Redis with
 * Microsoft Entra ID) the store signs in with tokens from shared/azure/client-factory.ts and
 * re-authenticates before each expires; otherwise the URL carries the auth (a key, or none).
 *
 * The platform wraps the embedded store in RestoredOnlineStore (restored.ts): it lives in process
 * memory and is rebuilt from the offline store on start.
 */
import type { OnlineStore } from './types';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from './redis';
import { EmbeddedOnlineStore } from './embedded';
import type { RedisConnection } from '../../azure/connections';
import { redisCredentialSource } from '../../azure/client-factory';

export function createOnlineStore(
  cfg: {
    redisUrl?: string | undefined;
    redis?: RedisConnection | undefined;
    redisReadTimeoutMs?: number;
    redisWriteTimeoutMs?: number;
    redisConnectTimeoutMs?: number;
  },
  opts: RedisOnlineStoreOptions = {},
): OnlineStore {
  const url = cfg.redis?.url ?? cfg.redisUrl;
  if (!url) return new EmbeddedOnlineStore();
  return new RedisOnlineStore(url, {
    ...(cfg.redis?.kind === 'identity' ? { credentials: redisCredentialSource(cfg.redis.credential) } : {}),
    ...(cfg.redisReadTimeoutMs !== undefined ? { readTimeoutMs: cfg.redisReadTimeoutMs } : {}),
    ...(cfg.redisWriteTimeoutMs !== undefined ? { writeTimeoutMs: cfg.redisWriteTimeoutMs } : {}),
    ...(cfg.redisConnectTimeoutMs !== undefined ? { connectTimeoutMs: cfg.redisConnectTimeoutMs } : {}),
    ...opts,
  });
}

export { RedisOnlineStore, EmbeddedOnlineStore };
export type { OnlineStore, OnlineKey, OnlineRecord, OnlineWriteResult } from './types';
