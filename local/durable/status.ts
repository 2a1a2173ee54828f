/**
 * What the Durable HTTP API shows of an instance: the status payload (the extension's
 * StatusResponsePayload) and, on request, its history in the extension's readable form.
 */
import { EVENT_NAMES, EventType, HistoryEvent, RuntimeStatus, parseJsonText } from './protocol';
import type { HistoryRecord, InstanceRecord } from './store';

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Array<Record<string, unknown>>;
}

/** The extension prints times with whole seconds ("s" format + "Z"). */
export function apiTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function statusOf(row: InstanceRecord, showInput: boolean): InstanceStatus {
  return {
    name: row.name,
    instanceId: row.instanceId,
    runtimeStatus: row.runtimeStatus,
    input: showInput ? parseJsonText(row.input) : null,
    customStatus: parseJsonText(row.customStatus),
    output: parseJsonText(row.output),
    createdTime: apiTime(row.createdTime),
    lastUpdatedTime: apiTime(row.lastUpdatedTime),
  };
}

/**
 * History as the extension shows it: no OrchestratorStarted/Completed bookkeeping, each completion
 * carries the name and scheduled time of what it completes, results only with showHistoryOutput.
 */
export function historyView(records: HistoryRecord[], showOutput: boolean): Array<Record<string, unknown>> {
  const scheduled = new Map<string, HistoryEvent>();
  for (const { event: e } of records) {
    if (e.EventType === EventType.TaskScheduled) scheduled.set(`t${e.EventId}`, e);
    if (e.EventType === EventType.SubOrchestrationInstanceCreated) scheduled.set(`s${e.EventId}`, e);
    if (e.EventType === EventType.TimerCreated) scheduled.set(`c${e.EventId}`, e);
  }
  const completes = (e: HistoryEvent): string | undefined => {
    if (e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) return `t${e.TaskScheduledId}`;
    if (
      e.EventType === EventType.SubOrchestrationInstanceCompleted ||
      e.EventType === EventType.SubOrchestrationInstanceFailed
    )
      return `s${e.TaskScheduledId}`;
    if (e.EventType === EventType.TimerFired) return `c${e.TimerId}`;
    return undefined;
  };
  const done = new Set(records.map((r) => completes(r.event)).filter(Boolean));
  const out: Array<Record<string, unknown>> = [];
  for (const { event: e } of records) {
    if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
    // A scheduled task shows once: as its completion, or on its own while it is still running.
    if (e.EventType === EventType.TaskScheduled && done.has(`t${e.EventId}`)) continue;
    if (e.EventType === EventType.SubOrchestrationInstanceCreated && done.has(`s${e.EventId}`)) continue;
    const v: Record<string, unknown> = {
      EventType: EVENT_NAMES[e.EventType] ?? e.EventType,
      EventId: e.EventId,
      Timestamp: e.Timestamp,
    };
    const key = completes(e);
    const origin = key ? scheduled.get(key) : undefined;
    if (origin && e.EventType !== EventType.TimerFired) {
      v.FunctionName = origin.Name;
      v.ScheduledTime = origin.Timestamp;
      if (origin.InstanceId) v.InstanceId = origin.InstanceId;
    }
    if (e.EventType === EventType.ExecutionStarted) v.FunctionName = e.Name;
    if (e.Name !== undefined && v.FunctionName === undefined) v.Name = e.Name;
    if (e.TaskScheduledId !== undefined) v.TaskScheduledId = e.TaskScheduledId;
    if (e.TimerId !== undefined) v.TimerId = e.TimerId;
    if (e.FireAt !== undefined) v.FireAt = e.FireAt;
    if (e.InstanceId !== undefined && v.InstanceId === undefined) v.InstanceId = e.InstanceId;
    if (e.OrchestrationStatus !== undefined) v.OrchestrationStatus = e.OrchestrationStatus;
    if (e.FailureDetails)
      v.FailureDetails = { ErrorType: e.FailureDetails.ErrorType, ErrorMessage: e.FailureDetails.ErrorMessage };
    if (e.Reason !== undefined) v.Reason = e.Reason;
    const inputBearing =
      e.EventType === EventType.ExecutionStarted ||
      e.EventType === EventType.EventRaised ||
      e.EventType === EventType.TaskScheduled ||
      e.EventType === EventType.SubOrchestrationInstanceCreated ||
      e.EventType === EventType.ExecutionTerminated;
    if (e.Input !== undefined && inputBearing) v.Input = parseJsonText(e.Input);
    if (showOutput && e.Result !== undefined) v.Result = parseJsonText(e.Result);
    out.push(v);
  }
  return out;
}
