/**
 * One execution of an orchestration instance and the rule that keeps the engine's task ids in
 * step with the SDK's. No I/O here: the engine feeds in the SDK's answer and gets back the
 * history events to append and the work to dispatch.
 *
 * Task ids. The SDK numbers tasks 0, 1, 2, ... as its code yields them, and matches every
 * completion by that number. It also takes ids for which it emits no action: a `*WithRetry` task
 * that fails waits on a retry timer (one id), and when that timer fires it waits on the next
 * attempt (one more id). The host must create those events with exactly those ids, as
 * DurableTask.Core's RetryInterceptor does.
 *
 * Within one episode the SDK processes the new events in history order, and ids are consumed
 * in that order: by retry steps at the event that triggers them, and by new actions when the
 * code resumes. A retry step never resumes user code (the retry task stays pending), so if the
 * engine puts every retry-step event first in the batch, the ids are: one per retry step in
 * order, then one per new id-taking action in order. That is what lets several completions share
 * one episode with a plain counter, instead of one event per episode.
 */
import {
  Action,
  ActionType,
  EventType,
  FailureDetails,
  HistoryEvent,
  OrchestratorState,
  RetryPolicy,
  actionInput,
  consumesTaskId,
  flattenActions,
  toJsonText,
  HTTP_ACTIVITY,
  type RetryMark,
  type SdkAnswer,
} from './protocol';

export type { RetryMark, SdkAnswer } from './protocol';
import type { HistoryRecord } from './store';

export type Work =
  | { kind: 'activity'; taskId: number; name: string; input: string }
  | { kind: 'timer'; timerId: number; fireAt: string }
  | { kind: 'subOrchestration'; taskId: number; name: string; instanceId: string; input: string; version?: string };

export type Outcome =
  | { kind: 'running' }
  | { kind: 'completed'; output: string }
  | { kind: 'failed'; output: string; details: FailureDetails }
  | { kind: 'continuedAsNew'; input: string };

export interface EpisodePlan {
  /** Events after the new ones: retry steps, scheduled work, OrchestratorCompleted, maybe ExecutionCompleted. */
  records: HistoryRecord[];
  work: Work[];
  outcome: Outcome;
  customStatus: string | null;
  nextTaskId: number;
  actionCount: number;
}

/** Delay before the next attempt after attempt `failedAttempt` (1-based) failed, as RetryInterceptor computes it. */
export function retryDelayMs(p: RetryPolicy, failedAttempt: number): number {
  const d = p.firstRetryIntervalInMilliseconds * Math.pow(p.backoffCoefficient ?? 1, failedAttempt - 1);
  return p.maxRetryIntervalInMilliseconds && p.maxRetryIntervalInMilliseconds > 0
    ? Math.min(d, p.maxRetryIntervalInMilliseconds)
    : d;
}

/** Which scheduled thing a completion event completes: "t<id>" task, "s<id>" sub-orchestration, "c<id>" timer. */
function completionKey(e: HistoryEvent): string | undefined {
  switch (e.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
      return `t${e.TaskScheduledId}`;
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return `s${e.TaskScheduledId}`;
    case EventType.TimerFired:
      return `c${e.TimerId}`;
    default:
      return undefined;
  }
}

const UNSUPPORTED: Partial<Record<ActionType, string>> = {
  [ActionType.CallEntity]: 'context.df.callEntity',
  [ActionType.SignalEntity]: 'context.df.signalEntity',
  [ActionType.LockEntities]: 'context.df.lock',
  [ActionType.ReleaseEntities]: 'context.df.lock',
};

export class Execution {
  /** Retry marks by task/timer id, for every retry event in this execution. */
  private readonly retries = new Map<number, RetryMark>();
  /** completionKey of every completion in history. */
  private readonly completed = new Set<string>();

  constructor(
    readonly instanceId: string,
    readonly executionId: string,
    readonly name: string,
    readonly history: HistoryRecord[],
    public nextTaskId: number,
    public actionCount: number,
  ) {
    for (const r of history) this.index(r);
  }

  get started(): boolean {
    return this.history.length > 0;
  }

  private index(r: HistoryRecord): void {
    if (r.meta?.retry) this.retries.set(r.event.EventId, r.meta.retry);
    const key = completionKey(r.event);
    if (key !== undefined) this.completed.add(key);
  }

  /** Append committed records (after the store accepted them). */
  commit(records: HistoryRecord[], nextTaskId: number, actionCount: number): void {
    for (const r of records) {
      this.history.push(r);
      this.index(r);
    }
    this.nextTaskId = nextTaskId;
    this.actionCount = actionCount;
  }

  /**
   * A completion for a task that already has one (an activity re-run after a restart while the
   * first run was still going, say): DurableTask drops these, and so does the engine.
   */
  isDuplicate(ev: HistoryEvent, alsoSeen?: Set<string>): boolean {
    const key = completionKey(ev);
    if (key === undefined) return false;
    if (this.completed.has(key) || alsoSeen?.has(key)) return true;
    alsoSeen?.add(key);
    return false;
  }

  /** The retry step an incoming event triggers, if any (it takes one task id). */
  private retryStep(ev: HistoryEvent): RetryMark | undefined {
    if (
      (ev.EventType === EventType.TaskFailed || ev.EventType === EventType.SubOrchestrationInstanceFailed) &&
      ev.TaskScheduledId !== undefined
    ) {
      const m = this.retries.get(ev.TaskScheduledId);
      return m?.role === 'attempt' ? m : undefined;
    }
    if (ev.EventType === EventType.TimerFired && ev.TimerId !== undefined) {
      const m = this.retries.get(ev.TimerId);
      // After the last attempt's timer the SDK fails the task itself: no id, no new attempt.
      return m?.role === 'timer' && m.attempt < m.policy.maxNumberOfAttempts ? m : undefined;
    }
    return undefined;
  }

  /** New events in the order the episode feeds them: ExecutionStarted first, then retry steps, then the rest. */
  orderNewEvents(events: HistoryRecord[]): HistoryRecord[] {
    const start = events.filter((r) => r.event.EventType === EventType.ExecutionStarted);
    const rest = events.filter((r) => r.event.EventType !== EventType.ExecutionStarted);
    return [...start, ...rest.filter((r) => this.retryStep(r.event)), ...rest.filter((r) => !this.retryStep(r.event))];
  }

  /** Outstanding work of this execution (after a restart): scheduled and never completed. */
  outstandingWork(): Work[] {
    const done = this.completed;
    const work: Work[] = [];
    for (const { event: e } of this.history) {
      if (e.EventType === EventType.TaskScheduled && !done.has(`t${e.EventId}`)) {
        work.push({ kind: 'activity', taskId: e.EventId, name: e.Name ?? '', input: e.Input ?? 'null' });
      } else if (e.EventType === EventType.TimerCreated && !done.has(`c${e.EventId}`)) {
        work.push({ kind: 'timer', timerId: e.EventId, fireAt: e.FireAt ?? new Date(0).toISOString() });
      } else if (e.EventType === EventType.SubOrchestrationInstanceCreated && !done.has(`s${e.EventId}`)) {
        const w: Work = {
          kind: 'subOrchestration',
          taskId: e.EventId,
          name: e.Name ?? '',
          instanceId: e.InstanceId ?? '',
          input: e.Input ?? 'null',
        };
        if (e.Version) w.version = e.Version;
        work.push(w);
      }
    }
    return work;
  }

  /**
   * Turn the SDK's answer for history + `ordered` into the events to append and the work to do.
   * `ordered` must come from orderNewEvents; `now` is the episode's OrchestratorStarted time.
   */
  plan(ordered: HistoryRecord[], answer: SdkAnswer, now: Date): EpisodePlan {
    const ts = now.toISOString();
    const records: HistoryRecord[] = [];
    const work: Work[] = [];
    let nextId = this.nextTaskId;
    const state = answer.state;
    const customStatus = state?.customStatus === undefined ? null : toJsonText(state.customStatus);

    // 1. Retry steps, in the order the SDK met them.
    for (const { event } of ordered) {
      const m = this.retryStep(event);
      if (!m) continue;
      const id = nextId++;
      if (m.role === 'attempt') {
        const fireAt = new Date(now.getTime() + retryDelayMs(m.policy, m.attempt)).toISOString();
        records.push({
          event: { EventType: EventType.TimerCreated, EventId: id, FireAt: fireAt, Timestamp: ts },
          meta: { retry: { ...m, role: 'timer' } },
        });
        work.push({ kind: 'timer', timerId: id, fireAt });
      } else {
        const retry: RetryMark = { ...m, role: 'attempt', attempt: m.attempt + 1 };
        records.push({
          event: this.scheduleEvent(m.kind, id, m.name, m.input, m.instanceId, m.version, ts, work),
          meta: { retry },
        });
      }
    }

    // 2. New actions (the SDK's list is cumulative since the start of the execution).
    const flat = flattenActions(state?.actions ?? []);
    const tail = flat.slice(this.actionCount);
    let unsupported: string | undefined;
    let continueAsNew: Action | undefined;
    for (const a of tail) {
      const id = consumesTaskId(a) ? nextId++ : -1;
      switch (a.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry: {
          const input = toJsonText(actionInput(a));
          const rec: HistoryRecord = {
            event: this.scheduleEvent('activity', id, a.functionName ?? '', input, undefined, undefined, ts, work),
          };
          if (a.actionType === ActionType.CallActivityWithRetry && a.retryOptions) {
            rec.meta = {
              retry: {
                role: 'attempt',
                kind: 'activity',
                name: a.functionName ?? '',
                input,
                policy: a.retryOptions,
                attempt: 1,
              },
            };
          }
          records.push(rec);
          break;
        }
        case ActionType.CallSubOrchestrator:
        case ActionType.CallSubOrchestratorWithRetry: {
          const input = toJsonText(actionInput(a));
          const rec: HistoryRecord = {
            event: this.scheduleEvent(
              'subOrchestration',
              id,
              a.functionName ?? '',
              input,
              a.instanceId,
              a.version,
              ts,
              work,
            ),
          };
          if (a.actionType === ActionType.CallSubOrchestratorWithRetry && a.retryOptions) {
            const retry: RetryMark = {
              role: 'attempt',
              kind: 'subOrchestration',
              name: a.functionName ?? '',
              input,
              policy: a.retryOptions,
              attempt: 1,
            };
            if (a.instanceId) retry.instanceId = a.instanceId;
            if (a.version) retry.version = a.version;
            rec.meta = { retry };
          }
          records.push(rec);
          break;
        }
        case ActionType.CallHttp:
          // The extension runs the durable HTTP action as a built-in activity; so does the engine.
          records.push({
            event: this.scheduleEvent(
              'activity',
              id,
              HTTP_ACTIVITY,
              toJsonText(a.httpRequest ?? null),
              undefined,
              undefined,
              ts,
              work,
            ),
          });
          break;
        case ActionType.CreateTimer: {
          const fireAt = new Date(a.fireAt ?? ts).toISOString();
          records.push({ event: { EventType: EventType.TimerCreated, EventId: id, FireAt: fireAt, Timestamp: ts } });
          if (!a.isCanceled) work.push({ kind: 'timer', timerId: id, fireAt });
          break;
        }
        case ActionType.WaitForExternalEvent:
          break; // EventRaised{Name} is appended when someone raises it
        case ActionType.ContinueAsNew:
          continueAsNew = a;
          break;
        default:
          unsupported ??= UNSUPPORTED[a.actionType] ?? `action type ${a.actionType}`;
      }
    }

    // 3. How the execution stands.
    let outcome: Outcome;
    if (!answer.ok) {
      outcome = this.failure(answer.error, state?.failureDetails);
    } else if (unsupported) {
      outcome = this.failure(
        `${unsupported} is not supported by Strata's local Durable engine (Durable entities are not implemented); call an activity instead`,
      );
    } else if (state?.isDone && continueAsNew) {
      outcome = { kind: 'continuedAsNew', input: toJsonText(actionInput(continueAsNew)) };
    } else if (state?.isDone) {
      outcome = { kind: 'completed', output: toJsonText(state.output) };
    } else {
      outcome = { kind: 'running' };
    }

    records.push({ event: { EventType: EventType.OrchestratorCompleted, EventId: -1, Timestamp: ts } });
    if (outcome.kind === 'completed') {
      records.push({
        event: {
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          OrchestrationStatus: 'Completed',
          Result: outcome.output,
          Timestamp: ts,
        },
      });
    } else if (outcome.kind === 'failed') {
      records.push({
        event: {
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          OrchestrationStatus: 'Failed',
          Result: outcome.output,
          FailureDetails: outcome.details,
          Timestamp: ts,
        },
      });
    }
    return {
      records,
      work: outcome.kind === 'running' ? work : [],
      outcome,
      customStatus,
      nextTaskId: nextId,
      actionCount: flat.length,
    };
  }

  private failure(message: string, inner?: FailureDetails): Outcome {
    const output = `Orchestrator function '${this.name}' failed: ${message}`;
    const details: FailureDetails = { ErrorType: 'OrchestrationFailure', ErrorMessage: output };
    if (inner) details.InnerFailure = inner;
    return { kind: 'failed', output: toJsonText(output), details };
  }

  /** TaskScheduled or SubOrchestrationInstanceCreated for task `id`, and its work item. */
  private scheduleEvent(
    kind: RetryMark['kind'],
    id: number,
    name: string,
    input: string,
    instanceId: string | undefined,
    version: string | undefined,
    ts: string,
    work: Work[],
  ): HistoryEvent {
    if (kind === 'activity') {
      work.push({ kind: 'activity', taskId: id, name, input });
      return { EventType: EventType.TaskScheduled, EventId: id, Name: name, Input: input, Timestamp: ts };
    }
    // DurableTask.Core names an unnamed sub-orchestration "<executionId>:<taskId>".
    const childId = instanceId ?? `${this.executionId}:${id}`;
    const w: Work = { kind: 'subOrchestration', taskId: id, name, instanceId: childId, input };
    if (version) w.version = version;
    work.push(w);
    const ev: HistoryEvent = {
      EventType: EventType.SubOrchestrationInstanceCreated,
      EventId: id,
      Name: name,
      InstanceId: childId,
      Input: input,
      Timestamp: ts,
    };
    if (version) ev.Version = version;
    return ev;
  }
}
