/**
 * An activity's name together with its input and output types, declared once and used by both
 * ends: the orchestrator calls it (`callActivity`) and the activity module registers it
 * (`registerActivity`), so the name is never written twice and a change of either type breaks
 * the build at both. (The Durable SDK types activity input and output as `unknown`.)
 *
 *   export const BACKFILL_PLAN = activity<{ request; jobId }, BackfillPlan>('backfill-plan')
 *   const plan: OutputOf<typeof BACKFILL_PLAN> = yield callActivity(ctx, BACKFILL_PLAN, input, retry)
 *   registerActivity(BACKFILL_PLAN, async function backfillPlan(input) { ... })
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';

export interface Activity<I, O> {
  readonly name: string;
  /** Type-level only: what the activity takes and returns. */
  readonly __types?: { input: I; output: O };
}

export type InputOf<A> = A extends Activity<infer I, unknown> ? I : never;
export type OutputOf<A> = A extends Activity<unknown, infer O> ? O : never;

export function activity<I, O>(name: string): Activity<I, O> {
  return Object.freeze({ name });
}

/** Schedule the activity (with retries when `retry` is given); yield the task to get its OutputOf. */
export function callActivity<I, O>(
  ctx: OrchestrationContext,
  a: Activity<I, O>,
  input: I,
  retry?: df.RetryOptions,
): Task {
  return retry ? ctx.df.callActivityWithRetry(a.name, retry, input) : ctx.df.callActivity(a.name, input);
}

/** Register the activity's handler under its name. */
export function registerActivity<I, O>(a: Activity<I, O>, handler: (input: I) => Promise<O>): void {
  df.app.activity(a.name, { handler: (input: unknown) => handler(input as I) });
}
