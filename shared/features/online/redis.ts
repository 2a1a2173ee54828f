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
 * `batchSize` (500): no read-then-write round trip, no auto-pipelining (slower on 2 cores). Only
 * the newest row of each entity in a write is sent (codec.ts newestPerEntity): the others
 * could not win, and a busy entity would otherwise cost one script run per event.
 *
 * Bounded waits. A Redis that hangs (frozen, overloaded, a half-open connection) must not hang
 * its callers: reads (predict, GET /api/features, health) and writes (ingest) run on two
 * connections with their own command timeouts (STRATA_REDIS_READ_TIMEOUT_MS, default 1 s;
 * STRATA_REDIS_WRITE_TIMEOUT_MS, default 10 s) and a connect timeout, and a timeout surfaces as
 * DependencyError (503 naming Redis). A write that timed out is retried by its caller (the
 * ingest batch), which the compare-and-set makes harmless. Two connections also keep a big
 * ingest pipeline from queueing in front of a predict's single HGETALL.
 *
 * Microsoft Entra ID (Azure Managed Redis): with `credentials` (a source of { username: the
 * principal's object id, password: a token, expiresAt }) both connections sign in with the token
 * before their first command, and each sends AUTH with a fresh token ahead of expiry (at 3/4 of
 * the token's remaining life, at least a minute before it ends), as Azure requires of every
 * connection; reconnects use the newest token. A failed refresh is retried every 30 s while the
 * old token lasts; after that commands fail as DependencyError naming the cause.
 */
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { DependencyError } from '../../errors';
import type { RedisCredentials } from '../../azure/client-factory';
import { forEachLimit } from '../../concurrency';
import type { FeatureRow, FeatureValue } from '../definitions/values';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from './types';
import {
  CREATED_TS_FIELD,
  DEFAULT_KEY_PREFIX,
  EVENT_TS_FIELD,
  decodeValue,
  encodeValue,
  expiryOf,
  newestPerEntity,
  onlineKey,
} from './codec';

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
  /** Bound on one read command or pipeline, ms (default 1000). */
  readTimeoutMs?: number;
  /** Bound on one write command, ms (default 10000). */
  writeTimeoutMs?: number;
  /** Bound on opening a connection, ms (default 1000). */
  connectTimeoutMs?: number;
  /** Token-based sign-in (Microsoft Entra ID), refreshed before expiry; default: the URL's own auth. */
  credentials?: () => Promise<RedisCredentials>;
}

const REFRESH_RETRY_MS = 30_000;

const DEFAULT_READ_TIMEOUT_MS = 1_000;
const DEFAULT_WRITE_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;

export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis' as const;
  /** Reads: predict, features, health. */
  private readonly reads: Redis;
  /** Writes: ingest, backfill refresh, materialize. */
  private readonly writes: Redis;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private scriptLoaded: Promise<unknown> | undefined;

  constructor(
    private readonly url: string,
    opts: RedisOnlineStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? DEFAULT_KEY_PREFIX;
    this.batchSize = opts.batchSize ?? 500;
    this.readTimeoutMs = opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    const client = (commandTimeout: number) => {
      const r = new Redis(url, {
        lazyConnect: true,
        enableAutoPipelining: false,
        maxRetriesPerRequest: 2,
        connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        commandTimeout,
      });
      // Errors surface on the commands that hit them (as DependencyError); keep the event quiet.
      r.on('error', () => {});
      return r;
    };
    this.reads = client(this.readTimeoutMs);
    this.writes = client(this.writeTimeoutMs);
    if (opts.credentials) this.credentials = opts.credentials;
  }

  private readonly credentials: (() => Promise<RedisCredentials>) | undefined;
  private signedIn: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** With token credentials: the first token is on both connections before any command runs. */
  private signIn(): Promise<void> {
    if (!this.credentials) return Promise.resolve();
    if (!this.signedIn) {
      this.signedIn = this.refreshCredentials();
      this.signedIn.catch(() => (this.signedIn = undefined));
    }
    return this.signedIn;
  }

  /** Get a token, put it on both connections (AUTH on open ones), and plan the next refresh. */
  private async refreshCredentials(): Promise<void> {
    let c: RedisCredentials;
    try {
      c = await this.credentials!();
    } catch (e) {
      throw new DependencyError(
        `Redis at ${redact(this.url)}: could not get a Microsoft Entra token: ${(e as Error).message}`,
      );
    }
    await Promise.all(
      [this.reads, this.writes].map(async (r) => {
        r.options.username = c.username;
        r.options.password = c.password;
        if (r.status === 'ready') await r.auth(c.username, c.password);
      }),
    );
    this.planRefresh(refreshDelay(c.expiresAt, Date.now()));
  }

  private planRefresh(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshCredentials().catch(() => this.planRefresh(REFRESH_RETRY_MS));
    }, ms);
    this.refreshTimer.unref();
  }

  async write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult> {
    if (!rows.length) return { applied: 0, skipped: 0 };
    await this.loadScript();
    const candidates = newestPerEntity(rows);
    const chunks: FeatureRow[][] = [];
    for (let i = 0; i < candidates.length; i += this.batchSize) chunks.push(candidates.slice(i, i + this.batchSize));
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
      const p = this.writes.pipeline();
      for (const id of ids.slice(i, i + this.batchSize))
        p.eval(FORGET_IF_AFTER, 1, onlineKey(this.prefix, view, id), String(eventTs));
      const results = await this.run(this.writes, () => p.exec(), 'remove features');
      for (const [err, res] of results) {
        if (err) throw this.unavailable('remove features', err, this.writes);
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
      return [
        decodeRecord(
          await this.run(
            this.reads,
            () => this.reads.hgetall(onlineKey(this.prefix, k.view, k.entityId)),
            'read features',
          ),
        ),
      ];
    }
    const p = this.reads.pipeline();
    for (const k of keys) p.hgetall(onlineKey(this.prefix, k.view, k.entityId));
    const results = await this.run(this.reads, () => p.exec(), 'read features');
    return results.map(([err, hash]) => {
      if (err) throw this.unavailable('read features', err);
      return decodeRecord(hash as Record<string, string>);
    });
  }

  async ping(): Promise<{ ok: boolean; version: string }> {
    try {
      await this.signIn();
      const info = await this.reads.info('server');
      return { ok: true, version: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown' };
    } catch {
      return { ok: false, version: '' };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refreshTimer);
    await Promise.all(
      [this.reads, this.writes].map(async (r) => {
        if (r.status === 'wait' || r.status === 'end') return r.disconnect();
        await r.quit().catch(() => r.disconnect());
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  /** Rows applied in one pipeline; rows Redis did not know the script for are sent again after loading it. */
  private async writeChunk(view: string, rows: FeatureRow[], ttlMs: number | undefined, attempt = 0): Promise<number> {
    const p = this.writes.pipeline();
    for (const row of rows) p.evalsha(WRITE_SHA, 1, onlineKey(this.prefix, view, row.entityId), ...argsOf(row, ttlMs));
    const results = await this.run(this.writes, () => p.exec(), 'write features');
    let applied = 0;
    const retry: FeatureRow[] = [];
    results.forEach(([err, res], i) => {
      if (!err) applied += res === 1 ? 1 : 0;
      else if (/NOSCRIPT/.test(err.message)) retry.push(rows[i]!);
      else throw this.unavailable('write features', err, this.writes);
    });
    if (!retry.length) return applied;
    if (attempt >= 2) {
      throw new DependencyError(
        `Redis at ${redact(this.url)} keeps forgetting the online-store script (NOSCRIPT); check that Lua scripts are allowed`,
      );
    }
    this.scriptLoaded = undefined;
    await this.loadScript();
    return applied + (await this.writeChunk(view, retry, ttlMs, attempt + 1));
  }

  private loadScript(): Promise<unknown> {
    if (!this.scriptLoaded) {
      this.scriptLoaded = this.run(
        this.writes,
        () => this.writes.script('LOAD', WRITE_IF_NEWER),
        'load the write script',
      );
      this.scriptLoaded.catch(() => (this.scriptLoaded = undefined));
    }
    return this.scriptLoaded;
  }

  /**
   * One command (or pipeline) on a connection; failures become DependencyError. No explicit
   * connect(): it waits for Redis's ready check, which a frozen Redis never answers; a command
   * on a lazy client connects it and is bounded by the command timeout.
   */
  private async run<T>(client: Redis, op: () => Promise<T | null>, what: string): Promise<T> {
    try {
      if (this.credentials) await this.signIn(); // no credential: no extra turn of the event loop per read
      const r = await op();
      if (r === null) throw new Error('the pipeline was discarded');
      return r;
    } catch (e) {
      throw e instanceof DependencyError ? e : this.unavailable(what, e as Error, client);
    }
  }

  private unavailable(what: string, e: Error, client: Redis = this.reads): DependencyError {
    const timedOut = /Command timed out/i.test(e.message);
    const [ms, setting] =
      client === this.reads
        ? [this.readTimeoutMs, 'STRATA_REDIS_READ_TIMEOUT_MS']
        : [this.writeTimeoutMs, 'STRATA_REDIS_WRITE_TIMEOUT_MS'];
    return new DependencyError(
      `Redis at ${redact(this.url)}: could not ${what}: ${timedOut ? `no answer within ${ms} ms (${setting})` : e.message}`,
    );
  }
}

/**
 * When to refresh a token that expires at `expiresAt`: after 3/4 of its remaining life, but at
 * least a minute before it ends (and not sooner than a second from now).
 */
export function refreshDelay(expiresAt: number, now: number): number {
  const left = expiresAt - now;
  return Math.max(1_000, Math.min(Math.floor(left * 0.75), left - 60_000));
}

function argsOf(row: FeatureRow, ttlMs: number | undefined): string[] {
  const exp = expiryOf(row.eventTs, ttlMs);
  const args = [String(row.eventTs), String(row.createdTs), exp === undefined ? '' : String(exp)];
  const values = row.values;
  for (const k in values) args.push(k, encodeValue(values[k] as FeatureValue));
  return args;
}

function decodeRecord(hash: Record<string, string> | null): OnlineRecord | null {
  if (!hash || hash[EVENT_TS_FIELD] === undefined) return null;
  const values: Record<string, FeatureValue> = {};
  for (const k in hash) if (k !== EVENT_TS_FIELD && k !== CREATED_TS_FIELD) values[k] = decodeValue(hash[k] as string); // every read (predict) passes here: no entries arrays
  return { values, eventTs: Number(hash[EVENT_TS_FIELD]), createdTs: Number(hash[CREATED_TS_FIELD]) };
}

/** A URL for messages: the password replaced. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
