/**
 * The online store the config asks for.
 *
 *   createOnlineStore({ redisUrl }) -> RedisOnlineStore when REDIS_URL is set, else EmbeddedOnlineStore
 */
import type { OnlineStore } from './types';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from './redis';
import { EmbeddedOnlineStore } from './embedded';

export function createOnlineStore(cfg: { redisUrl?: string | undefined }, opts: RedisOnlineStoreOptions = {}): OnlineStore {
  return cfg.redisUrl ? new RedisOnlineStore(cfg.redisUrl, opts) : new EmbeddedOnlineStore();
}

export { RedisOnlineStore, EmbeddedOnlineStore };
export type { OnlineStore, OnlineKey, OnlineRecord, OnlineWriteResult } from './types';
