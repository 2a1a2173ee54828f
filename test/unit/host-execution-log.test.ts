/**
 * Failures are logged as the Functions host logs them: function name, invocation id, the error
 * with every line of its message and its whole cause chain, in one entry; orchestrator failures
 * with the SDK's error text and failure details instead of its raw state JSON.
 */
import { describe, expect, it } from 'vitest';
import { executedLine, failureEntry, stackWithCauses } from '../../local/execution-log';
import type { RegisteredFunction } from '../../local/functions-core';

const fn = { name: 'raise_complex_exception' } as RegisteredFunction;
class InvalidOperationException extends Error {}
class OverflowException extends Error {}

describe('execution log', () => {
  it('a success is one "Executed ... (Succeeded, Id=..., Duration=...ms)" line', () => {
    expect(executedLine({ fn, invocationId: 'abc', durationMs: 12.4 })).toBe(
      "Executed 'Functions.raise_complex_exception' (Succeeded, Id=abc, Duration=12ms)",
    );
  });

  it('a failure names the function and invocation, the types and messages of the error and its causes', () => {
    const error = new InvalidOperationException('This activity failed\nMore information about the failure', {
      cause: new OverflowException('Inner exception message'),
    });
    const entry = failureEntry({ fn, invocationId: 'inv-1', durationMs: 3, error });
    const lines = entry.split('\n');
    expect(lines[0]).toBe("Executed 'Functions.raise_complex_exception' (Failed, Id=inv-1, Duration=3ms)");
    expect(lines[1]).toBe('Result: Failure');
    expect(lines[2]).toBe('Exception: InvalidOperationException: This activity failed');
    expect(lines[3]).toBe('More information about the failure');
    expect(lines[4]).toMatch(/^Stack: at /);
    expect(entry).toContain('\nCaused by: OverflowException: Inner exception message\n    at ');
  });

  it("an orchestrator failure shows the SDK's error and failure details, not the state JSON", () => {
    const state = {
      isDone: false,
      actions: [],
      error: 'TaskFailedError: boom',
      failureDetails: { ErrorType: 'TypeError', ErrorMessage: 'boom' },
    };
    const entry = failureEntry({
      fn,
      invocationId: 'o-1',
      durationMs: 1,
      error: new Error(`false\n\n$OutOfProcData$:${JSON.stringify(state)}`),
    });
    expect(entry).toContain('Exception: TaskFailedError: boom');
    expect(entry).toContain('Failure details: {"ErrorType":"TypeError","ErrorMessage":"boom"}');
    expect(entry).not.toContain('$OutOfProcData$');
  });

  it('non-Error throws and AggregateErrors are described too', () => {
    expect(failureEntry({ fn, invocationId: 'x', durationMs: 0, error: 'just a string' })).toContain(
      'Exception: just a string',
    );
    const agg = failureEntry({
      fn,
      invocationId: 'x',
      durationMs: 0,
      error: new AggregateError([new RangeError('one'), new TypeError('two')], 'several'),
    });
    expect(agg).toContain('Exception: AggregateError: several');
    expect(agg).toContain('Inner error 1: RangeError: one');
    expect(agg).toContain('Inner error 2: TypeError: two');
  });

  it('stackWithCauses keeps the whole chain in one text (activity failure details)', () => {
    const text = stackWithCauses(new TypeError('outer', { cause: new Error('inner', { cause: 'a reason' }) }));
    expect(text).toMatch(/^TypeError: outer\n {4}at /);
    expect(text).toContain('\nCaused by: Error: inner\n    at ');
  });
});
