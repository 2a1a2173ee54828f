/**
 * The local Functions-compatible host: loads a compiled Functions app (its ordinary `app.*`
 * registrations reach us through local/functions-core.ts), serves its HTTP functions, runs
 * its timers, feeds its Event Hubs functions (local bus or real Event Hubs) and blob
 * triggers, and lets extensions (the Durable engine) add bindings and routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { functionsCore, fromTyped, FunctionsCore, RegisteredFunction, InvocationResponse } from './functions-core';
import type { HostExtension, HostJson, LocalHttpRequest } from './extension';
import { HttpFrontDoor, HostRoute, json } from './http/server';
import { compileRoute } from './http/route';
import type { HostKeys } from './http/keys';
import { LocalEventBus, EventToPublish } from './eventhubs/bus';
import { eventHubInvocation, resolveSetting } from './eventhubs/metadata';
import { AzureEventHubSource, isRealEventHubConnection } from './eventhubs/azure-source';
import { TimerScheduler } from './timers/scheduler';
import { BlobTriggerPoller, parseBlobPath } from './blob/trigger';
import { invokeWithRetry } from './retry';
import { storageUnavailable } from '../shared/storage/clients';
import { storageFor } from '../shared/storage/clients';
import { AzureEventHubSink } from '../shared/events/event-hub-sink';
import { consoleLogger, Logger } from './logger';
import { extensionsFor } from './extensions';
import { nameProblem } from '../shared/names';
import { publicText } from '../shared/errors';

export interface LocalHostOptions {
  /** Compiled entry file of the Functions app (package.json `main`). */
  entry: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  storageConnection: string;
  keys: HostKeys;
  maxBodyBytes: number;
  /** host.json; default: the nearest host.json above the entry file. */
  hostJson?: HostJson;
  /** Partitions per local event hub (Azure's default is 4). */
  partitionCount?: number;
  blobPollMs?: number;
  /** Extra extensions; the built-in ones (Durable) come from local/extensions.ts. */
  extensions?: HostExtension[];
  log?: Logger;
  listenHost?: string;
}

export const HOST_ID = 'strata-local';

export function findHostJson(fromFile: string): HostJson {
  let dir = path.dirname(path.resolve(fromFile));
  for (;;) {
    const candidate = path.join(dir, 'host.json');
    if (fs.existsSync(candidate)) return JSON.parse(fs.readFileSync(candidate, 'utf8')) as HostJson;
    const up = path.dirname(dir);
    if (up === dir) return {};
    dir = up;
  }
}

export class LocalHost {
  readonly core: FunctionsCore = functionsCore;
  readonly log: Logger;
  readonly hostJson: HostJson;
  bus!: LocalEventBus;
  private frontDoor!: HttpFrontDoor;
  private timers: TimerScheduler | undefined;
  private blobPoller: BlobTriggerPoller | undefined;
  private readonly azureSources: AzureEventHubSource[] = [];
  private readonly azureSinks = new Map<string, AzureEventHubSink<unknown>>();
  private extensions: HostExtension[] = [];
  /** Aborted when the host stops: invocations waiting to be retried give up (and are not checkpointed). */
  private readonly stopping = new AbortController();
  baseUrl = '';
  port = 0;

  constructor(private readonly opts: LocalHostOptions) {
    this.log = opts.log ?? consoleLogger();
    this.hostJson = opts.hostJson ?? findHostJson(opts.entry);
  }

  private get routePrefix(): string {
    return this.hostJson.extensions?.http?.routePrefix ?? 'api';
  }

  async start(): Promise<void> {
    const o = this.opts;
    fs.mkdirSync(o.dataDir, { recursive: true });
    process.env.AzureWebJobsStorage = o.storageConnection;
    // The durable client rewrites URLs to this host; loopback must never go through a proxy.
    process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
    this.core.logSink = (level, category, fn, message) => {
      if (level === 'trace' || level === 'debug') return;
      this.log(level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'info', `[${fn ?? category}] ${message}`);
    };
    this.core.install();
    await this.core.loadEntry(path.resolve(o.entry));
    await this.core.finishStartup(path.dirname(path.resolve(o.entry)));

    const storage = storageFor(o.storageConnection);
    const hostContainer = await storage.container('azure-webjobs-hosts');
    this.bus = new LocalEventBus({ container: await storage.container('strata-local-eventhubs'), partitionCount: o.partitionCount ?? 4, log: this.log });
    this.core.outputHandlers.push((fn, res) => this.carryOutOutputs(fn, res));

    this.extensions = [...extensionsFor(this.core), ...(o.extensions ?? [])];
    const fallbacks: Array<(r: LocalHttpRequest) => Promise<import('./extension').LocalHttpResponse | undefined>> = [];
    const webhooks: Array<{ path: string; systemKey: string }> = [];
    this.frontDoor = new HttpFrontDoor({
      core: this.core,
      routePrefix: this.routePrefix,
      keys: o.keys,
      maxBodyBytes: o.maxBodyBytes,
      hostRoutes: this.hostRoutes(),
      fallbacks,
      webhooks,
      log: this.log,
    });
    this.port = await this.frontDoor.listen(o.port, o.listenHost ?? '127.0.0.1');
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    process.env.WEBSITE_HOSTNAME = `127.0.0.1:${this.port}`;

    for (const ext of this.extensions) {
      await ext.start?.({ baseUrl: this.baseUrl, storageConnection: o.storageConnection, dataDir: o.dataDir, hostJson: this.hostJson, ...(o.keys.systemKeys ? { systemKeys: o.keys.systemKeys } : {}) });
      if (ext.inputsFor) this.core.inputProviders.push((fn) => ext.inputsFor!(fn));
      if (ext.webhook) webhooks.push(ext.webhook);
      if (ext.handleHttp) fallbacks.push((r) => ext.handleHttp!(r));
    }

    await this.startEventHubTriggers(hostContainer);
    this.timers = new TimerScheduler(hostContainer, HOST_ID, (name, payload) => this.fireTimer(name, payload), this.log);
    await this.timers.start(
      this.core.byTrigger('timerTrigger').map((fn) => ({
        name: fn.name,
        schedule: resolveSetting(String(fn.trigger.schedule)),
        runOnStartup: fn.trigger.runOnStartup === true,
        useMonitor: fn.trigger.useMonitor !== false,
      })),
    );
    this.blobPoller = new BlobTriggerPoller(
      storage.blobs,
      hostContainer,
      HOST_ID,
      this.core.byTrigger('blobTrigger').map((fn) => ({
        functionName: fn.name,
        pattern: parseBlobPath(resolveSetting(String(fn.trigger.path))),
        invoke: async ({ data, triggerMetadata }) => {
          await invokeWithRetry(this.core, fn, { inputData: [{ name: fn.triggerKey, data }], triggerMetadata }, { signal: this.stopping.signal });
        },
      })),
      o.blobPollMs ?? 1000,
      this.log,
    );
    await this.blobPoller.start();
    this.frontDoor.ready = true;
  }

  private maxBatch(): number {
    return this.hostJson.extensions?.eventHubs?.maxEventBatchSize ?? 100;
  }

  private async startEventHubTriggers(hostContainer: import('@azure/storage-blob').ContainerClient): Promise<void> {
    for (const fn of this.core.byTrigger('eventHubTrigger')) {
      const t = fn.trigger as unknown as { eventHubName: string; connection?: string; cardinality?: 'one' | 'many'; consumerGroup?: string };
      const hub = resolveSetting(t.eventHubName);
      const cardinality = t.cardinality ?? 'many';
      const consumerGroup = t.consumerGroup ? resolveSetting(t.consumerGroup) : '$Default';
      const conn = t.connection ? process.env[t.connection] : undefined;
      const invokeBatch = async (partitionId: string, events: import('./eventhubs/metadata').DeliveredEvent[], ns: string) => {
        const batches = cardinality === 'one' ? events.map((e) => [e]) : [events];
        for (const b of batches) {
          const inv = eventHubInvocation(fn.triggerKey, cardinality, b, { eventHubName: hub, consumerGroup, partitionId, fullyQualifiedNamespace: ns });
          await invokeWithRetry(this.core, fn, inv, {
            signal: this.stopping.signal,
            onRetry: (n, ms, err) => this.log('warn', `function ${fn.name} partition ${partitionId}: attempt ${n} failed (${(err as Error).message}); retrying in ${ms} ms, the partition waits`),
          });
        }
      };
      if (isRealEventHubConnection(conn)) {
        const src = new AzureEventHubSource({
          connectionString: conn,
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
        await this.bus.subscribe(hub, fn.name, cardinality === 'one' ? 1 : this.maxBatch(), (pid, events) => invokeBatch(pid, events, 'local'));
      }
      void hostContainer;
    }
  }

  /** Output bindings the host carries out: Event Hubs outputs go to the hub (local bus or Azure). */
  private async carryOutOutputs(fn: RegisteredFunction, res: InvocationResponse): Promise<void> {
    for (const out of res.outputData ?? []) {
      const b = fn.metadata.bindings[out.name];
      if (!b || b.type !== 'eventHub') continue;
      const value = fromTyped(out.data);
      if (value === undefined || value === null) continue;
      const items = Array.isArray(value) ? value : [value];
      await this.sendToHub(resolveSetting(String(b.eventHubName)), b.connection ? String(b.connection) : undefined, items.map((body) => ({ body })));
    }
  }

  /** Publish to a hub: Azure when its connection setting is real, else the local bus. */
  async sendToHub(hub: string, connectionSetting: string | undefined, events: EventToPublish[]): Promise<void> {
    const conn = connectionSetting ? process.env[connectionSetting] : undefined;
    if (!isRealEventHubConnection(conn)) {
      await this.bus.publish(hub, events);
      return;
    }
    let sink = this.azureSinks.get(hub);
    if (!sink) this.azureSinks.set(hub, (sink = new AzureEventHubSink<unknown>(conn, hub, (bytes) => this.log('error', `an event of ${bytes} bytes for hub "${hub}" is larger than a batch may be; dropped`))));
    await sink.send(events.map((e) => e.body));
  }

  private async fireTimer(name: string, payload: unknown): Promise<void> {
    const fn = this.core.byTrigger('timerTrigger').find((f) => f.name === name);
    if (!fn) throw new Error(`no timer function named "${name}"`);
    await invokeWithRetry(this.core, fn, { inputData: [{ name: fn.triggerKey, data: { json: JSON.stringify(payload) } }] }, { signal: this.stopping.signal });
  }

  /** Functions with their triggers and, for HTTP, URLs (the start-up listing and GET /admin/functions). */
  describe(): Array<{ name: string; trigger: string; detail: string }> {
    const http = new Map(this.frontDoor.describe(this.baseUrl).map((d) => [d.name, d]));
    return [...this.core.functions.values()].map((fn) => {
      const t = fn.trigger;
      const h = http.get(fn.name);
      const detail = h
        ? `${h.methods} ${h.url} (${h.authLevel})`
        : t.type === 'timerTrigger' ? `schedule ${String(t.schedule)}`
        : t.type === 'eventHubTrigger' ? `event hub ${String(t.eventHubName)}`
        : t.type === 'blobTrigger' ? `blob ${String(t.path)}`
        : '';
      return { name: fn.name, trigger: t.type, detail };
    });
  }

  private hostRoutes(): HostRoute[] {
    const prefix = this.routePrefix;
    const route = (method: string, template: string, handle: HostRoute['handle']): HostRoute => ({ method, route: compileRoute(template), authLevel: 'admin', handle });
    return [
      route('GET', 'admin/host/status', async () => json(200, { state: 'Running', id: HOST_ID, version: this.core.api.hostVersion, functions: this.core.functions.size })),
      route('GET', 'admin/functions', async () => json(200, this.describe())),
      // Azure's admin API for running a non-HTTP function on demand; here it waits for the run to finish.
      route('POST', 'admin/functions/{name}', async (req, p) => {
        const fn = [...this.core.functions.values()].find((f) => f.name.toLowerCase() === p.name!.toLowerCase());
        if (!fn) return json(404, { error: `no function named "${p.name}"` });
        const started = Date.now();
        try {
          if (fn.trigger.type === 'timerTrigger') await this.timers!.run(fn.name, false, null);
          else if (fn.trigger.type === 'blobTrigger') await this.blobPoller!.pollOnce();
          else return json(400, { error: `function "${fn.name}" has a ${fn.trigger.type}; run HTTP functions by their URL and send events to their hub` });
        } catch (err) {
          this.log('error', `admin run of "${fn.name}" failed: ${(err as Error).stack ?? err}`);
          return json(500, { error: `function "${fn.name}" failed: ${publicText((err as Error).message)}` });
        }
        void req;
        return json(202, { function: fn.name, durationMs: Date.now() - started });
      }),
      route('POST', `${prefix}/_local/eventhubs/{hub}`, async (req, p) => this.publishFromHttp(req, p.hub!)),
      // Azure serves functions under the route prefix only; locally /dashboard is a shortcut to the page.
      { method: 'GET', route: compileRoute('dashboard'), authLevel: 'anonymous', handle: async (req) => this.redirectToDashboard(req) },
    ];
  }

  private async redirectToDashboard(req: LocalHttpRequest) {
    const search = req.query.toString();
    return { status: 302, headers: { location: `/${[this.routePrefix, 'dashboard'].filter(Boolean).join('/')}/${search ? `?${search}` : ''}` }, body: '' };
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
      if (/ndjson|jsonl/.test(ct)) bodies = text.split('\n').filter((l) => l.trim()).map((l, i) => parseLine(l, i + 1));
      else {
        const v = JSON.parse(text) as unknown;
        bodies = Array.isArray(v) ? v : [v];
      }
    } catch (err) {
      return json(400, { error: `body must be JSON (an array of events or one event) or JSON lines: ${(err as Error).message}` });
    }
    const key = req.query.get('partitionKey');
    const field = req.query.get('partitionKeyField');
    const events = bodies.map((body) => {
      const fromField = field && body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
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

  async stop(): Promise<void> {
    this.stopping.abort();
    // No new trigger work first; then let the app finish (appTerminate hooks flush buffers such as
    // the prediction log, which may still publish to the bus over HTTP); then drain and close.
    await this.blobPoller?.stop();
    await this.timers?.stop();
    await Promise.allSettled(this.azureSources.map((s) => s.stop()));
    await this.core.terminate().catch((e: Error) => this.log('warn', `appTerminate hook failed: ${e.message}`));
    this.frontDoor.ready = false;
    await this.bus?.stop();
    for (const ext of [...this.extensions].reverse()) await ext.stop?.().catch((e: Error) => this.log('warn', `extension ${ext.name}: ${e.message}`));
    await Promise.allSettled([...this.azureSinks.values()].map((p) => p.close()));
    await this.frontDoor?.close();
  }
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new Error(`line ${n}: ${(err as Error).message}`);
  }
}
