/**
 * How subsystems (the Durable engine, the Event Hubs bus, ...) plug into the local host
 * without the host knowing them: they add input bindings and own URL prefixes.
 */
import type { StorageConnection } from '../shared/azure/connections';
import type { RegisteredFunction, RpcTypedData } from './functions-core';
import type { BindingKind } from './bindings/plan';
import type { CodeWatch } from './watchdog/watchdog';
import type { WatchdogStop } from './watchdog/record';

export interface LocalHttpRequest {
  method: string;
  /** Path without query, e.g. "/runtime/webhooks/durabletask/instances/abc". */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface LocalHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface HostContext {
  /** e.g. "http://127.0.0.1:7071" (no trailing slash). */
  baseUrl: string;
  /** The host's system keys by name (for links an extension builds: `code=` in its webhook URLs). */
  systemKeys?: Readonly<Record<string, string>>;
  /** The host's storage (AzureWebJobsStorage): a connection string or an identity (shared/azure/connections.ts). */
  storageConnection: StorageConnection | string;
  dataDir: string;
  /** This host's name among the hosts on one storage, the same across its restarts. */
  hostId?: string;
  hostJson: HostJson;
  /** The host's log. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** The host watchdog (local/watchdog), when the host runs with one: told which Durable code runs. */
  watch?: CodeWatch;
  /** What the watchdog recorded when it stopped the last host on this data folder. */
  lastStop?: WatchdogStop;
}

export interface HostJson {
  /** The longest a function may run (TimeSpan, e.g. "00:10:00"). */
  functionTimeout?: string;
  extensions?: {
    http?: { routePrefix?: string };
    eventHubs?: { maxEventBatchSize?: number };
    queues?: Record<string, unknown>;
    durableTask?: {
      hubName?: string;
      maxConcurrentActivityFunctions?: number;
      maxConcurrentOrchestratorFunctions?: number;
      httpSettings?: { defaultAsyncRequestSleepTimeMilliseconds?: number };
    };
  };
  [k: string]: unknown;
}

export interface HostExtension {
  readonly name: string;
  /** The path prefix of this extension's webhooks and the system key (by name) they need, as on Azure. */
  readonly webhook?: { path: string; systemKey: string };
  /** The binding types it serves (checked at start-up with the host's own). */
  readonly bindings?: BindingKind[];
  /** Types it knows but does not run, with the warning the host prints at start-up. */
  readonly bindingsNotRun?: Record<string, string>;
  /** Extra input data for bindings this extension supplies (e.g. `durableClient`). */
  inputsFor?(fn: RegisteredFunction): Array<{ name: string; data: RpcTypedData }>;
  /** Serve a request the host's own routes did not claim; undefined = not mine. Checked before app routes. */
  handleHttp?(req: LocalHttpRequest): Promise<LocalHttpResponse | undefined>;
  start?(ctx: HostContext): Promise<void>;
  stop?(): Promise<void>;
}
