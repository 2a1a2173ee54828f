/**
 * The online store in Redis.
 *
 *   const store = new RedisOnlineStore(url, { prefix?, batchSize? })
 *   store.write(view, rows, ttlMs?) -> { applied, skipped }
 *   store.read(keys)                -> (OnlineRecord | null)[]   one round trip, any views (one key: HGETALL; more: a pipeline)
 *   store.forgetAfter(view, entityIds, eventTs) -> removed     values dated after eventTs go (a repair, not a hot path)
 *   store.ping() / store.close()
 *
 * Layout: one hash per (view, entity) at `strata:v1:{view}:{entity}` holding every feature value
 * (encoded so types round-trip, codec.ts) plus `@e` (eventTs) and `@c` (createdTs).
 *
 * A write is one Lua script per row (EVALSHA; the script is loaded once, and loaded again when
 * Redis answers NOSCRIPT after a restart or failover): it replaces the hash only if the row's
 * (eventTs, createdTs) is newer than the stored pair, so late rows never overwrite newer values and
 * a replay changes nothing; with a TTL it sets PEXPIREAT eventTs + ttl, and a row whose expiry
 * has already passed (by Redis's clock) is not written. Rows go in explicit pipelines of
 * `batchSize` (500): no read-then-write round trip, no auto-pipelining (slower on 2 cores).
 */
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { DependencyError } from '../../errors';
import { forEachLimit } from '../../concurrency';
import type { FeatureRow, FeatureValue } from '../types';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from './types';
import { CREATED_TS_FIELD, DEFAULT_KEY_PREFIX, EVENT_TS_FIELD, decodeValue, encodeValue, expiryOf, onlineKey } from './codec';

// KEYS[1] the hash; ARGV: eventTs, createdTs, expireAt ('' = none), then field, value, ...
// A value is served while now < expireAt (as in training sets: event_ts > t - ttl); Redis drops a
// key once now > its expiry time, hence PEXPIREAT expireAt - 1.
const WRITE_IF_NEWER = `
local e = tonumber(ARGV[1])
local c = tonumber(ARGV[2])
local exp = ARGV[3]
if exp ~= '' then
  local t = redis.call('TIME')
  if tonumber(exp) <= tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return 0 end
end
local cur = redis.call('HMGET', KEYS[1], '${EVENT_TS_FIELD}', '${CREATED_TS_FIELD}')
if cur[1] then
  local ce = tonumber(cur[1])
  if e < ce or (e == ce and c <= tonumber(cur[2])) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '${EVENT_TS_FIELD}', ARGV[1], '${CREATED_TS_FIELD}', ARGV[2], unpack(ARGV, 4))
if exp ~= '' then redis.call('PEXPIREAT', KEYS[1], tonumber(exp) - 1) end
return 1
`;
const WRITE_SHA = createHash('sha1').update(WRITE_IF_NEWER).digest('hex');

// KEYS[1] the hash; ARGV[1] an event time: the hash goes if its event time is later.
const FORGET_IF_AFTER = `
local e = redis.call('HGET', KEYS[1], '${EVENT_TS_FIELD}')
if e and tonumber(e) > tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/** Pipelines in flight at once per write: enough to keep the socket busy, bounded memory. */
const PIPELINES_IN_FLIGHT = 4;

export interface RedisOnlineStoreOptions {
  prefix?: string;
  /** Rows per pipeline (default 500). */
  batchSize?: number;
}

export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly batchSize: number;
  private scriptLoaded: Promise<unknown> | undefined;

  constructor(
    private readonly url: string,
    opts: RedisOnlineStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_KEY_PREFIX;
    this.batchSize = opts.batchSize ?? 500;
    this.redis = new Redis(url, {
      lazyConnect: true,
      enableAutoPipelining: false,
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
    });
    // Errors surface on the commands that hit them (as DependencyError); keep the event quiet.
    this.redis.on('error', () => {});
  }

  async write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult> {
    if (!rows.length) return { applied: 0, skipped: 0 };
    await this.loadScript();
    const chunks: FeatureRow[][] = [];
    for (let i = 0; i < rows.length; i += this.batchSize) chunks.push(rows.slice(i, i + this.batchSize));
    let applied = 0;
    await forEachLimit(chunks, PIPELINES_IN_FLIGHT, async (chunk) => {
      const n = await this.writeChunk(view, chunk, ttlMs); // not `applied += await`: that reads applied before awaiting
      applied += n;
    });
    return { applied, skipped: rows.length - applied };
  }

  async forgetAfter(view: string, entityIds: string[], eventTs: number): Promise<number> {
    const ids = [...new Set(entityIds)];
    let removed = 0;
    for (let i = 0; i < ids.length; i += this.batchSize) {
      const p = this.redis.pipeline();
      for (const id of ids.slice(i, i + this.batchSize)) p.eval(FORGET_IF_AFTER, 1, onlineKey(this.prefix, view, id), String(eventTs));
      const results = await this.run(() => p.exec(), 'remove features');
      for (const [err, res] of results) {
        if (err) throw this.unavailable('remove features', err);
        removed += res === 1 ? 1 : 0;
      }
    }
    return removed;
  }

  async read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>> {
    if (!keys.length) return [];
    if (keys.length === 1) {
      // One key (a single-entity predict or lookup): a plain HGETALL, about half the cost of a one-command pipeline.
      const k = keys[0]!;
      return [decodeRecord(await this.run(() => this.redis.hgetall(onlineKey(this.prefix, k.view, k.entityId)), 'read features'))];
    }
    const p = this.redis.pipeline();
    for (const k of keys) p.hgetall(onlineKey(this.prefix, k.view, k.entityId));
    const results = await this.run(() => p.exec(), 'read features');
    return results.map(([err, hash]) => {
      if (err) throw this.unavailable('read features', err);
      return decodeRecord(hash as Record<string, string>);
    });
  }

  async ping(): Promise<{ ok: boolean; version: string }> {
    try {
      const info = await this.redis.info('server');
      return { ok: true, version: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown' };
    } catch {
      return { ok: false, version: '' };
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'wait' || this.redis.status === 'end') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // -------------------------------------------------------------------------------------------

  /** Rows applied in one pipeline; rows Redis did not know the script for are sent again after loading it. */
  private async writeChunk(view: string, rows: FeatureRow[], ttlMs: number | undefined, attempt = 0): Promise<number> {
    const p = this.redis.pipeline();
    for (const row of rows) p.evalsha(WRITE_SHA, 1, onlineKey(this.prefix, view, row.entityId), ...argsOf(row, ttlMs));
    const results = await this.run(() => p.exec(), 'write features');
    let applied = 0;
    const retry: FeatureRow[] = [];
    results.forEach(([err, res], i) => {
      if (!err) applied += res === 1 ? 1 : 0;
      else if (/NOSCRIPT/.test(err.message)) retry.push(rows[i]!);
      else throw this.unavailable('write features', err);
    });
    if (!retry.length) return applied;
    if (attempt >= 2) {
      throw new DependencyError(`Redis at ${redact(this.url)} keeps forgetting the online-store script (NOSCRIPT); check that Lua scripts are allowed`);
    }
    this.scriptLoaded = undefined;
    await this.loadScript();
    return applied + (await this.writeChunk(view, retry, ttlMs, attempt + 1));
  }

  private loadScript(): Promise<unknown> {
    if (!this.scriptLoaded) {
      this.scriptLoaded = this.run(() => this.redis.script('LOAD', WRITE_IF_NEWER), 'load the write script');
      this.scriptLoaded.catch(() => (this.scriptLoaded = undefined));
    }
    return this.scriptLoaded;
  }

  private async run<T>(op: () => Promise<T | null>, what: string): Promise<T> {
    try {
      if (this.redis.status === 'wait') await this.redis.connect();
      const r = await op();
      if (r === null) throw new Error('the pipeline was discarded');
      return r;
    } catch (e) {
      throw e instanceof DependencyError ? e : this.unavailable(what, e as Error);
    }
  }

  private unavailable(what: string, e: Error): DependencyError {
    return new DependencyError(`Redis at ${redact(this.url)}: could not ${what}: ${e.message}`);
  }
}

function argsOf(row: FeatureRow, ttlMs: number | undefined): string[] {
  const exp = expiryOf(row.eventTs, ttlMs);
  const args = [String(row.eventTs), String(row.createdTs), exp === undefined ? '' : String(exp)];
  for (const [k, v] of Object.entries(row.values)) args.push(k, encodeValue(v));
  return args;
}

function decodeRecord(hash: Record<string, string> | null): OnlineRecord | null {
  if (!hash || hash[EVENT_TS_FIELD] === undefined) return null;
  const values: Record<string, FeatureValue> = {};
  for (const [k, v] of Object.entries(hash)) if (k !== EVENT_TS_FIELD && k !== CREATED_TS_FIELD) values[k] = decodeValue(v);
  return { values, eventTs: Number(hash[EVENT_TS_FIELD]), createdTs: Number(hash[CREATED_TS_FIELD]) };
}

/** A URL for messages: the password replaced. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
