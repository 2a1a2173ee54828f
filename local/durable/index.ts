/**
 * The Durable Functions extension of the local host: runs the app's orchestrations on the local
 * engine, supplies `durableClient` bindings, and serves the Durable HTTP API.
 */
import { functionsCore, FunctionsCore, RegisteredFunction, RpcTypedData } from '../functions-core';
import type { HostContext, HostExtension, LocalHttpRequest, LocalHttpResponse } from '../extension';
import { DurableHttpApi } from './client-api';
import { DurableUrls, WEBHOOK_PATH } from './client-urls';
import { DurableEngine } from './engine';
import { parseTimeSpanMs } from '../timers/ncrontab';

export { DurableEngine } from './engine';
export { DurableUrls, WEBHOOK_PATH } from './client-urls';

/** host.json defaults when extensions.durableTask says nothing. */
export const DEFAULT_HUB_NAME = 'StrataHub';
const DEFAULT_MAX_ACTIVITIES = 10;
const DEFAULT_MAX_ORCHESTRATIONS = 10;

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
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the durable extension is not started: the host calls start(ctx) before any invocation');
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
      entityTrigger: "a Durable entity: entities are not supported by the local Durable engine; the entities API answers 501 and an orchestration that calls or signals one fails with a message naming the call",
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
      const limit = ctx.hostJson.functionTimeout;
      const timeout = limit === undefined || limit === '-1' ? undefined : parseTimeSpanMs(limit);
      if (limit !== undefined && limit !== '-1' && !(timeout! > 0)) throw new Error(`host.json functionTimeout "${ctx.hostJson.functionTimeout}" is not a TimeSpan such as "00:10:00"`);
      urls = new DurableUrls(ctx.baseUrl, cfg.hubName ?? DEFAULT_HUB_NAME, ctx.systemKeys?.[DURABLE_SYSTEM_KEY]);
      engine = new DurableEngine({
        core,
        storageConnection: ctx.storageConnection,
        hubName: urls.taskHubName,
        maxConcurrentActivities: cfg.maxConcurrentActivityFunctions ?? DEFAULT_MAX_ACTIVITIES,
        maxConcurrentOrchestrations: cfg.maxConcurrentOrchestratorFunctions ?? DEFAULT_MAX_ORCHESTRATIONS,
        ...(timeout !== undefined ? { functionTimeoutMs: timeout } : {}),
        ...(cfg.httpSettings?.defaultAsyncRequestSleepTimeMilliseconds !== undefined ? { httpAsyncSleepMs: cfg.httpSettings.defaultAsyncRequestSleepTimeMilliseconds } : {}),
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
      const keys = Object.entries(fn.metadata.bindings)
        .filter(([, b]) => b.direction === 'in' && (b.type === 'durableClient' || b.type === 'orchestrationClient'))
        .map(([key]) => key);
      if (!keys.length) return [];
      const payload = JSON.stringify(started(urls).clientPayload());
      return keys.map((name) => ({ name, data: { string: payload } }));
    },

    async handleHttp(req: LocalHttpRequest): Promise<LocalHttpResponse | undefined> {
      return api ? api.handle(req) : undefined;
    },
  };
}
