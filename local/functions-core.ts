/**
 * Strata's stand-in for the worker-provided module `@azure/functions-core`.
 *
 * @azure/functions lazily requires that module on the first `app.*` call; in Azure the
 * Node worker supplies it. Installing this one first means the app's ordinary
 * registrations (`app.http`, `app.timer`, `df.app.orchestration`, ...) reach the local host
 * with exactly the metadata and callbacks the real worker receives: there is no second
 * list of functions anywhere. See ../shared/design/local-host.md.
 */
import Module from 'node:module';
import { randomUUID } from 'node:crypto';

export interface Binding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  [prop: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, Binding>;
  retryOptions?: RetryOptions;
  [prop: string]: unknown;
}

export interface RetryOptions {
  strategy: 'fixedDelay' | 'exponentialBackoff' | string;
  maxRetryCount: number;
  delayInterval?: unknown;
  minimumInterval?: unknown;
  maximumInterval?: unknown;
}

/** RPC typed data as the worker exchanges it with the library. */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  int?: number | null;
  double?: number | null;
  http?: unknown;
  [k: string]: unknown;
}

export interface InvocationRequest {
  inputData?: Array<{ name: string; data: RpcTypedData }>;
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number; exception?: { message?: string } };
  invocationId?: string;
}

export interface InvocationResponse {
  outputData?: Array<{ name: string; data: RpcTypedData }>;
  returnValue?: RpcTypedData;
}

export interface RegisteredFunction {
  id: string;
  name: string;
  metadata: FunctionMetadata;
  /** The binding key and binding of the trigger (the one whose type ends in "Trigger"). */
  triggerKey: string;
  trigger: Binding;
  callback: (...args: unknown[]) => unknown;
  /** The entry point file that registered it (the worker's scriptFile). */
  scriptFile: string | undefined;
}

/** One invocation as the host's binding providers see it (before and after the function runs). */
export interface Invocation {
  readonly fn: RegisteredFunction;
  readonly invocationId: string;
  readonly request: InvocationRequest;
  readonly startedAt: Date;
  /** Memory shared by the providers of this invocation (e.g. expressions resolved once for both input and output). */
  readonly state: Map<string, unknown>;
}

/** How an invocation ended, for the host's log ("Executed 'Functions.x' (Failed, Id=..., Duration=...ms)"). */
export interface ExecutionRecord {
  fn: RegisteredFunction;
  invocationId: string;
  durationMs: number;
  error?: unknown;
}

type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';
type HookCallback = (ctx: Record<string, unknown>) => unknown;

// The programming model is the library's object; we only call the methods the worker calls.
interface ProgrammingModel {
  name?: string;
  version?: string;
  getCapabilities?(caps: Record<string, string>): Promise<Record<string, string>> | Record<string, string>;
  getInvocationModel(coreCtx: unknown): InvocationModel;
}
interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: unknown): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

export class Disposable {
  static from(...items: Array<{ dispose(): void }>): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  private cb: (() => void) | undefined;
  constructor(cb: () => void) {
    this.cb = cb;
  }
  dispose(): void {
    this.cb?.();
    this.cb = undefined;
  }
}

export type LogSink = (level: string, category: string, functionName: string | undefined, message: string) => void;

/** The captured app: its functions, hooks and programming model. One per process (the library keeps global state). */
export class FunctionsCore {
  readonly functions = new Map<string, RegisteredFunction>();
  private readonly hooks: Record<HookName, HookCallback[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  private readonly appHookData: Record<string, unknown> = {};
  private readonly appLevelOnlyHookData: Record<string, unknown> = {};
  private programmingModel: ProgrammingModel | undefined;
  private indexingLocked = false;
  /** Supply input data for non-trigger bindings the host provides (`durableClient`, blob and table inputs). */
  readonly inputProviders: Array<
    (
      inv: Invocation,
    ) => Array<{ name: string; data: RpcTypedData }> | Promise<Array<{ name: string; data: RpcTypedData }>>
  > = [];
  /** Carry out output bindings (Event Hubs, blob, table, queue) after an invocation succeeded, on every trigger path. */
  readonly outputHandlers: Array<(inv: Invocation, res: InvocationResponse) => Promise<void>> = [];
  /** Told about every invocation that ran (the host logs failures as the Functions host does). */
  onExecuted: (record: ExecutionRecord) => void = () => undefined;
  /**
   * Called right before the app's callback runs; the function it returns, right after the
   * callback returns (its synchronous part): the host watchdog names the code on the stack.
   */
  callbackObserver: ((invocationId: string, functionName: string) => () => void) | undefined;
  /** The entry point being loaded (registrations made meanwhile come from it). */
  private currentEntryPoint: string | undefined;
  logSink: LogSink = (level, category, fn, message) => {
    if (level === 'debug' || level === 'trace') return;
    const line = `[${fn ?? category}] ${message}`;
    if (level === 'error' || level === 'critical') console.error(line);
    else console.log(line);
  };

  /** The object `require('@azure/functions-core')` returns. */
  readonly api = {
    version: '4.99.0-strata-local',
    hostVersion: '4.1040.0-strata-local',
    Disposable,
    registerFunction: (metadata: FunctionMetadata, callback: (...args: unknown[]) => unknown): Disposable => {
      if (this.indexingLocked) throw new Error('A function can only be registered during app startup.');
      const id = metadata.functionId ?? metadata.name;
      if (this.functions.has(id)) throw new Error(`A function with id "${id}" has already been registered.`);
      const entry = Object.entries(metadata.bindings).find(([, b]) => /trigger$/i.test(b.type));
      if (!entry) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
      this.functions.set(id, {
        id,
        name: metadata.name,
        metadata: { ...metadata, functionId: id },
        triggerKey: entry[0],
        trigger: entry[1],
        callback,
        scriptFile: this.currentEntryPoint,
      });
      return new Disposable(() => this.functions.delete(id));
    },
    registerHook: (name: string, cb: HookCallback): Disposable => {
      const list = this.hooks[name as HookName];
      if (!list) throw new RangeError(`Unrecognized hook "${name}"`);
      list.push(cb);
      return new Disposable(() => {
        const i = list.indexOf(cb);
        if (i >= 0) list.splice(i, 1);
      });
    },
    setProgrammingModel: (pm: ProgrammingModel): void => {
      this.programmingModel = pm;
    },
    getProgrammingModel: (): ProgrammingModel | undefined => this.programmingModel,
    log: (level: string, category: string, message: string): void => this.logSink(level, category, undefined, message),
  };

  private installed = false;
  /** Answer `require('@azure/functions-core')` from now on, as the Node worker does. */
  install(): this {
    if (this.installed) return this;
    this.installed = true;
    const api = this.api;
    const proto = Module.prototype as unknown as { require: (id: string) => unknown };
    proto.require = new Proxy(proto.require, {
      apply(target, thisArg, args: [string]) {
        if (args[0] === '@azure/functions-core') return api;
        return Reflect.apply(target, thisArg, args);
      },
    });
    return this;
  }

  /** Load a compiled app entry (CommonJS or ESM), like the worker loads package.json `main`. */
  async loadEntry(file: string): Promise<void> {
    await this.loadEntries([file]);
  }

  /**
   * Load the entry point files in order, as the worker's startApp does; an error names the file
   * that failed, with the worker's wording, and keeps the app's own error as its cause.
   */
  async loadEntries(files: string[]): Promise<void> {
    this.install();
    for (const file of files) {
      this.currentEntryPoint = file;
      try {
        if (file.endsWith('.mjs')) await import(require('node:url').pathToFileURL(file).href);
        else require(file);
      } catch (err) {
        throw new EntryPointLoadError(file, err);
      } finally {
        this.currentEntryPoint = undefined;
      }
    }
  }

  /** Worker order after loading: appStart hooks, then capabilities (which locks app.setup). */
  async finishStartup(functionAppDirectory: string): Promise<Record<string, string>> {
    this.indexingLocked = true;
    for (const h of this.hooks.appStart)
      await h({ hookData: this.appLevelOnlyHookData, appHookData: this.appHookData, functionAppDirectory });
    let caps: Record<string, string> = {
      RawHttpBodyBytes: 'true',
      RpcHttpTriggerMetadataRemoved: 'true',
      RpcHttpBodyOnly: 'true',
      IgnoreEmptyValuedRpcHttpHeaders: 'true',
      UseNullableValueDictionaryForHttp: 'true',
      WorkerStatus: 'true',
      TypedDataCollection: 'true',
      HandlesWorkerTerminateMessage: 'true',
    };
    if (this.programmingModel?.getCapabilities) caps = await this.programmingModel.getCapabilities(caps);
    this.capabilities = caps;
    return caps;
  }

  /** What the worker side said it can do (HttpUri: the app streams HTTP through the library's proxy). */
  capabilities: Record<string, string> = {};

  async terminate(): Promise<void> {
    for (const h of this.hooks.appTerminate)
      await h({ hookData: this.appLevelOnlyHookData, appHookData: this.appHookData });
  }

  get(id: string): RegisteredFunction {
    const f = this.functions.get(id);
    if (!f) throw new Error(`function "${id}" is not registered`);
    return f;
  }

  /** Functions whose trigger has this binding type (e.g. "httpTrigger"). */
  byTrigger(type: string): RegisteredFunction[] {
    return [...this.functions.values()].filter((f) => f.trigger.type.toLowerCase() === type.toLowerCase());
  }

  /**
   * Invoke a function as the worker's InvocationHandler does (hooks included), with the host's
   * part around it: input bindings before, output bindings after, and one execution record.
   */
  async invoke(id: string, req: InvocationRequest): Promise<InvocationResponse> {
    const fn = this.get(id);
    const invocationId = req.invocationId ?? randomUUID();
    const started = performance.now();
    const inv: Invocation = { fn, invocationId, request: req, startedAt: new Date(), state: new Map() };
    try {
      const res = await this.run(inv);
      this.onExecuted({ fn, invocationId, durationMs: performance.now() - started });
      return res;
    } catch (error) {
      this.onExecuted({ fn, invocationId, durationMs: performance.now() - started, error });
      throw error;
    }
  }

  /** The callback to invoke: the hooks' choice, wrapped in the callback observer when there is one. */
  private observed(inv: Invocation, pre: Record<string, unknown>): unknown {
    const callback = pre.functionCallback as (...args: unknown[]) => unknown;
    const observe = this.callbackObserver;
    if (!observe || typeof callback !== 'function') return callback;
    return (...args: unknown[]) => {
      const done = observe(inv.invocationId, inv.fn.name);
      try {
        return callback(...args);
      } finally {
        done();
      }
    };
  }

  private async run(inv: Invocation): Promise<InvocationResponse> {
    const { fn, invocationId, request: req } = inv;
    const pm = this.programmingModel;
    if (!pm) throw new Error('no programming model was registered: did the app import @azure/functions?');
    let inputData = req.inputData ?? [];
    for (const p of this.inputProviders) {
      const extra = await p(inv);
      if (extra.length) inputData = [...inputData, ...extra];
    }
    const coreCtx = {
      invocationId,
      request: {
        invocationId,
        functionId: fn.id,
        inputData,
        triggerMetadata: req.triggerMetadata ?? {},
        retryContext: req.retryContext,
      },
      metadata: { name: fn.name, functionId: fn.id, bindings: fn.metadata.bindings },
      state: undefined as string | undefined,
      log: (level: string, category: string, message: string) => this.logSink(level, category, fn.name, message),
    };
    const model = pm.getInvocationModel(coreCtx);
    const args = await model.getArguments();
    const hookData: Record<string, unknown> = {};
    const pre: Record<string, unknown> = {
      hookData,
      appHookData: this.appHookData,
      invocationContext: args.context,
      inputs: args.inputs,
      functionCallback: fn.callback,
    };
    if (this.hooks.preInvocation.length) {
      coreCtx.state = 'preInvocationHooks';
      for (const h of this.hooks.preInvocation) await h(pre);
    }
    coreCtx.state = 'invocation';
    const post: Record<string, unknown> = {
      hookData,
      appHookData: this.appHookData,
      invocationContext: args.context,
      inputs: pre.inputs,
      result: null,
      error: null,
    };
    try {
      post.result = await model.invokeFunction(args.context, pre.inputs as unknown[], this.observed(inv, pre));
    } catch (err) {
      post.error = err;
    }
    if (this.hooks.postInvocation.length) {
      coreCtx.state = 'postInvocationHooks';
      for (const h of this.hooks.postInvocation) await h(post);
    }
    coreCtx.state = undefined;
    if (post.error) throw post.error;
    const res = await model.getResponse(args.context, post.result);
    for (const h of this.outputHandlers) await h(inv, res);
    return res;
  }
}

/** An entry point file threw while loading: the worker's message, the app's error as the cause. */
export class EntryPointLoadError extends Error {
  override readonly name = 'EntryPointLoadError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(
      `Worker was unable to load entry point "${file}": ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** RPC typed data -> JS value (host side). */
export function fromTyped(d: RpcTypedData | undefined | null): unknown {
  if (!d) return undefined;
  if (d.json != null) return JSON.parse(d.json);
  if (d.string != null) return d.string;
  if (d.int != null) return Number(d.int);
  if (d.double != null) return d.double;
  if (d.bytes) return Buffer.from(d.bytes);
  if (d.http) return d.http;
  return undefined;
}

/** The process's one core (the library caches the module it gets, so there can be only one). */
export const functionsCore = new FunctionsCore();
