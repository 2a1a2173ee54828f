/**
 * The host's log lines for finished invocations, worded as the Functions host words them so that
 * what users grep for in `func start` output is here too:
 *
 *   Executed 'Functions.<name>' (Failed, Id=<invocation id>, Duration=<n>ms)
 *   Result: Failure
 *   Exception: <type>: <message, every line of it>
 *   Stack: <frames>
 *   Caused by: <type>: <message>            (the whole `cause` chain, and AggregateError's errors)
 *
 * One log entry per failure, so a multi-line message and its inner errors stay together (the
 * Durable extension's E2E tests look for the outer and inner exception in one entry). A failed
 * orchestrator episode carries the SDK's OrchestratorState after a marker; its error text and
 * failure details (as the SDK sends them) replace the marker and JSON. Successful runs are
 * logged at debug level ("Succeeded").
 */
import type { ExecutionRecord } from './functions-core';

const OUT_OF_PROC_MARKER = '\n\n$OutOfProcData$:';
const MAX_CAUSES = 10;

export function executedLine(r: ExecutionRecord): string {
  return `Executed 'Functions.${r.fn.name}' (${r.error === undefined ? 'Succeeded' : 'Failed'}, Id=${r.invocationId}, Duration=${Math.round(r.durationMs)}ms)`;
}

/** The whole entry for a failed invocation. */
export function failureEntry(r: ExecutionRecord): string {
  return [executedLine(r), 'Result: Failure', ...describeError(r.error)].join('\n');
}

function typeName(e: Error): string {
  // A subclass that does not set `name` still says what it is through its constructor.
  const ctor = (e.constructor as { name?: string } | undefined)?.name;
  return e.name === 'Error' && ctor && ctor !== 'Error' ? ctor : e.name || 'Error';
}

/** Stack frames without the "Name: message" header V8 puts first. */
function frames(e: Error): string {
  const stack = typeof e.stack === 'string' ? e.stack : '';
  const lines = stack.split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  return first < 0 ? '' : lines.slice(first).join('\n');
}

/** An orchestrator's OrchestrationFailureError: its error text and failure details, without the state JSON. */
function orchestratorFailure(message: string): { message: string; details?: unknown } | undefined {
  const at = message.indexOf(OUT_OF_PROC_MARKER);
  if (at < 0) return undefined;
  try {
    const state = JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as {
      error?: string;
      failureDetails?: unknown;
    };
    return { message: state.error ?? message.slice(0, at), details: state.failureDetails };
  } catch {
    return { message: message.slice(0, at) };
  }
}

/** An activity error that the SDK serialized for an exception properties provider (JSON in the message). */
function serializedTaskFailure(
  message: string,
): { errorType: string; errorMessage: string; properties?: unknown } | undefined {
  if (!message.startsWith('{')) return undefined;
  try {
    const p = JSON.parse(message) as { errorType?: unknown; errorMessage?: unknown; properties?: unknown };
    return typeof p.errorType === 'string' && typeof p.errorMessage === 'string'
      ? { errorType: p.errorType, errorMessage: p.errorMessage, properties: p.properties }
      : undefined;
  } catch {
    return undefined;
  }
}

export function describeError(err: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth <= MAX_CAUSES && !seen.has(current); depth++) {
    seen.add(current);
    const label = depth === 0 ? 'Exception' : 'Caused by';
    if (!(current instanceof Error)) {
      out.push(`${label}: ${typeof current === 'string' ? current : JSON.stringify(current)}`);
      break;
    }
    const e = current;
    const orchestrator = orchestratorFailure(e.message);
    const task = orchestrator ? undefined : serializedTaskFailure(e.message);
    if (orchestrator) {
      out.push(`${label}: ${orchestrator.message}`);
      if (orchestrator.details !== undefined) out.push(`Failure details: ${JSON.stringify(orchestrator.details)}`);
    } else if (task) {
      out.push(`${label}: ${task.errorType}: ${task.errorMessage}`);
      if (task.properties !== undefined) out.push(`Properties: ${JSON.stringify(task.properties)}`);
    } else {
      out.push(`${label}: ${typeName(e)}: ${e.message}`);
    }
    const f = frames(e);
    if (f) out.push(depth === 0 ? `Stack: ${f.trimStart()}` : f);
    if (e instanceof AggregateError)
      e.errors.forEach((inner, i) =>
        out.push(
          ...describeError(inner).map((l, j) =>
            j === 0 ? `Inner error ${i + 1}: ${l.replace(/^Exception: /, '')}` : l,
          ),
        ),
      );
    current = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** An error's stack followed by each cause's ("Caused by: ..."), for texts that carry one error whole. */
export function stackWithCauses(err: Error): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth <= MAX_CAUSES && !seen.has(current); depth++) {
    seen.add(current);
    const head = `${typeName(current)}: ${current.message}`;
    const f = frames(current);
    parts.push(`${depth ? 'Caused by: ' : ''}${head}${f ? `\n${f}` : ''}`);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
