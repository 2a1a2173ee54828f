/**
 * The app's orchestrators and activities, called the way the Durable extension calls them over
 * the worker protocol: the orchestrator gets its history as trigger data and answers with
 * OrchestratorState; an activity gets its input and answers with its result or throws.
 */
import type { FunctionsCore, InvocationRequest, InvocationResponse, RegisteredFunction } from '../functions-core';
import { fromTyped } from '../functions-core';
import { HTTP_ACTIVITY, type SdkAnswer } from './protocol';

export { HTTP_ACTIVITY } from './protocol';
import { callDurableHttp, DurableHttpOptions, DurableHttpRequest } from './http-activity';
import { stackWithCauses } from '../execution-log';
import { EventType, FailureDetails, HistoryEvent, OrchestratorState, toJsonText } from './protocol';
import type { CodeWatch } from '../watchdog/watchdog';
import type { RunningCode } from '../watchdog/record';
import { randomUUID } from 'node:crypto';

/** Replay schema V2: compound actions stay a tree, no long-timer splitting, no SDK-side HTTP polling. */
const UPPER_SCHEMA_VERSION = 1;
const FAILURE_MARKER = '$OutOfProcData$:';

export interface OrchestratorCall {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  executionId?: string;
  parentInstanceId?: string;
}

/** Where an activity runs: its orchestration's execution and its task id (for the watchdog's record). */
export interface ActivityPlace {
  instanceId: string;
  executionId?: string;
  taskId?: number;
}

/**
 * How an activity failed, in the terms of the TaskFailed event the extension writes: its Reason
 * (`Activity function 'x' failed: <message>`) and Details (the error's stack and causes), and
 * FailureDetails only when the SDK serialized them for an exception properties provider. Without
 * FailureDetails the SDK shows the orchestrator `${Reason} \n ${Details}`, as with the extension.
 */
export interface ActivityFailure {
  message: string;
  details: string;
  failureDetails?: FailureDetails;
}

export type ActivityOutcome = { ok: true; result: string } | { ok: false; failure: ActivityFailure };

export class AppFunctions {
  private orchestrators?: Map<string, RegisteredFunction>;
  private activities?: Map<string, RegisteredFunction>;

  /**
   * `activityTimeoutMs`: host.json functionTimeout; an activity running longer fails its task.
   * `watch`: the host watchdog, told which Durable code runs (local/watchdog).
   */
  constructor(
    private readonly core: FunctionsCore,
    private readonly http: () => DurableHttpOptions,
    private readonly activityTimeoutMs?: number,
    private readonly watch?: CodeWatch,
  ) {}

  /** Invoke with the watchdog told what runs, from start to finish. */
  private async invokeWatched(
    fn: RegisteredFunction,
    code: RunningCode,
    req: Omit<InvocationRequest, 'invocationId'>,
  ): Promise<InvocationResponse> {
    if (!this.watch) return this.core.invoke(fn.id, req);
    const invocationId = randomUUID();
    const end = this.watch.begin(invocationId, code);
    try {
      return await this.core.invoke(fn.id, { ...req, invocationId });
    } finally {
      end();
    }
  }

  private index(type: string): Map<string, RegisteredFunction> {
    // The extension matches durable function names case-insensitively.
    return new Map(this.core.byTrigger(type).map((f) => [f.name.toLowerCase(), f]));
  }

  orchestrator(name: string): RegisteredFunction | undefined {
    this.orchestrators ??= this.index('orchestrationTrigger');
    return this.orchestrators.get(name.toLowerCase());
  }

  activity(name: string): RegisteredFunction | undefined {
    this.activities ??= this.index('activityTrigger');
    return this.activities.get(name.toLowerCase());
  }

  /** One orchestrator episode: replay `history` through the SDK's own handler. */
  async runOrchestrator(fn: RegisteredFunction, call: OrchestratorCall): Promise<SdkAnswer> {
    let lastStart = -1;
    call.history.forEach((e, i) => {
      if (e.EventType === EventType.OrchestratorStarted) lastStart = i;
    });
    const binding = {
      history: call.history,
      input: call.input,
      instanceId: call.instanceId,
      isReplaying: lastStart > 0,
      parentInstanceId: call.parentInstanceId ?? null,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    try {
      // A JSON copy each time: the SDK turns Timestamps into Dates in place.
      const code: RunningCode = { kind: 'orchestrator', name: fn.name, instanceId: call.instanceId };
      if (call.executionId) code.executionId = call.executionId;
      const res = await this.invokeWatched(fn, code, {
        inputData: [{ name: fn.triggerKey, data: { string: JSON.stringify(binding) } }],
      });
      const state = fromTyped(res.returnValue) as OrchestratorState | undefined;
      if (!state || typeof state !== 'object' || !('isDone' in state)) {
        return {
          ok: false,
          error: `the orchestrator handler returned no OrchestratorState (got ${JSON.stringify(state)})`,
        };
      }
      return { ok: true, state };
    } catch (err) {
      // An unhandled orchestrator error: OrchestrationFailureError carries the state after a marker.
      const message = err instanceof Error ? err.message : String(err);
      const at = message.indexOf(FAILURE_MARKER);
      if (at >= 0) {
        try {
          const state = JSON.parse(message.slice(at + FAILURE_MARKER.length)) as OrchestratorState;
          return { ok: false, error: state.error ?? message.slice(0, at).trim(), state };
        } catch {
          /* fall through with the plain message */
        }
      }
      return { ok: false, error: message };
    }
  }

  /**
   * Run an activity with its input (JSON text); the result comes back as JSON text. As the
   * extension's activity trigger, its binding data holds `instanceId` (sent as trigger metadata)
   * and the input as `data`; an object input's properties are bindable too (`backups/{backupPath}`).
   */
  async runActivity(name: string, input: string, place: ActivityPlace): Promise<ActivityOutcome> {
    const instanceId = place.instanceId;
    if (name === HTTP_ACTIVITY) {
      try {
        return {
          ok: true,
          result: JSON.stringify(await callDurableHttp(JSON.parse(input) as DurableHttpRequest, this.http())),
        };
      } catch (err) {
        return { ok: false, failure: activityFailure(err) };
      }
    }
    const fn = this.activity(name);
    if (!fn) {
      const message = `The function '${name}' doesn't exist, is disabled, or is not an activity function. Register it with df.app.activity('${name}', ...).`;
      return { ok: false, failure: { message, details: '' } };
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const run = this.invokeWatched(
        fn,
        { kind: 'activity', name: fn.name, ...place },
        {
          inputData: [{ name: fn.triggerKey, data: { string: input } }],
          // The extension's binding data also has `data` (the input again); bindingDataFor adds it
          // host-side, so a large input is not parsed twice by the library.
          triggerMetadata: { instanceId: { string: instanceId } },
        },
      );
      const limit = this.activityTimeoutMs;
      // As on Azure, the task fails at the timeout; the code itself cannot be stopped and may still finish (its result is dropped).
      const res =
        limit === undefined
          ? await run
          : await Promise.race([
              run,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new FunctionTimeoutError(name, limit)), limit);
              }),
            ]);
      return { ok: true, result: toJsonText(fromTyped(res.returnValue)) };
    } catch (err) {
      return { ok: false, failure: activityFailure(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Azure's words for a function that ran past host.json functionTimeout. */
export class FunctionTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`Timeout value of ${formatTimeSpan(ms)} was exceeded by function: Functions.${name}`);
    this.name = 'FunctionTimeoutException';
  }
}

/** hh:mm:ss as host.json writes TimeSpans. */
function formatTimeSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** An activity error as the TaskFailed event carries it. */
export function activityFailure(err: unknown): ActivityFailure {
  const e = err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
  if (e.message.startsWith('{')) {
    try {
      const p = JSON.parse(e.message) as {
        errorType?: unknown;
        errorMessage?: unknown;
        stackTrace?: unknown;
        isNonRetriable?: unknown;
        properties?: unknown;
      };
      if (typeof p.errorType === 'string' && typeof p.errorMessage === 'string') {
        const d: FailureDetails = {
          ErrorType: p.errorType,
          ErrorMessage: p.errorMessage,
          IsNonRetriable: p.isNonRetriable === true,
        };
        const stack = typeof p.stackTrace === 'string' ? p.stackTrace : e.stack;
        if (stack) d.StackTrace = stack;
        if (p.properties && typeof p.properties === 'object') d.Properties = p.properties as Record<string, unknown>;
        return { message: p.errorMessage, details: stack ?? '', failureDetails: d };
      }
    } catch {
      /* an ordinary message that happens to start with "{" */
    }
  }
  return { message: e.message, details: stackWithCauses(e) };
}
