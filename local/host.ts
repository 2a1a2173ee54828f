/**
 * The local Functions-compatible host: loads a compiled Functions app (its ordinary `app.*`
 * registrations reach us through local/functions-core.ts), indexes its bindings (refusing any it
 * cannot serve), serves its HTTP functions, runs its timers, feeds its Event Hubs functions (local
 * bus or real Event Hubs), blob and queue triggers, carries out its storage and Event Hubs
 * bindings, and lets extensions (the Durable engine) add bindings and routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  functionsCore,
  fromTyped,
  FunctionsCore,
  RegisteredFunction,
  Invocation,
  InvocationResponse,
} from './functions-core';
import type { HostExtension, HostJson, LocalHttpRequest } from './extension';
import { HttpFrontDoor, HostRoute, json } from './http/server';
import { compileRoute } from './http/route';
import type { HostKeys } from './http/keys';
import type { CorsOptions } from './http/cors';
import { LocalEventBus, EventToPublish } from './eventhubs/bus';
import { eventHubInvocation, DeliveredEvent } from './eventhubs/metadata';
import { AzureEventHubSource } from './eventhubs/azure-source';
import { TimerScheduler } from './timers/scheduler';
import { BlobTriggerPoller, parseBlobPath } from './blob/trigger';
import { QueueTriggerPoller, queueSettingsFrom } from './queues/trigger';
import { invokeWithRetry } from './retry';
import { storageUnavailable } from '../shared/azure/status';
import { AppPlan, FunctionPlan, HOST_BINDINGS, planApp } from './bindings/plan';
import { StorageBindings, storageConnectionFor } from './bindings/storage';
import { executedLine, failureEntry } from './execution-log';
import { storageFor } from '../shared/azure/storage';
import { AzureEventHubSink, isRealEventHubConnection } from '../shared/azure/event-hub-sink';
import { LOCAL_HOST_URL_VARIABLE } from '../shared/config';
import {
  eventHubConnectionFromSettings,
  storageKey,
  type EventHubConnection,
  type StorageConnection,
} from '../shared/azure/connections';
import { ConfigError } from '../shared/errors';
import { consoleLogger, Logger } from './logger';
import { extensionsFor } from './extensions';
import { HostWatchdog } from './watchdog/watchdog';
import { clearWatchdogRecord, describeCode, readWatchdogRecord, type WatchdogStop } from './watchdog/record';
import { functionTimeoutMs } from './timespan';
import { nameProblem } from '../shared/names';
import { publicText } from '../shared/errors';

export interface LocalHostOptions {
  /** Entry point files of the app in load order (package.json `main` or --entry, resolved). */
  entryPoints: string[];
  /** The function app folder (host.json); default: the nearest folder with a host.json above the first entry point. */
  appDir?: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  /**
   * This host's name among the hosts on one storage (its Durable leases), the same across its
   * restarts; also WEBSITE_INSTANCE_ID for the app, as Azure names an instance. Default: "local".
   */
  hostId?: string;
  /** Where this host's own files go (its watchdog record); default: dataDir. Several hosts on one data dir need one each. */
  stateDir?: string;
  /** AzureWebJobsStorage: a connection string, or an identity (then the app reads the same settings itself). */
  storageConnection: StorageConnection | string;
  keys: HostKeys;
  maxBodyBytes: number;
  /** host.json; default: the app folder's. */
  hostJson?: HostJson;
  /** Partitions per local event hub (Azure's default is 4). */
  partitionCount?: number;
  blobPollMs?: number;
  /** local.settings.json Host.CORS / --cors. */
  cors?: CorsOptions;
  /** Extra extensions; the built-in ones (Durable) come from local/extensions.ts. */
  extensions?: HostExtension[];
  log?: Logger;
  listenHost?: string;
  /**
   * Run the host watchdog (local/watchdog): a main thread blocked past host.json functionTimeout
   * (default 00:05:00, none for -1) plus `graceMs`, or memory over `memoryBudgetBytes` (0: none),
   * kills the process after recording what ran. For a host whose restarts are supervised (the CLI).
   */
  watchdog?: { memoryBudgetBytes: number; graceMs: number };
}

/** Azure's default functionTimeout (Consumption plan), the watchdog's when host.json sets none. */
const DEFAULT_FUNCTION_TIMEOUT_MS = 5 * 60_000;

export const HOST_ID = 'strata-local';

/**
 * The Event Hubs connection a trigger's or output's `connection` setting names: a connection
 * string or `<name>__fullyQualifiedNamespace` with a credential (shared/azure/connections.ts);
 * undefined when neither is set (the local bus). Bad settings refuse, naming the setting.
 */
function eventHubConnectionOf(
  setting: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): EventHubConnection | undefined {
  if (!setting) return undefined;
  const r = eventHubConnectionFromSettings(setting, env);
  if (!r.ok) throw new ConfigError(r.problems);
  return r.value;
}

/** The nearest folder at or above `from` that holds a host.json, or undefined. */
export function findAppDir(from: string): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'host.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function readHostJson(appDir: string): HostJson {
  const file = path.join(appDir, 'host.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as HostJson) : {};
}

type EventHubTrigger = {
  eventHubName: string;
  connection?: string;
  cardinality?: 'one' | 'many';
  consumerGroup?: string;
};

export class LocalHost {
  readonly core: FunctionsCore = functionsCore;
  readonly log: Logger;
  readonly appDir: string;
  readonly hostJson: HostJson;
  bus!: LocalEventBus;
  private plan!: AppPlan;
  private frontDoor!: HttpFrontDoor;
  private timers: TimerScheduler | undefined;
  private blobPoller: BlobTriggerPoller | undefined;
  private queuePoller: QueueTriggerPoller | undefined;
  private readonly azureSources: AzureEventHubSource[] = [];
  private readonly azureSinks = new Map<string, AzureEventHubSink<unknown>>();
  private extensions: HostExtension[] = [];
  private watchdog: HostWatchdog | undefined;
  /** Aborted when the host stops: invocations waiting to be retried give up (and are not checkpointed). */
  private readonly stopping = new AbortController();
  baseUrl = '';
  port = 0;

  constructor(private readonly opts: LocalHostOptions) {
    if (!opts.entryPoints.length) throw new Error('LocalHost needs at least one entry point file');
    this.log = opts.log ?? consoleLogger();
    this.appDir = opts.appDir ?? findAppDir(path.dirname(opts.entryPoints[0]!)) ?? process.cwd();
    this.hostJson = opts.hostJson ?? readHostJson(this.appDir);
  }

  private get routePrefix(): string {
    return this.hostJson.extensions?.http?.routePrefix ?? 'api';
  }

  get hostId(): string {
    return this.opts.hostId ?? 'local';
  }

  private get stateDir(): string {
    return this.opts.stateDir ?? this.opts.dataDir;
  }

  private planOf(fn: RegisteredFunction): FunctionPlan {
    return this.plan.functions.get(fn.id)!;
  }

  async start(): Promise<void> {
    const o = this.opts;
    fs.mkdirSync(o.dataDir, { recursive: true });
    fs.mkdirSync(this.stateDir, { recursive: true });
    process.env.WEBSITE_INSTANCE_ID ??= this.hostId;
    const lastStop = this.startWatchdog();
    // The app reads AzureWebJobsStorage itself: a connection string is handed over (the embedded
    // Azurite's); identity-based settings are already in the environment the host resolved them from.
    const connectionString =
      typeof o.storageConnection === 'string'
        ? o.storageConnection
        : o.storageConnection.kind === 'connectionString'
          ? o.storageConnection.connectionString
          : undefined;
    if (connectionString !== undefined) process.env.AzureWebJobsStorage = connectionString;
    // The durable client rewrites URLs to this host; loopback must never go through a proxy.
    process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
    this.core.logSink = (level, category, fn, message) => {
      if (level === 'trace' || level === 'debug') return;
      this.log(
        level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'info',
        `[${fn ?? category}] ${message}`,
      );
    };
    this.core.onExecuted = (r) =>
      r.error === undefined ? this.log('debug', executedLine(r)) : this.log('error', failureEntry(r));
    this.core.install();
    await this.core.loadEntries(o.entryPoints);
    await this.core.finishStartup(this.appDir);

    // Index before anything starts: a binding the host cannot serve refuses the start.
    this.extensions = [...extensionsFor(this.core), ...(o.extensions ?? [])];
    this.plan = planApp(this.core.functions.values(), {
      kinds: [...HOST_BINDINGS, ...this.extensions.flatMap((e) => e.bindings ?? [])],
      notRun: Object.assign({}, ...this.extensions.map((e) => e.bindingsNotRun ?? {})),
    });
    for (const w of this.plan.warnings) this.log('warn', w);
    const queueSettings = queueSettingsFrom(this.hostJson.extensions?.queues);

    const storage = storageFor(o.storageConnection);
    const hostContainer = await storage.container('azure-webjobs-hosts');
    this.bus = new LocalEventBus({
      container: await storage.container('strata-local-eventhubs'),
      partitionCount: o.partitionCount ?? 4,
      log: this.log,
    });
    const storageBindings = new StorageBindings({
      hostConnection: o.storageConnection,
      queueMessageEncoding: queueSettings.messageEncoding,
      onQueueMessages: (conn, queue) => this.queuePoller?.notify(conn, queue),
    });
    this.core.inputProviders.push((inv) => storageBindings.inputs(inv, this.planOf(inv.fn)));
    this.core.outputHandlers.push(async (inv, res) => {
      await storageBindings.outputs(inv, this.planOf(inv.fn), res);
      await this.sendEventHubOutputs(inv, res);
    });

    const fallbacks: Array<
      (r: LocalHttpRequest) => Promise<import('./extension').LocalHttpResponse | undefined> | undefined
    > = [];
    const webhooks: Array<{ path: string; systemKey: string }> = [];
    this.frontDoor = new HttpFrontDoor({
      core: this.core,
      routePrefix: this.routePrefix,
      keys: o.keys,
      maxBodyBytes: o.maxBodyBytes,
      hostRoutes: this.hostRoutes(),
      fallbacks,
      webhooks,
      ...(o.cors ? { cors: o.cors } : {}),
      log: this.log,
    });
    this.port = await this.frontDoor.listen(o.port, o.listenHost ?? '127.0.0.1');
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    process.env.WEBSITE_HOSTNAME = `127.0.0.1:${this.port}`;
    // The app's core sends to the local bus only when told explicitly that it runs here.
    process.env[LOCAL_HOST_URL_VARIABLE] = this.baseUrl;

    for (const ext of this.extensions) {
      await ext.start?.({
        baseUrl: this.baseUrl,
        storageConnection: o.storageConnection,
        dataDir: o.dataDir,
        hostId: this.hostId,
        hostJson: this.hostJson,
        log: this.log,
        ...(o.keys.systemKeys ? { systemKeys: o.keys.systemKeys } : {}),
        ...(this.watchdog ? { watch: this.watchdog } : {}),
        ...(lastStop ? { lastStop } : {}),
      });
      if (ext.inputsFor) this.core.inputProviders.push((inv) => ext.inputsFor!(inv.fn));
      if (ext.webhook) webhooks.push(ext.webhook);
      // An extension with webhooks handles nothing outside their path: other requests skip it without an await.
      const hook = ext.webhook;
      if (ext.handleHttp)
        fallbacks.push(
          hook
            ? (r) => (r.path === hook.path || r.path.startsWith(`${hook.path}/`) ? ext.handleHttp!(r) : undefined)
            : (r) => ext.handleHttp!(r),
        );
    }

    // Every extension has taken what the watchdog recorded (the Durable engine failed or counted the blamed work).
    if (lastStop) clearWatchdogRecord(this.stateDir);
    await this.startEventHubTriggers();
    this.timers = new TimerScheduler(
      hostContainer,
      HOST_ID,
      (name, payload) => this.fireTimer(name, payload),
      this.log,
    );
    await this.timers.start(
      this.core.byTrigger('timerTrigger').map((fn) => {
        const t = this.planOf(fn).trigger;
        return {
          name: fn.name,
          schedule: String(t.schedule),
          runOnStartup: t.runOnStartup === true,
          useMonitor: t.useMonitor !== false,
        };
      }),
    );
    this.blobPoller = new BlobTriggerPoller(
      storage.blobs,
      hostContainer,
      HOST_ID,
      this.core.byTrigger('blobTrigger').map((fn) => ({
        functionName: fn.name,
        pattern: parseBlobPath(String(this.planOf(fn).trigger.path)),
        invoke: async ({ data, triggerMetadata }) => {
          await invokeWithRetry(
            this.core,
            fn,
            { inputData: [{ name: fn.triggerKey, data }], triggerMetadata },
            { signal: this.stopping.signal },
          );
        },
      })),
      o.blobPollMs ?? 1000,
      this.log,
    );
    await this.blobPoller.start();
    this.queuePoller = new QueueTriggerPoller(
      await Promise.all(
        this.core.byTrigger('queueTrigger').map(async (fn) => {
          const t = this.planOf(fn).trigger;
          const connection = storageConnectionFor(t.connection, o.storageConnection, process.env, 'queue');
          const name = String(t.queueName).toLowerCase();
          return {
            functionName: fn.name,
            connection: storageKey(connection),
            queue: await storageFor(connection).queue(name),
            poison: () => storageFor(connection).queue(`${name}-poison`),
            invoke: async ({
              data,
              triggerMetadata,
            }: {
              data: import('./functions-core').RpcTypedData;
              triggerMetadata: Record<string, import('./functions-core').RpcTypedData>;
            }) => {
              await this.core.invoke(fn.id, { inputData: [{ name: fn.triggerKey, data }], triggerMetadata });
            },
          };
        }),
      ),
      queueSettings,
      this.log,
    );
    this.queuePoller.start();
    this.frontDoor.ready = true;
    await this.runWarmup();
  }

  /** Warmup functions run once the host is up, as when Azure adds an instance. */
  private async runWarmup(): Promise<void> {
    for (const fn of this.core.byTrigger('warmupTrigger')) {
      await this.core
        .invoke(fn.id, { inputData: [{ name: fn.triggerKey, data: { json: '{}' } }] })
        .catch(() => undefined); // logged by the host
    }
  }

  private maxBatch(): number {
    return this.hostJson.extensions?.eventHubs?.maxEventBatchSize ?? 100;
  }

  private async startEventHubTriggers(): Promise<void> {
    for (const fn of this.core.byTrigger('eventHubTrigger')) {
      const t = this.planOf(fn).trigger as unknown as EventHubTrigger;
      const hub = t.eventHubName;
      const cardinality = t.cardinality ?? 'many';
      const consumerGroup = t.consumerGroup || '$Default';
      const conn = eventHubConnectionOf(t.connection);
      const invokeBatch = async (partitionId: string, events: DeliveredEvent[], ns: string) => {
        const batches = cardinality === 'one' ? events.map((e) => [e]) : [events];
        for (const b of batches) {
          const inv = eventHubInvocation(fn.triggerKey, cardinality, b, {
            eventHubName: hub,
            consumerGroup,
            partitionId,
            fullyQualifiedNamespace: ns,
          });
          await invokeWithRetry(this.core, fn, inv, {
            signal: this.stopping.signal,
            onRetry: (n, ms, err) =>
              this.log(
                'warn',
                `function ${fn.name} partition ${partitionId}: attempt ${n} failed (${(err as Error).message}); retrying in ${ms} ms, the partition waits`,
              ),
          });
        }
      };
      if (isRealEventHubConnection(conn)) {
        const src = new AzureEventHubSource({
          connection: conn,
          eventHubName: hub,
          consumerGroup,
          checkpointContainer: await storageFor(this.opts.storageConnection).container('azure-webjobs-eventhub'),
          maxBatchSize: cardinality === 'one' ? 1 : this.maxBatch(),
          handler: (ctx, events) => invokeBatch(ctx.partitionId, events, ctx.fullyQualifiedNamespace),
          log: this.log,
        });
        src.start();
        this.azureSources.push(src);
        this.log('info', `function ${fn.name}: reading Event Hub "${hub}" from Azure (setting ${t.connection})`);
      } else {
        await this.bus.subscribe(hub, fn.name, cardinality === 'one' ? 1 : this.maxBatch(), (pid, events) =>
          invokeBatch(pid, events, 'local'),
        );
      }
    }
  }

  /** Event Hubs outputs (the `$return` binding included) go to the hub: Azure or the local bus. */
  private async sendEventHubOutputs(inv: Invocation, res: InvocationResponse): Promise<void> {
    const values = new Map((res.outputData ?? []).map((o) => [o.name, o.data]));
    if (res.returnValue) values.set('$return', res.returnValue);
    for (const b of this.planOf(inv.fn).outputs) {
      if (b.binding.type !== 'eventHub') continue;
      const value = fromTyped(values.get(b.key));
      if (value === undefined || value === null) continue;
      const items = Array.isArray(value) ? value : [value];
      await this.sendToHub(
        String(b.binding.eventHubName),
        b.binding.connection ? String(b.binding.connection) : undefined,
        items.map((body) => ({ body })),
      );
    }
  }

  /** Publish to a hub: Azure when its connection setting is an Azure namespace, else the local bus. */
  async sendToHub(hub: string, connectionSetting: string | undefined, events: EventToPublish[]): Promise<void> {
    const conn = eventHubConnectionOf(connectionSetting);
    if (!isRealEventHubConnection(conn)) {
      await this.bus.publish(hub, events);
      return;
    }
    let sink = this.azureSinks.get(hub);
    if (!sink)
      this.azureSinks.set(
        hub,
        (sink = new AzureEventHubSink<unknown>(conn, hub, (bytes) =>
          this.log('error', `an event of ${bytes} bytes for hub "${hub}" is larger than a batch may be; dropped`),
        )),
      );
    await sink.send(events.map((e) => e.body));
  }

  private async fireTimer(name: string, payload: unknown): Promise<void> {
    const fn = this.core.byTrigger('timerTrigger').find((f) => f.name === name);
    if (!fn) throw new Error(`no timer function named "${name}"`);
    await invokeWithRetry(
      this.core,
      fn,
      { inputData: [{ name: fn.triggerKey, data: { json: JSON.stringify(payload) } }] },
      { signal: this.stopping.signal },
    );
  }

  /** Functions with their triggers and, for HTTP, URLs (the start-up listing and GET /admin/functions). */
  describe(): Array<{ name: string; trigger: string; detail: string }> {
    const http = new Map(this.frontDoor.describe(this.baseUrl).map((d) => [d.name, d]));
    return [...this.core.functions.values()].map((fn) => {
      const t = this.plan.functions.get(fn.id)?.trigger ?? fn.trigger;
      const h = http.get(fn.name);
      const detail = h
        ? `${h.methods} ${h.url} (${h.authLevel})`
        : t.type === 'timerTrigger'
          ? `schedule ${String(t.schedule)}`
          : t.type === 'eventHubTrigger'
            ? `event hub ${String(t.eventHubName)}`
            : t.type === 'blobTrigger'
              ? `blob ${String(t.path)}`
              : t.type === 'queueTrigger'
                ? `queue ${String(t.queueName).toLowerCase()}`
                : '';
      return { name: fn.name, trigger: t.type, detail };
    });
  }

  private hostRoutes(): HostRoute[] {
    const prefix = this.routePrefix;
    const route = (method: string, template: string, handle: HostRoute['handle']): HostRoute => ({
      method,
      route: compileRoute(template),
      authLevel: 'admin',
      handle,
    });
    return [
      route('GET', 'admin/host/status', async () =>
        json(200, {
          state: 'Running',
          id: HOST_ID,
          instanceId: this.hostId,
          version: this.core.api.hostVersion,
          functions: this.core.functions.size,
          pid: process.pid,
          dataDir: path.resolve(this.opts.dataDir),
          appDir: this.appDir,
        }),
      ),
      route('GET', 'admin/functions', async () => json(200, this.describe())),
      // Azure's admin API for running a non-HTTP function on demand; here it waits for the run to finish.
      route('POST', 'admin/functions/{name}', async (req, p) => {
        const fn = [...this.core.functions.values()].find((f) => f.name.toLowerCase() === p.name!.toLowerCase());
        if (!fn) return json(404, { error: `no function named "${p.name}"` });
        const started = Date.now();
        try {
          if (fn.trigger.type === 'timerTrigger') await this.timers!.run(fn.name, false, null);
          else if (fn.trigger.type === 'blobTrigger') await this.blobPoller!.pollOnce();
          else if (fn.trigger.type === 'queueTrigger') await this.queuePoller!.pollOnce();
          else
            return json(400, {
              error: `function "${fn.name}" has a ${fn.trigger.type}; run HTTP functions by their URL and send events to their hub`,
            });
        } catch (err) {
          this.log('error', `admin run of "${fn.name}" failed: ${(err as Error).stack ?? err}`);
          return json(500, { error: `function "${fn.name}" failed: ${publicText((err as Error).message)}` });
        }
        void req;
        return json(202, { function: fn.name, durationMs: Date.now() - started });
      }),
      route('POST', `${prefix}/_local/eventhubs/{hub}`, async (req, p) => this.publishFromHttp(req, p.hub!)),
      // Azure serves functions under the route prefix only; locally /dashboard is a shortcut to the page.
      {
        method: 'GET',
        route: compileRoute('dashboard'),
        authLevel: 'anonymous',
        handle: async (req) => this.redirectToDashboard(req),
      },
      ...this.openInferenceRedirects(),
    ];
  }

  /**
   * Open Inference Protocol clients call /v2/...; Azure serves the app's `v2/...` functions
   * under the route prefix (/api/v2/...). Locally /v2/... answers 307 (method and body kept)
   * to the prefixed path, so curl -L and redirect-following clients work and the rest see
   * where the route lives. Only for apps that serve `v2` routes under a non-empty prefix.
   */
  private openInferenceRedirects(): HostRoute[] {
    const prefix = this.routePrefix.replace(/^\/+|\/+$/g, '');
    const servesV2 = this.core
      .byTrigger('httpTrigger')
      .some((fn) => /^\/?v2(\/|$)/i.test(String((fn.trigger as { route?: string }).route ?? '')));
    if (!prefix || !servesV2) return [];
    const redirect = async (req: LocalHttpRequest) => {
      const search = req.query.toString();
      return { status: 307, headers: { location: `/${prefix}${req.path}${search ? `?${search}` : ''}` }, body: '' };
    };
    return ['GET', 'POST'].flatMap((method) =>
      ['v2', 'v2/{*rest}'].map((t) => ({
        method,
        route: compileRoute(t),
        authLevel: 'anonymous' as const,
        handle: redirect,
      })),
    );
  }

  private async redirectToDashboard(req: LocalHttpRequest) {
    const search = req.query.toString();
    return {
      status: 302,
      headers: {
        location: `/${[this.routePrefix, 'dashboard'].filter(Boolean).join('/')}/${search ? `?${search}` : ''}`,
      },
      body: '',
    };
  }

  /**
   * POST /api/_local/eventhubs/{hub}: a JSON array (or one JSON value) of event bodies, or
   * JSON lines (content-type application/x-ndjson). `partitionKey` or `partitionKeyField`
   * (a field of each body) in the query route events to partitions.
   */
  private async publishFromHttp(req: LocalHttpRequest, hub: string) {
    const problem = nameProblem('hub', hub);
    // Before the bus sees it: a hub name is a blob path prefix (`..%2F` would climb out of the bus container).
    if (problem !== undefined) return json(400, { error: `hub: ${problem}`, details: [{ where: 'hub', problem }] });
    const text = req.body.toString('utf8');
    const ct = String(req.headers['content-type'] ?? '');
    let bodies: unknown[];
    try {
      if (/ndjson|jsonl/.test(ct))
        bodies = text
          .split('\n')
          .filter((l) => l.trim())
          .map((l, i) => parseLine(l, i + 1));
      else {
        const v = JSON.parse(text) as unknown;
        bodies = Array.isArray(v) ? v : [v];
      }
    } catch (err) {
      return json(400, {
        error: `body must be JSON (an array of events or one event) or JSON lines: ${(err as Error).message}`,
      });
    }
    const key = req.query.get('partitionKey');
    const field = req.query.get('partitionKeyField');
    const events = bodies.map((body) => {
      const fromField =
        field && body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
      return { body, partitionKey: key ?? (fromField === undefined || fromField === null ? null : String(fromField)) };
    });
    try {
      const result = await this.bus.publish(hub, events);
      return json(202, { hub, accepted: events.length, ...result });
    } catch (err) {
      // The bus keeps its log in storage: an outage is a 503 naming it, and nothing was accepted.
      const down = storageUnavailable(err);
      if (down) return json(503, { error: `${down.message}; no event was accepted` });
      throw err;
    }
  }

  /** Wait until the local bus has delivered and checkpointed everything queued. */
  async drain(): Promise<void> {
    await this.bus.idle();
  }

  /** Start the watchdog when asked; the record of the watchdog that stopped the last host here, if any. */
  private startWatchdog(): WatchdogStop | undefined {
    const o = this.opts;
    const lastStop = readWatchdogRecord(this.stateDir);
    if (lastStop)
      this.log(
        'warn',
        `the last host on ${o.dataDir} was stopped by its watchdog at ${lastStop.at}: ${lastStop.detail}${lastStop.culprit ? `, while it ran ${describeCode(lastStop.culprit)}` : ''}`,
      );
    if (!o.watchdog) return lastStop;
    const timeout = functionTimeoutMs(this.hostJson) ?? DEFAULT_FUNCTION_TIMEOUT_MS;
    const timeoutText = this.hostJson.functionTimeout ?? '00:05:00 (the default)';
    this.watchdog = new HostWatchdog({
      ...(timeout !== Infinity
        ? {
            stallMs: timeout + o.watchdog.graceMs,
            stallLimit: `host.json functionTimeout ${timeoutText} plus ${o.watchdog.graceMs / 1000} s grace (STRATA_WATCHDOG_GRACE)`,
            functionTimeoutMs: timeout,
          }
        : {}),
      memoryBudgetBytes: o.watchdog.memoryBudgetBytes,
      dataDir: this.stateDir,
      log: this.log,
    });
    this.watchdog.start();
    const watchdog = this.watchdog;
    this.core.callbackObserver = (id, name) => watchdog.enter(id, name);
    return lastStop;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    // No new trigger work first; then let the app finish (appTerminate hooks flush buffers such as
    // the prediction log, which may still publish to the bus over HTTP); then drain and close.
    await this.blobPoller?.stop();
    await this.queuePoller?.stop();
    await this.timers?.stop();
    await Promise.allSettled(this.azureSources.map((s) => s.stop()));
    await this.core.terminate().catch((e: Error) => this.log('warn', `appTerminate hook failed: ${e.message}`));
    if (this.frontDoor) this.frontDoor.ready = false;
    await this.bus?.stop();
    for (const ext of [...this.extensions].reverse())
      await ext.stop?.().catch((e: Error) => this.log('warn', `extension ${ext.name}: ${e.message}`));
    await Promise.allSettled([...this.azureSinks.values()].map((p) => p.close()));
    await this.frontDoor?.close();
    this.core.callbackObserver = undefined;
    await this.watchdog?.stop();
  }
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new Error(`line ${n}: ${(err as Error).message}`);
  }
}
