/**
 * The Durable Functions extension of the local host: runs the app's orchestrations on the local
 * engine, supplies `durableClient` bindings, and serves the Durable HTTP API.
 */
import { functionsCore, FunctionsCore, RegisteredFunction, RpcTypedData } from '../functions-core';
import type { HostContext, HostExtension, LocalHttpRequest, LocalHttpResponse } from '../extension';
import { DurableHttpApi } from './client-api';
import { DurableUrls, WEBHOOK_PATH } from './client-urls';
import { DurableEngine } from './engine';
import { functionTimeoutMs } from '../timespan';
import { ConfigError } from '../../shared/errors';

export { DurableEngine } from './engine';
export { DurableUrls, WEBHOOK_PATH } from './client-urls';

/** host.json defaults when extensions.durableTask says nothing. */
export const DEFAULT_HUB_NAME = 'StrataHub';
const DEFAULT_MAX_ACTIVITIES = 10;
const DEFAULT_MAX_ORCHESTRATIONS = 10;

/**
 * How long a host's lease on Durable work holds without renewal, and how often hosts poll for
 * work (STRATA_DURABLE_LEASE_MS, STRATA_DURABLE_POLL_MS): the defaults suit a machine; tests of
 * takeover shorten the lease.
 */
function leaseSettings(env: NodeJS.ProcessEnv = process.env): { leaseMs?: number; pollMs?: number } {
  const out: { leaseMs?: number; pollMs?: number } = {};
  for (const [name, key, min] of [
    ['STRATA_DURABLE_LEASE_MS', 'leaseMs', 1000],
    ['STRATA_DURABLE_POLL_MS', 'pollMs', 10],
  ] as const) {
    const text = env[name]?.trim();
    if (!text) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new ConfigError([
        { where: name, problem: `must be a whole number of milliseconds >= ${min}, got "${text}"` },
      ]);
    out[key] = n;
  }
  return out;
}

export interface DurableExtension extends HostExtension {
  /** The engine (after start). */
  readonly engine: DurableEngine;
  /** The links and binding payload (after start). */
  readonly urls: DurableUrls;
}

/** Azure's name of the Durable extension's system key (its webhooks take it, or the master key). */
export const DURABLE_SYSTEM_KEY = 'durabletask_extension';

export function createDurableExtension(core: FunctionsCore = functionsCore): DurableExtension {
  let engine: DurableEngine | undefined;
  let urls: DurableUrls | undefined;
  let api: DurableHttpApi | undefined;
  const clientBindings = new WeakMap<RegisteredFunction, string[]>();
  let clientPayload: string | undefined;
  const started = <T>(v: T | undefined): T => {
    if (v === undefined)
      throw new Error('the durable extension is not started: the host calls start(ctx) before any invocation');
    return v;
  };

  return {
    name: 'durable',
    webhook: { path: WEBHOOK_PATH, systemKey: DURABLE_SYSTEM_KEY },
    bindings: [
      { type: 'orchestrationTrigger', direction: 'in' },
      { type: 'activityTrigger', direction: 'in' },
      { type: 'durableClient', direction: 'in' },
      { type: 'orchestrationClient', direction: 'in' },
    ],
    bindingsNotRun: {
      entityTrigger:
        'a Durable entity: entities are not supported by the local Durable engine; the entities API answers 501 and an orchestration that calls or signals one fails with a message naming the call',
    },
    get engine() {
      return started(engine);
    },
    get urls() {
      return started(urls);
    },

    async start(ctx: HostContext): Promise<void> {
      const cfg = ctx.hostJson.extensions?.durableTask ?? {};
      // "-1" is Azure's "no limit" (Premium and Dedicated plans).
      const limit = functionTimeoutMs(ctx.hostJson);
      const timeout = limit === Infinity ? undefined : limit;
      urls = new DurableUrls(ctx.baseUrl, cfg.hubName ?? DEFAULT_HUB_NAME, ctx.systemKeys?.[DURABLE_SYSTEM_KEY]);
      clientPayload = undefined;
      engine = new DurableEngine({
        core,
        storageConnection: ctx.storageConnection,
        hubName: urls.taskHubName,
        maxConcurrentActivities: cfg.maxConcurrentActivityFunctions ?? DEFAULT_MAX_ACTIVITIES,
        maxConcurrentOrchestrations: cfg.maxConcurrentOrchestratorFunctions ?? DEFAULT_MAX_ORCHESTRATIONS,
        ...(timeout !== undefined ? { functionTimeoutMs: timeout } : {}),
        ...(cfg.httpSettings?.defaultAsyncRequestSleepTimeMilliseconds !== undefined
          ? { httpAsyncSleepMs: cfg.httpSettings.defaultAsyncRequestSleepTimeMilliseconds }
          : {}),
        ...(ctx.watch ? { watch: ctx.watch } : {}),
        ...(ctx.lastStop ? { lastStop: ctx.lastStop } : {}),
        ...(ctx.hostId ? { hostId: ctx.hostId } : {}),
        ...leaseSettings(),
        ...(ctx.log ? { log: (level: 'info' | 'warn' | 'error', m: string) => ctx.log!(level, `[durable] ${m}`) } : {}),
      });
      api = new DurableHttpApi(engine, urls);
      // The SDK's client calls the host over loopback: keep them away from any HTTP proxy.
      if (process.env.HTTP_PROXY || process.env.http_proxy || process.env.HTTPS_PROXY || process.env.https_proxy) {
        process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
      }
      await engine.start();
    },

    async stop(): Promise<void> {
      await engine?.stop();
    },

    inputsFor(fn: RegisteredFunction): Array<{ name: string; data: RpcTypedData }> {
      // Per function once: most functions have no durable client, and the payload never changes after start.
      let keys = clientBindings.get(fn);
      if (!keys) {
        keys = Object.entries(fn.metadata.bindings)
          .filter(([, b]) => b.direction === 'in' && (b.type === 'durableClient' || b.type === 'orchestrationClient'))
          .map(([key]) => key);
        clientBindings.set(fn, keys);
      }
      if (!keys.length) return [];
      clientPayload ??= JSON.stringify(started(urls).clientPayload());
      const payload = clientPayload;
      return keys.map((name) => ({ name, data: { string: payload } }));
    },

    async handleHttp(req: LocalHttpRequest): Promise<LocalHttpResponse | undefined> {
      return api ? api.handle(req) : undefined;
    },
  };
}
