/**
 * The out-of-process replay protocol of durable-functions 3.x, as the Durable extension
 * speaks it: history events the SDK reads and actions it returns. Names and numbers are
 * the wire format (see ../../../shared/design/durable-local.md).
 */

/** DurableTask.Core history event types (the numbers are on the wire). */
export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventRaised = 15,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
}

/** Failure details as the SDK turns them into a TaskFailedError (`${ErrorType}: ${ErrorMessage}`). */
export interface FailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
  InnerFailure?: FailureDetails;
}

/**
 * One history event. JSON-valued fields (Input, Result) are JSON *text*, as in DurableTask.
 * Optional fields are present only on the event types that use them.
 */
export interface HistoryEvent {
  EventType: EventType;
  /** The task id for TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated; -1 otherwise. */
  EventId: number;
  Timestamp: string;
  IsPlayed?: boolean;
  Name?: string;
  Input?: string;
  Result?: string;
  Version?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetails;
  OrchestrationStatus?: RuntimeStatus;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: {
    Name: string;
    TaskScheduleId: number;
    OrchestrationInstance: { InstanceId: string; ExecutionId: string };
  };
}

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'Suspended' | 'ContinuedAsNew';
export const RUNTIME_STATUSES: readonly RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'Failed',
  'Terminated',
  'Suspended',
  'ContinuedAsNew',
];

/** A finished instance: no episode runs again; only a new start with the same id replaces it. */
export function isTerminal(s: RuntimeStatus): boolean {
  return s === 'Completed' || s === 'Failed' || s === 'Terminated';
}

/** durable-functions ActionType numbers. */
export enum ActionType {
  CallActivity = 0,
  CallActivityWithRetry = 1,
  CallSubOrchestrator = 2,
  CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4,
  CreateTimer = 5,
  WaitForExternalEvent = 6,
  CallEntity = 7,
  CallHttp = 8,
  SignalEntity = 9,
  WhenAny = 11,
  WhenAll = 12,
  LockEntities = 13,
  ReleaseEntities = 14,
}

export interface RetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface Action {
  actionType: ActionType;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryPolicy;
  instanceId?: string;
  version?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: Action[];
  /** CallHttp: the DurableHttpRequest. */
  httpRequest?: unknown;
}

/** What the SDK's orchestrator handler returns (and embeds in OrchestrationFailureError). */
export interface OrchestratorState {
  isDone: boolean;
  actions: unknown[];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  failureDetails?: FailureDetails;
  schemaVersion?: number;
}

/** The SDK numbers a task for each of these, in the order they are first yielded. */
const ID_CONSUMING = new Set<ActionType>([
  ActionType.CallActivity,
  ActionType.CallActivityWithRetry,
  ActionType.CallSubOrchestrator,
  ActionType.CallSubOrchestratorWithRetry,
  ActionType.CreateTimer,
  ActionType.CallEntity,
  ActionType.CallHttp,
  ActionType.SignalEntity,
]);
export function consumesTaskId(a: Action): boolean {
  return ID_CONSUMING.has(a.actionType);
}

/**
 * The SDK's cumulative action list as a flat list of leaf actions in yield order
 * (replay schema V2 keeps Task.all / Task.any as WhenAll / WhenAny trees).
 */
export function flattenActions(actions: unknown[], out: Action[] = []): Action[] {
  for (const a of actions) {
    if (Array.isArray(a)) flattenActions(a, out);
    else if (a && typeof a === 'object') {
      const act = a as Action;
      if ((act.actionType === ActionType.WhenAll || act.actionType === ActionType.WhenAny) && act.compoundActions) {
        flattenActions(act.compoundActions, out);
      } else out.push(act);
    }
  }
  return out;
}

/** Activity and ContinueAsNew inputs arrive JSON-encoded when they were strings (Utils.processInput). */
export function actionInput(a: Action): unknown {
  if (a.actionType === ActionType.CallSubOrchestrator || a.actionType === ActionType.CallSubOrchestratorWithRetry)
    return a.input ?? null;
  if (typeof a.input === 'string') {
    try {
      return JSON.parse(a.input);
    } catch {
      return a.input;
    }
  }
  return a.input ?? null;
}

export function toJsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function parseJsonText(text: string | undefined | null): unknown {
  if (text === undefined || text === null || text === '') return null;
  return JSON.parse(text);
}

export const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EventType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

// -- beside the wire format: what the local engine keeps and hands around ----------------------

/** The name the extension schedules `context.df.callHttp` under (a built-in activity). */
export const HTTP_ACTIVITY = 'BuiltIn::HttpActivity';

/** Retry bookkeeping kept beside TaskScheduled / SubOrchestrationInstanceCreated / TimerCreated rows. */
export interface RetryMark {
  /** "attempt": this id is an attempt of the call; "timer": the wait after attempt `attempt` failed. */
  role: 'attempt' | 'timer';
  kind: 'activity' | 'subOrchestration';
  name: string;
  /** JSON text. */
  input: string;
  /** An explicit sub-orchestration instance id (reused by every attempt). */
  instanceId?: string;
  version?: string;
  policy: RetryPolicy;
  attempt: number;
}

/** What the SDK's handler answered: its state, or a failure (with the state embedded if it had one). */
export type SdkAnswer =
  { ok: true; state: OrchestratorState } | { ok: false; error: string; state?: OrchestratorState };
